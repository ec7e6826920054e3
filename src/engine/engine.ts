/**
 * The engine: opens tunnels on a Piscina worker pool (or on the main thread with `threads: 0`) and keeps
 * their handles, events and statistics. It knows nothing of Cumulocity beyond the URL and headers it is
 * handed.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { threadId as mainThreadId, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  DEFAULT_ENGINE_CLOSE_GRACE_MS,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_TUNNELS_PER_WORKER,
  DEFAULT_WORKER_YOUNG_GEN_MB,
} from '../constants.js';
import { isErrorCode, TunnelError, toWireError, type WireError } from '../errors.js';
import { maskKind, type MaskKind } from './mask-kernel.js';
import { failedSummary, startTunnel, validateSpec, type Tunnel } from './tunnel.js';
import type { ControlMessage, EngineOptions, EngineStats, StartTunnelTask, TunnelSpec, TunnelSummary, WorkerEvent } from './types.js';

/** The handle engine.open() returns. */
export interface TunnelHandle {
  readonly id: number;
  /** Resolves when both legs are up; rejects with a coded TunnelError when either fails. */
  readonly established: Promise<void>;
  /** Resolves (never rejects) with the summary when the tunnel has ended. */
  readonly closed: Promise<TunnelSummary>;
  /** The worker thread carrying the tunnel, once known (0 = main thread). */
  readonly threadId: number | undefined;
  /** Closes both legs after a flush. */
  close(reason?: string): void;
}

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

const noop = (): void => {};

class Handle implements TunnelHandle {
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
  resolveUp!: () => void;
  rejectUp!: (e: TunnelError) => void;
  resolveClosed!: (s: TunnelSummary) => void;
  private readonly owner: EngineImpl;

  constructor(owner: EngineImpl, id: number, label: string | undefined) {
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
  }

  markFailed(err: WireError): void {
    if (this.settledUp) return;
    this.settledUp = true;
    this.rejectUp(TunnelError.fromWire(err));
    // Callers that only await `closed` must not see an unhandled rejection. Attached here, in the same turn
    // as the rejection, rather than up front: one promise less per tunnel that never fails.
    this.established.catch(noop);
  }
}

class EngineImpl implements Engine {
  readonly threads: number;
  readonly bufferutil: boolean;
  readonly mask: MaskKind;
  private readonly engineId = randomUUID();
  private readonly defaults: EngineOptions['defaults'];
  private readonly statsIntervalMs: number;
  private readonly pool: Piscina | null;
  private readonly handles = new Map<number, Handle>();
  private readonly local = new Map<number, Tunnel>();
  private readonly ports = new Map<number, MessagePort>();
  private readonly workerMask = new Map<number, MaskKind>();
  private seq = 0;
  private readonly capacity: number;
  private closing = false;
  private s = {
    opened: 0,
    established: 0,
    closed: 0,
    bytesUp: 0,
    bytesDown: 0,
    workersStarted: 0,
    workerDeaths: 0,
    endsByCode: {} as Record<string, number>,
    failuresByCode: {} as Record<string, number>,
  };

  constructor(options: EngineOptions) {
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 0 || threads > 256) throw new TypeError('options.threads must be an integer 0-256');
    const perWorker = options.tunnelsPerWorker ?? DEFAULT_TUNNELS_PER_WORKER;
    if (!Number.isInteger(perWorker) || perWorker < 1) throw new TypeError('options.tunnelsPerWorker must be a positive integer');
    this.threads = threads;
    this.capacity = threads * perWorker;
    this.defaults = options.defaults;
    this.statsIntervalMs = options.statsIntervalMs ?? DEFAULT_STATS_INTERVAL_MS;
    this.mask = maskKind();
    this.bufferutil = this.mask === 'native';
    if (threads === 0) {
      this.pool = null;
      return;
    }
    this.pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: perWorker,
      idleTimeout: Infinity,
      // Idle workers must keep serving the sockets they hold: never park them in Atomics.wait.
      atomics: 'disabled',
      // A small young generation: it is a per-worker constant (V8 grows it to its maximum), worth ~3 KiB
      // per tunnel at 8,000 idle tunnels, and the bench showed no CPU cost for it (docs/benchmarks.md).
      resourceLimits: { maxYoungGenerationSizeMb: DEFAULT_WORKER_YOUNG_GEN_MB, ...options.resourceLimits },
    });
    this.pool.on('message', (ev: WorkerEvent) => this.onWorkerEvent(ev));
    // Errors outside any task (a worker failing to start): never crash the host.
    this.pool.on('error', noop);
  }

  open(spec: TunnelSpec): TunnelHandle {
    const id = ++this.seq;
    const merged: TunnelSpec = this.defaults ? { ...this.defaults, ...spec } : spec;
    const h = new Handle(this, id, merged.label);
    this.s.opened++;
    try {
      if (this.closing) throw new TunnelError('TUN_ERR_ENGINE_CLOSED');
      validateSpec(merged);
      if (this.pool && this.handles.size >= this.capacity) {
        // Never queue a tunnel behind full workers: it would wait, unbounded, while the cloud times it out.
        throw new TunnelError('TUN_ERR_CAPACITY', `engine at capacity: ${this.capacity} tunnels (threads x tunnelsPerWorker)`);
      }
    } catch (err) {
      this.settle(h, failedSummary(id, toWireError(err, 'TUN_ERR_INVALID_SPEC'), merged.label));
      return h;
    }
    this.handles.set(id, h);
    if (!this.pool) this.openLocal(h, merged);
    else this.openOnPool(h, merged);
    return h;
  }

  private openLocal(h: Handle, spec: TunnelSpec): void {
    h.threadId = mainThreadId;
    const t = startTunnel(h.id, spec, {
      onUp: () => this.onUp(h),
      onFail: (_t, err) => h.markFailed(err),
      onEnd: (_t, summary) => {
        this.local.delete(h.id);
        this.settle(h, summary);
      },
    });
    this.local.set(h.id, t);
  }

  /** @internal */ closeTunnel(h: Handle, reason?: string): void {
    if (h.done) return;
    if (!this.pool) {
      this.local.get(h.id)?.close(reason);
      return;
    }
    const port = h.threadId !== undefined ? this.ports.get(h.threadId) : undefined;
    if (port) port.postMessage({ t: 'close', id: h.id, reason } satisfies ControlMessage);
    else h.pendingClose = reason;
  }

  private openOnPool(h: Handle, spec: TunnelSpec): void {
    const task: StartTunnelTask = { engineId: this.engineId, id: h.id, spec, statsIntervalMs: this.statsIntervalMs };
    this.pool!.run(task).then(
      (summary: TunnelSummary) => this.settle(h, summary),
      (err: unknown) => {
        // The worker died (or the pool was destroyed): only the tunnels on that worker end here.
        const code = this.closing ? 'TUN_ERR_ENGINE_CLOSED' : 'TUN_ERR_WORKER_EXIT';
        const w: WireError = { code, message: `worker thread ended: ${err instanceof Error ? err.message : String(err)}` };
        const s = failedSummary(h.id, w, h.label, h.threadId ?? 0);
        s.bytesUp = h.up;
        s.bytesDown = h.down;
        s.endedBy = 'worker';
        s.established = h.settledUp;
        this.settle(h, s);
      },
    );
  }

  private onWorkerEvent(ev: WorkerEvent): void {
    if (!ev || ev.engineId !== this.engineId) return;
    switch (ev.t) {
      case 'hello': {
        this.ports.set(ev.threadId, ev.port);
        this.workerMask.set(ev.threadId, ev.mask);
        this.s.workersStarted++;
        ev.port.on('close', () => {
          if (this.ports.get(ev.threadId) === ev.port) {
            this.ports.delete(ev.threadId);
            if (!this.closing) this.s.workerDeaths++;
          }
        });
        ev.port.unref();
        break;
      }
      case 'start': {
        const h = this.handles.get(ev.id);
        if (!h) break;
        h.threadId = ev.threadId;
        if (h.pendingClose !== null) {
          this.ports.get(ev.threadId)?.postMessage({ t: 'close', id: h.id, reason: h.pendingClose, engine: h.pendingByEngine } satisfies ControlMessage);
          h.pendingClose = null;
        }
        break;
      }
      case 'up': {
        const h = this.handles.get(ev.id);
        if (h) this.onUp(h);
        break;
      }
      case 'fail': {
        this.handles.get(ev.id)?.markFailed(ev.error);
        break;
      }
      case 'bytes': {
        for (const [id, up, down] of ev.live) {
          const h = this.handles.get(id);
          if (!h) continue; // already settled: its summary carried the full count
          h.up += up;
          h.down += down;
          this.s.bytesUp += up;
          this.s.bytesDown += down;
        }
        break;
      }
    }
  }

  private onUp(h: Handle): void {
    if (h.settledUp) return;
    this.s.established++;
    h.markUp();
  }

  private settle(h: Handle, summary: TunnelSummary): void {
    if (h.done) return;
    h.done = true;
    this.handles.delete(h.id);
    if (summary.established && !h.settledUp) this.onUp(h);
    else if (!summary.established) {
      // The task result may overtake the worker's `fail` event: rebuild the whole error from the summary.
      const w: WireError = { code: isErrorCode(summary.code) ? summary.code : 'TUN_ERR_INTERNAL', message: summary.message ?? summary.code };
      if (summary.status !== undefined) w.status = summary.status;
      if (summary.syscode !== undefined) w.syscode = summary.syscode;
      h.markFailed(w);
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
    h.resolveClosed(summary);
    if (this.handles.size === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private idleWaiters: Array<() => void> = [];

  stats(): EngineStats {
    const perWorker: Record<string, number> = {};
    let bytesUp = this.s.bytesUp;
    let bytesDown = this.s.bytesDown;
    for (const h of this.handles.values()) {
      const k = String(h.threadId ?? 'queued');
      perWorker[k] = (perWorker[k] ?? 0) + 1;
    }
    for (const t of this.local.values()) {
      const h = this.handles.get(t.id);
      if (!h) continue;
      bytesUp += t.bytesUp - h.up;
      bytesDown += t.bytesDown - h.down;
    }
    // Every thread of a process selects the same kernel; report the workers' when there are any.
    let mask = this.mask;
    let bu = this.bufferutil;
    for (const v of this.workerMask.values()) {
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
      bytesUp,
      bytesDown,
      endsByCode: { ...this.s.endsByCode },
      failuresByCode: { ...this.s.failuresByCode },
      workersStarted: this.s.workersStarted,
      workerDeaths: this.s.workerDeaths,
      bufferutil: bu,
      mask,
    };
  }

  [crashHook](threadId: number): boolean {
    const port = this.ports.get(threadId);
    if (!port) return false;
    port.postMessage({ t: 'crash' } satisfies ControlMessage);
    return true;
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
    for (const t of this.local.values()) t.shutdown('engine closing', Math.max(0, graceMs - 150));
    // Workers destroy what is left a little before the grace ends, so the whole close stays within it.
    const workerGrace = Math.max(0, graceMs - 150);
    for (const port of this.ports.values()) port.postMessage({ t: 'closeAll', reason: 'engine closing', graceMs: workerGrace } satisfies ControlMessage);
    for (const h of this.handles.values()) {
      if (h.threadId !== undefined) continue;
      h.pendingClose = 'engine closing';
      h.pendingByEngine = true;
    }
    const wait = (ms: number): Promise<void> => {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([allClosed, new Promise<void>((r) => (timer = setTimeout(r, ms)))]).finally(() => clearTimeout(timer));
    };
    await wait(Math.max(0, graceMs - 100));
    for (const t of this.local.values()) t.destroy('engine closing');
    // Destroyed sockets report 'close' on the next turns; a worker's own destroy lands just before this.
    await wait(100);
    if (this.pool) await this.pool.destroy();
  }
}

/** Creates a tunnel engine. */
export function createEngine(options: EngineOptions = {}): Engine {
  return new EngineImpl(options);
}
