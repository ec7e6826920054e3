/** A tunnel's handle on the main thread: what engine.open() returns, and the engine's record of the tunnel. */
import { performance } from 'node:perf_hooks';
import { C8yTunnelError, type WireError } from '../errors.js';
import type { TunnelSummary } from './types.js';

/** The handle engine.open() returns. */
export interface TunnelHandle {
  readonly id: number;
  /** Resolves when both legs are up; rejects with a coded TunnelError (TUN_ERR_*) when either fails. */
  readonly established: Promise<void>;
  /** Resolves (never rejects) with the summary when the tunnel has ended. */
  readonly closed: Promise<TunnelSummary>;
  /** The worker thread carrying the tunnel, once known (0 = main thread). */
  readonly threadId: number | undefined;
  /** Closes both legs after a flush. */
  close(reason?: string): void;
}

/** Who closes a handle's tunnel (the engine). */
export interface HandleOwner {
  closeTunnel(h: Handle, reason?: string): void;
}

export const noop = (): void => {};

export class Handle implements TunnelHandle {
  readonly id: number;
  readonly established: Promise<void>;
  readonly closed: Promise<TunnelSummary>;
  threadId: number | undefined;
  up = 0;
  down = 0;
  label: string | undefined;
  settledUp = false;
  done = false;
  pendingClose: string | undefined | null = null;
  /** The pending close is the engine's shutdown. */
  pendingByEngine = false;
  /** performance.now() at engine.open(), for the `tunnel:up` message's setupMs. */
  readonly openedAt = performance.now();
  resolveUp!: () => void;
  rejectUp!: (e: C8yTunnelError) => void;
  resolveClosed!: (s: TunnelSummary) => void;
  private readonly owner: HandleOwner;

  constructor(owner: HandleOwner, id: number, label: string | undefined) {
    this.owner = owner;
    this.id = id;
    this.label = label;
    this.established = new Promise<void>((res, rej) => {
      this.resolveUp = res;
      this.rejectUp = rej;
    });
    this.closed = new Promise<TunnelSummary>((res) => {
      this.resolveClosed = res;
    });
  }

  close(reason?: string): void {
    this.owner.closeTunnel(this, reason);
  }

  markUp(): void {
    if (this.settledUp) return;
    this.settledUp = true;
    this.resolveUp();
    this.forgetUp();
  }

  /** `established` is settled: its two resolvers (and their context) are let go, for the tunnel's life. */
  private forgetUp(): void {
    this.resolveUp = noop;
    this.rejectUp = noop;
  }

  /** Rejects `established`; returns the error, or undefined when the handle had already settled it. */
  markFailed(err: WireError): C8yTunnelError | undefined {
    if (this.settledUp) return undefined;
    this.settledUp = true;
    const e = C8yTunnelError.fromWire(err);
    this.rejectUp(e);
    this.forgetUp();
    // Callers that only await `closed` must not see an unhandled rejection. Attached here, in the same turn
    // as the rejection, rather than up front: one promise less per tunnel that never fails.
    this.established.catch(noop);
    return e;
  }
}
