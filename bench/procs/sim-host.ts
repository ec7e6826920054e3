/**
 * The emulator (`startSim`) in its own process, for the setup scenario: creates remote access operations
 * and times each from its creation to SUCCESSFUL, inside this process.
 */
import type { Sim, SimOperation } from 'c8y-tunnel/sim';
import { serve } from '../lib/ipc.js';
import { latencySummary, round } from '../lib/stats.js';

// BENCH_SIM_MODULE: the snapshot of the build the run started with (see run.ts --freeze).
const { startSim } = (await import(process.env.BENCH_SIM_MODULE ?? 'c8y-tunnel/sim')) as typeof import('c8y-tunnel/sim');
let sim: Sim | null = null;
const need = (): Sim => {
  if (!sim) throw new Error('sim not started');
  return sim;
};

serve({
  async start(a: { operationTimeoutMs?: number }) {
    sim = await startSim({ quiet: true, operationTimeoutMs: a.operationTimeoutMs ?? 30_000 });
    return { httpUrl: sim.httpUrl, wsUrl: sim.wsUrl, mqttUrl: sim.mqttUrl, tenant: sim.tenant, devicePassword: sim.devicePassword };
  },
  async device(a: { serial: string }) {
    return (await need().createDevice(a.serial)).id;
  },
  /** Resolves once the agent has announced c8y_RemoteAccessConnect (114): it is subscribed and ready. */
  async waitAgent(a: { serial: string; timeoutMs?: number }) {
    const end = Date.now() + (a.timeoutMs ?? 30_000);
    while (!(need().supportedOperations(a.serial) ?? []).includes('c8y_RemoteAccessConnect')) {
      if (Date.now() > end) throw new Error(`agent for ${a.serial} did not announce c8y_RemoteAccessConnect`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  },
  /**
   * Creates `count` operations, at most `concurrency` unfinished at a time; each is timed from just before
   * its creation to its SUCCESSFUL status, and its session is closed then (so tunnels do not pile up).
   */
  async run(a: { deviceId: string; hostname: string; port: number; count: number; concurrency: number; timeoutMs?: number }) {
    const s = need();
    const started = new Map<string, number>();
    const ended = new Map<string, { at: number; status: string; reason?: string }>();
    const waiters = new Map<string, () => void>();
    const onStatus = (op: SimOperation): void => {
      if (op.status !== 'SUCCESSFUL' && op.status !== 'FAILED') return;
      if (!ended.has(op.id)) ended.set(op.id, { at: performance.now(), status: op.status, ...(op.failureReason ? { reason: op.failureReason } : {}) });
      waiters.get(op.id)?.();
    };
    s.events.on('status', onStatus);
    const lat: number[] = [];
    let failed = 0;
    let firstFailure: string | undefined;
    let next = 0;
    const t0 = performance.now();
    const one = async (): Promise<void> => {
      const c0 = performance.now();
      const op = await s.createRemoteAccessOperation(a.deviceId, { hostname: a.hostname, port: a.port });
      started.set(op.id, c0);
      if (!ended.has(op.id)) {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`operation ${op.id} still ${s.getOperation(op.id)?.status} after ${a.timeoutMs ?? 30_000} ms`)), a.timeoutMs ?? 30_000);
          waiters.set(op.id, () => {
            clearTimeout(t);
            resolve();
          });
        });
        waiters.delete(op.id);
      }
      const e = ended.get(op.id)!;
      if (e.status === 'SUCCESSFUL') lat.push((e.at - c0) * 1000);
      else {
        failed++;
        firstFailure ??= e.reason ?? 'FAILED';
      }
      s.closeSession(op.c8y_RemoteAccessConnect.connectionKey);
    };
    const worker = async (): Promise<void> => {
      while (next < a.count) {
        next++;
        await one();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(a.concurrency, a.count) }, worker));
    } finally {
      s.events.off('status', onStatus);
    }
    const elapsedMs = performance.now() - t0;
    const l = latencySummary(lat);
    return { ok: lat.length, failed, firstFailure, elapsedMs: round(elapsedMs, 1), perSec: round((lat.length / elapsedMs) * 1000, 1), p50Ms: round(l.p50 / 1000, 3), p99Ms: round(l.p99 / 1000, 3), p999Ms: round(l.p999 / 1000, 3), meanMs: round(l.mean / 1000, 3) };
  },
  sessions: () => {
    const all = need().sessions();
    return { total: all.length, open: all.filter((x) => x.state !== 'closed').length };
  },
  async stopSim() {
    await sim?.close();
    sim = null;
    return true;
  },
});
