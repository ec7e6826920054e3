/**
 * The main-thread host (`threads: 0`): the tunnels run in-process, on the very same code as on a worker
 * (tunnel.ts), for small devices and as the benchmark's baseline for the worker design. Its hooks are one
 * object for all tunnels, which find their handle by id.
 */
import { threadId as mainThreadId } from 'node:worker_threads';
import type { Handle } from './handle.js';
import type { EngineHost, HostSink } from './host.js';
import type { MaskKind } from './mask-kernel.js';
import { Tunnel, type TunnelHooks } from './tunnel.js';
import type { TunnelSpec } from './types.js';

export class MainThreadHost implements EngineHost {
  readonly capacity = Infinity;
  readonly workersStarted = 0;
  readonly workerDeaths = 0;
  private readonly tunnels = new Map<number, Tunnel>();
  private readonly hooks: TunnelHooks;

  constructor(sink: HostSink) {
    const tunnels = this.tunnels;
    this.hooks = {
      onUp(t) {
        const h = sink.handle(t.id);
        if (h) sink.up(h);
      },
      onFail(t, err) {
        const h = sink.handle(t.id);
        if (h) sink.fail(h, err);
      },
      onEnd(t, summary) {
        tunnels.delete(t.id);
        const h = sink.handle(t.id);
        if (h) sink.settle(h, summary);
      },
    };
  }

  open(h: Handle, spec: TunnelSpec): void {
    h.threadId = mainThreadId;
    const t = new Tunnel(h.id, spec, this.hooks);
    this.tunnels.set(h.id, t);
    t.start();
  }

  close(h: Handle, reason?: string): void {
    this.tunnels.get(h.id)?.close(reason);
  }

  unreportedBytes(): [number, number] {
    let up = 0;
    let down = 0;
    for (const t of this.tunnels.values()) {
      up += t.c.bytesUp;
      down += t.c.bytesDown;
    }
    return [up, down];
  }

  threadMasks(): Iterable<MaskKind> {
    return [];
  }

  closeAll(reason: string, graceMs: number): void {
    for (const t of this.tunnels.values()) t.shutdown(reason, graceMs);
  }

  destroyAll(reason: string): void {
    for (const t of this.tunnels.values()) t.destroy(reason);
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }

  crashWorker(): boolean {
    return false;
  }
}
