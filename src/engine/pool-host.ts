/**
 * The Piscina host: one task is one tunnel on a worker thread (worker.ts), many tunnels a worker. Tunnels
 * are closed through each worker's control port rather than task signals (see worker.ts), and a worker that
 * dies ends only the tunnels it carried.
 */
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { DEFAULT_WORKER_YOUNG_GEN_MB } from '../constants.js';
import type { WireError } from '../errors.js';
import { noop, type Handle } from './handle.js';
import type { EngineHost, HostSink } from './host.js';
import type { MaskKind } from './mask-kernel.js';
import { failedSummary } from './summary.js';
import type { EngineOptions, TunnelSpec, TunnelSummary } from './types.js';
import type { ControlMessage, StartTunnelTask, WorkerEvent } from './wire.js';

export class PoolHost implements EngineHost {
  readonly capacity: number;
  workersStarted = 0;
  workerDeaths = 0;
  private readonly pool: Piscina;
  private readonly ports = new Map<number, MessagePort>();
  private readonly workerMask = new Map<number, MaskKind>();
  /** Tasks no worker has said `start` for: their spec is let go when one does (wire.ts). At most `capacity`. */
  private readonly unstarted = new Map<number, StartTunnelTask>();

  constructor(
    options: EngineOptions,
    threads: number,
    perWorker: number,
    private readonly engineId: string,
    private readonly statsIntervalMs: number,
    private readonly sink: HostSink,
  ) {
    this.capacity = threads * perWorker;
    this.pool = new Piscina({
      // A CommonJS entry that imports worker.js: Piscina's require() of an ES module aborted Node 20 (worker-entry.cts).
      filename: new URL('./worker-entry.cjs', import.meta.url).href,
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

  open(h: Handle, spec: TunnelSpec): void {
    const task: StartTunnelTask = { engineId: this.engineId, id: h.id, spec, statsIntervalMs: this.statsIntervalMs };
    this.unstarted.set(h.id, task);
    this.pool.run(task).then(
      (summary: TunnelSummary) => {
        this.unstarted.delete(h.id);
        this.sink.settle(h, summary);
      },
      (err: unknown) => {
        this.unstarted.delete(h.id);
        // The worker died (or the pool was destroyed): only the tunnels on that worker end here.
        const code = this.sink.closing ? 'TUN_ERR_ENGINE_CLOSED' : 'TUN_ERR_WORKER_EXIT';
        const w: WireError = { code, message: `worker thread ended: ${err instanceof Error ? err.message : String(err)}` };
        const s = failedSummary(h.id, w, h.label, h.threadId ?? 0);
        s.bytesUp = h.up;
        s.bytesDown = h.down;
        s.endedBy = 'worker';
        s.established = h.settledUp;
        this.sink.settle(h, s);
      },
    );
  }

  close(h: Handle, reason?: string): void {
    const port = h.threadId !== undefined ? this.ports.get(h.threadId) : undefined;
    if (port) port.postMessage({ t: 'close', id: h.id, reason } satisfies ControlMessage);
    else h.pendingClose = reason;
  }

  private onWorkerEvent(ev: WorkerEvent): void {
    if (!ev || ev.engineId !== this.engineId) return;
    switch (ev.t) {
      case 'hello': {
        this.ports.set(ev.threadId, ev.port);
        this.workerMask.set(ev.threadId, ev.mask);
        this.workersStarted++;
        ev.port.on('close', () => {
          if (this.ports.get(ev.threadId) === ev.port) {
            this.ports.delete(ev.threadId);
            if (!this.sink.closing) this.workerDeaths++;
          }
        });
        ev.port.unref();
        break;
      }
      case 'start': {
        const task = this.unstarted.get(ev.id);
        if (task) {
          task.spec = null;
          this.unstarted.delete(ev.id);
        }
        const h = this.sink.handle(ev.id);
        if (!h) break;
        h.threadId = ev.threadId;
        if (h.pendingClose !== null) {
          this.ports.get(ev.threadId)?.postMessage({ t: 'close', id: h.id, reason: h.pendingClose, engine: h.pendingByEngine } satisfies ControlMessage);
          h.pendingClose = null;
        }
        break;
      }
      case 'up': {
        const h = this.sink.handle(ev.id);
        if (h) this.sink.up(h);
        break;
      }
      case 'fail': {
        const h = this.sink.handle(ev.id);
        if (h) this.sink.fail(h, ev.error);
        break;
      }
      case 'bytes': {
        for (const [id, up, down] of ev.live) {
          const h = this.sink.handle(id);
          if (h) this.sink.addBytes(h, up, down); // else already settled: its summary carried the full count
        }
        break;
      }
    }
  }

  unreportedBytes(): [number, number] {
    // Workers report deltas (the 'bytes' event), already in the handles.
    return [0, 0];
  }

  threadMasks(): Iterable<MaskKind> {
    return this.workerMask.values();
  }

  closeAll(reason: string, graceMs: number, open: Iterable<Handle>): void {
    // Workers destroy what is left themselves when `graceMs` is over.
    for (const port of this.ports.values()) port.postMessage({ t: 'closeAll', reason, graceMs } satisfies ControlMessage);
    // A tunnel whose worker has not said `start` yet gets the close when it does.
    for (const h of open) {
      if (h.threadId !== undefined) continue;
      h.pendingClose = reason;
      h.pendingByEngine = true;
    }
  }

  destroyAll(): void {}

  dispose(): Promise<void> {
    return this.pool.destroy();
  }

  crashWorker(threadId: number): boolean {
    const port = this.ports.get(threadId);
    if (!port) return false;
    port.postMessage({ t: 'crash' } satisfies ControlMessage);
    return true;
  }
}
