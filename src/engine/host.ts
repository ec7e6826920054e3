/**
 * Where tunnels run: an engine host. The engine (engine.ts) keeps the handles, the statistics and the
 * settling of every tunnel; a host carries the tunnels themselves, either in-process on the main thread
 * (main-host.ts, `threads: 0`) or on a Piscina pool of worker threads (pool-host.ts).
 */
import type { WireError } from '../errors.js';
import type { Handle } from './handle.js';
import type { MaskKind } from './mask-kernel.js';
import type { TunnelSpec, TunnelSummary } from './types.js';

/** What a host reports to the engine. */
export interface HostSink {
  /** The engine is shutting down (a worker lost now is not a death). */
  readonly closing: boolean;
  /** The handle of a tunnel not yet settled. */
  handle(id: number): Handle | undefined;
  /** Both legs are up. */
  up(h: Handle): void;
  /** The tunnel failed before both legs were up. */
  fail(h: Handle, err: WireError): void;
  /** The tunnel ended (or never started): the last word on it. */
  settle(h: Handle, summary: TunnelSummary): void;
  /** Live byte deltas of a tunnel still running. */
  addBytes(h: Handle, up: number, down: number): void;
}

export interface EngineHost {
  /** Tunnels the host carries at once; one more is refused (Infinity: no bound). */
  readonly capacity: number;
  readonly workersStarted: number;
  readonly workerDeaths: number;
  /** Starts the tunnel of `h` (already in the engine's handles). */
  open(h: Handle, spec: TunnelSpec): void;
  /** Closes one tunnel from our side. */
  close(h: Handle, reason?: string): void;
  /** Bytes the open tunnels moved that are not yet in their handles' counts. */
  unreportedBytes(): [up: number, down: number];
  /** The masking kernels the tunnels' threads reported (none on the main thread: it is the engine's own). */
  threadMasks(): Iterable<MaskKind>;
  /** Shutdown, first step: every tunnel (`open` are the engine's handles) closes within `graceMs`. */
  closeAll(reason: string, graceMs: number, open: Iterable<Handle>): void;
  /** Shutdown, the engine's grace is over: destroys what is left on this thread (workers did their own). */
  destroyAll(reason: string): void;
  /** Releases the host's threads. */
  dispose(): Promise<void>;
  /** Test hook: a worker dies of an uncaught exception; false if no such worker. */
  crashWorker(threadId: number): boolean;
}
