/**
 * Piscina task entry: one task is one tunnel, and the task's promise is the tunnel's lifetime.
 *
 * Control does not use AbortSignal (an abortable task gets a worker to itself, and aborting terminates
 * the worker with every tunnel on it). Instead each worker sends the coordinator one MessagePort (in a
 * `hello` over parentPort), and the coordinator sends close commands for any tunnel on that port.
 * Events go out over parentPort, which Piscina re-emits as the pool's 'message' event, in order.
 */
import { MessageChannel, parentPort, threadId, type MessagePort } from 'node:worker_threads';
import { toWireError } from '../errors.js';
import { maskKind } from './mask-kernel.js';
import { failedSummary } from './summary.js';
import { Tunnel, type TunnelHooks } from './tunnel.js';
import type { TunnelSpec, TunnelSummary } from './types.js';
import type { ControlMessage, StartTunnelTask, WorkerEvent } from './wire.js';

const tunnels = new Map<number, Tunnel>();
let control: MessagePort | null = null;
let engineId = '';
let ticker: NodeJS.Timeout | null = null;

function post(ev: WorkerEvent, transfer?: MessagePort[]): void {
  parentPort!.postMessage(ev, transfer);
}

function hello(id: string): void {
  if (control) return;
  engineId = id;
  const { port1, port2 } = new MessageChannel();
  control = port1;
  port1.on('message', onControl);
  port1.unref();
  post({ t: 'hello', engineId, threadId, port: port2, mask: maskKind() }, [port2]);
}

function onControl(msg: ControlMessage): void {
  try {
    if (msg.t === 'close') {
      const t = tunnels.get(msg.id);
      if (msg.engine) t?.shutdown(msg.reason);
      else t?.close(msg.reason);
    } else if (msg.t === 'closeAll') {
      for (const t of tunnels.values()) t.shutdown(msg.reason, msg.graceMs);
      setTimeout(() => {
        for (const t of tunnels.values()) t.destroy(msg.reason);
      }, msg.graceMs).unref();
    } else if (msg.t === 'crash') {
      // Test hook for worker-death isolation: an uncaught exception, exactly what a bug would cause.
      setImmediate(() => {
        throw new Error('worker crash requested by the coordinator');
      });
    }
  } catch {
    // Control must never take the worker down.
  }
}

function reportBytes(): void {
  const live: Array<[number, number, number]> = [];
  for (const t of tunnels.values()) {
    const dUp = t.c.bytesUp - t.reportedUp;
    const dDown = t.c.bytesDown - t.reportedDown;
    if (dUp === 0 && dDown === 0) continue;
    live.push([t.id, dUp, dDown]);
    t.reportedUp = t.c.bytesUp;
    t.reportedDown = t.c.bytesDown;
  }
  if (live.length > 0) post({ t: 'bytes', engineId, threadId, live });
}

const hooks: TunnelHooks = {
  onUp(t, setupMs) {
    post({ t: 'up', engineId, id: t.id, setupMs });
  },
  onFail(t, error) {
    post({ t: 'fail', engineId, id: t.id, error });
  },
  onEnd(t, summary) {
    tunnels.delete(t.id);
    if (tunnels.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
    t.settleTask?.(summary);
    t.settleTask = null;
  },
};

/** The Piscina task: resolves with the tunnel's summary when it ends. Never rejects for tunnel reasons. */
export default function runTunnelTask(task: StartTunnelTask): Promise<TunnelSummary> {
  hello(task.engineId);
  post({ t: 'start', engineId, id: task.id, threadId });
  const spec = task.spec!;
  task.spec = null;
  return new Promise<TunnelSummary>((resolve) => startTunnel(task.id, spec, task.statsIntervalMs, resolve));
}

/**
 * Builds and starts the tunnel, with the hooks every tunnel of the worker shares and the task's resolver
 * in a field: the tunnel holds neither the task nor a closure of its own (the spec is the tunnel's,
 * trimmed after the dial).
 */
function startTunnel(id: number, spec: TunnelSpec, statsIntervalMs: number, resolve: (s: TunnelSummary) => void): void {
  try {
    const t = new Tunnel(id, spec, hooks);
    t.settleTask = resolve;
    // Known before it starts, as on the main thread (main-host.ts): a tunnel that ended inside start()
    // must not be added after its end.
    tunnels.set(id, t);
    t.start();
    if (!ticker) {
      ticker = setInterval(reportBytes, statsIntervalMs);
      ticker.unref();
    }
  } catch (err) {
    const error = toWireError(err);
    post({ t: 'fail', engineId, id, error });
    resolve(failedSummary(id, error, spec.label, threadId));
  }
}
