/**
 * The engine: opens tunnels on its host, a Piscina worker pool (pool-host.ts) or, with `threads: 0`, the
 * main thread (main-host.ts), and keeps their handles, events and statistics. It knows nothing of
 * Cumulocity beyond the URL and headers it is handed.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEFAULT_ENGINE_CLOSE_GRACE_MS, DEFAULT_STATS_INTERVAL_MS, DEFAULT_TUNNELS_PER_WORKER } from '../constants.js';
import { isErrorCode, TunnelError, toWireError, type WireError } from '../errors.js';
import { tunnelChannels, type TunnelEndEvent, type TunnelFailEvent, type TunnelOpenEvent, type TunnelUpEvent } from './events.js';
import { Handle, type TunnelHandle } from './handle.js';
import type { EngineHost, HostSink } from './host.js';
import { MainThreadHost } from './main-host.js';
import { maskKind, type MaskKind } from './mask-kernel.js';
import { PoolHost } from './pool-host.js';
import { failedSummary } from './summary.js';
import { validateSpec } from './spec.js';
import type { EngineOptions, EngineStats, TunnelSpec, TunnelSummary } from './types.js';

export type { TunnelHandle } from './handle.js';

/** What createEngine() returns. */
export interface Engine {
  open(spec: TunnelSpec): TunnelHandle;
  stats(): EngineStats;
  close(options?: { graceMs?: number }): Promise<void>;
  readonly threads: number;
  /** Whether the main thread masks with the bufferutil addon (workers report theirs in stats). */
  readonly bufferutil: boolean;
  /** The main thread's masking kernel (workers report theirs in stats). */
  readonly mask: MaskKind;
}

/**
 * Test hook, not in the package's API (the tests reach it as `#internal/engine/engine`): makes a worker
 * thread die of an uncaught exception. Returns false if the engine has no such worker.
 */
export function crashWorker(engine: Engine, threadId: number): boolean {
  return engine instanceof EngineImpl && engine[crashHook](threadId);
}
/** The engine's method behind crashWorker(), keyed by a symbol so that it is no part of an engine's API. */
const crashHook = Symbol('crashWorker');

class EngineImpl implements Engine, HostSink {
  readonly threads: number;
  readonly bufferutil: boolean;
  readonly mask: MaskKind;
  private readonly defaults: EngineOptions['defaults'];
  private readonly host: EngineHost;
  private readonly handles = new Map<number, Handle>();
  private seq = 0;
  closing = false;
  private s = {
    opened: 0,
    established: 0,
    closed: 0,
    bytesUp: 0,
    bytesDown: 0,
    endsByCode: {} as Record<string, number>,
    failuresByCode: {} as Record<string, number>,
  };

  constructor(options: EngineOptions) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 0 || threads > 256) throw new TypeError('options.threads must be an integer 0-256');
    const perWorker = options.tunnelsPerWorker ?? DEFAULT_TUNNELS_PER_WORKER;
    if (!Number.isInteger(perWorker) || perWorker < 1) throw new TypeError('options.tunnelsPerWorker must be a positive integer');
    this.threads = threads;
    this.defaults = options.defaults;
    this.mask = maskKind();
    this.bufferutil = this.mask === 'native';
    const statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    this.host = threads === 0 ? new MainThreadHost(this) : new PoolHost(options, threads, perWorker, randomUUID(), statsIntervalMs, this);
  }

  open(spec: TunnelSpec): TunnelHandle {
    const id = ++this.seq;
    const merged: TunnelSpec = this.defaults ? { ...this.defaults, ...spec } : spec;
    const h = new Handle(this, id, merged.label);
    this.s.opened++;
    if (tunnelChannels.open.hasSubscribers) tunnelChannels.open.publish({ engine: this, id, label: merged.label, host: merged.host, port: merged.port } satisfies TunnelOpenEvent);
    try {
      if (this.closing) throw new TunnelError('TUN_ERR_ENGINE_CLOSED');
      validateSpec(merged);
      if (this.handles.size >= this.host.capacity) {
        // Never queue a tunnel behind full workers: it would wait, unbounded, while the cloud times it out.
        throw new TunnelError('TUN_ERR_CAPACITY', `engine at capacity: ${this.host.capacity} tunnels (threads x tunnelsPerWorker)`);
      }
    } catch (err) {
      this.settle(h, failedSummary(id, toWireError(err, 'TUN_ERR_INVALID_SPEC'), merged.label));
      return h;
    }
    this.handles.set(id, h);
    this.host.open(h, merged);
    return h;
  }

  /** @internal */ closeTunnel(h: Handle, reason?: string): void {
    if (h.done) return;
    this.host.close(h, reason);
  }

  // ---- HostSink ----

  /** @internal */ handle(id: number): Handle | undefined {
    return this.handles.get(id);
  }

  /** @internal */ addBytes(h: Handle, up: number, down: number): void {
    h.up += up;
    h.down += down;
    this.s.bytesUp += up;
    this.s.bytesDown += down;
  }

  /** @internal */ up(h: Handle): void {
    if (h.settledUp) return;
    this.s.established++;
    h.markUp();
    if (tunnelChannels.up.hasSubscribers) {
      tunnelChannels.up.publish({ engine: this, id: h.id, label: h.label, threadId: h.threadId, setupMs: performance.now() - h.openedAt } satisfies TunnelUpEvent);
    }
  }

  /** @internal */ fail(h: Handle, err: WireError): void {
    const e = h.markFailed(err);
    if (e && tunnelChannels.fail.hasSubscribers) tunnelChannels.fail.publish({ engine: this, id: h.id, label: h.label, threadId: h.threadId, error: e } satisfies TunnelFailEvent);
  }

  /** @internal */ settle(h: Handle, summary: TunnelSummary): void {
    if (h.done) return;
    h.done = true;
    this.handles.delete(h.id);
    if (summary.established && !h.settledUp) this.up(h);
    else if (!summary.established) {
      // The task result may overtake the worker's `fail` event: rebuild the whole error from the summary.
      const w: WireError = { code: isErrorCode(summary.code) ? summary.code : 'TUN_ERR_INTERNAL', message: summary.message ?? summary.code };
      if (summary.status !== undefined) w.status = summary.status;
      if (summary.syscode !== undefined) w.syscode = summary.syscode;
      this.fail(h, w);
    }
    // Live counters already added h.up/h.down; add the rest.
    this.s.bytesUp += summary.bytesUp - h.up;
    this.s.bytesDown += summary.bytesDown - h.down;
    h.up = summary.bytesUp;
    h.down = summary.bytesDown;
    this.s.closed++;
    this.s.endsByCode[summary.code] = (this.s.endsByCode[summary.code] ?? 0) + 1;
    if (isErrorCode(summary.code)) {
      this.s.failuresByCode[summary.code] = (this.s.failuresByCode[summary.code] ?? 0) + 1;
    }
    if (tunnelChannels.end.hasSubscribers) tunnelChannels.end.publish({ engine: this, id: h.id, label: h.label, threadId: summary.threadId, summary } satisfies TunnelEndEvent);
    h.resolveClosed(summary);
    if (this.handles.size === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private idleWaiters: Array<() => void> = [];

  stats(): EngineStats {
    const perWorker: Record<string, number> = {};
    for (const h of this.handles.values()) {
      const k = String(h.threadId ?? 'queued');
      perWorker[k] = (perWorker[k] ?? 0) + 1;
    }
    const [liveUp, liveDown] = this.host.unreportedBytes();
    // Every thread of a process selects the same kernel; report the workers' when there are any.
    let mask = this.mask;
    let bu = this.bufferutil;
    for (const v of this.host.threadMasks()) {
      mask = v;
      bu = bu && v === 'native';
    }
    return {
      threads: this.threads,
      open: this.handles.size,
      opened: this.s.opened,
      established: this.s.established,
      closed: this.s.closed,
      perWorker,
      bytesUp: this.s.bytesUp + liveUp,
      bytesDown: this.s.bytesDown + liveDown,
      endsByCode: { ...this.s.endsByCode },
      failuresByCode: { ...this.s.failuresByCode },
      workersStarted: this.host.workersStarted,
      workerDeaths: this.host.workerDeaths,
      bufferutil: bu,
      mask,
    };
  }

  [crashHook](threadId: number): boolean {
    return this.host.crashWorker(threadId);
  }

  private closed: Promise<void> | null = null;

  /** Idempotent: every call returns the one promise of the one shutdown. */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closed ??= this.shutdown(options.graceMs ?? DEFAULT_ENGINE_CLOSE_GRACE_MS);
    return this.closed;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    const allClosed = new Promise<void>((resolve) => {
      if (this.handles.size === 0) resolve();
      else this.idleWaiters.push(resolve);
    });
    // Tunnels destroy what is left a little before the grace ends, so the whole close stays within it.
    this.host.closeAll('engine closing', Math.max(0, graceMs - 150), this.handles.values());
    const wait = (ms: number): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([allClosed, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
    };
    await wait(Math.max(0, graceMs - 100));
    this.host.destroyAll('engine closing');
    // Destroyed sockets report 'close' on the next turns; a worker's own destroy lands just before this.
    await wait(100);
    await this.host.dispose();
  }
}

/** Creates a tunnel engine. */
export function createEngine(options: EngineOptions = {}): Engine {
  return new EngineImpl(options);
}
