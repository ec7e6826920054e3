/**
 * The agent side of a chain, in its own process: the engine (`createEngine`, options from argv[2]) or the
 * naive ws tunnel (`{"impl":"naive"}`). On command it opens N tunnels to a target and a cloud URL and
 * reports set-up times; the harness reads its CPU and memory from /proc.
 */
import type { EngineOptions, TunnelSpec } from 'c8y-tunnel';
import { serve } from '../lib/ipc.js';
import { percentile, round } from '../lib/stats.js';
import { openNaive } from './naive-tunnel.js';

interface HostOptions {
  impl?: 'engine' | 'naive';
  engine?: EngineOptions;
}
interface AnyHandle {
  established: Promise<void>;
  closed: Promise<unknown>;
  close(): void;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as HostOptions;
// BENCH_ENGINE_MODULE points at another build of the package (A/B of an engine change in one run).
const { createEngine } = (await import(process.env.BENCH_ENGINE_MODULE ?? 'c8y-tunnel')) as typeof import('c8y-tunnel');
const engine = opts.impl === 'naive' ? null : createEngine(opts.engine ?? {});
const handles = new Set<AnyHandle>();
/** Per-tunnel peaks of bytes queued in user space, from the summaries of ended tunnels. */
const peaks: Array<[up: number, down: number]> = [];

function openOne(spec: TunnelSpec): AnyHandle {
  const h: AnyHandle = engine ? engine.open(spec) : openNaive(spec);
  handles.add(h);
  void h.closed.then((s) => {
    handles.delete(h);
    const sum = s as { peakBufferedUp?: number; peakBufferedDown?: number } | undefined;
    if (sum && typeof sum === 'object') peaks.push([sum.peakBufferedUp ?? 0, sum.peakBufferedDown ?? 0]);
  });
  return h;
}

serve({
  /**
   * Opens `count` tunnels to host:port, the i-th to `${url}${keyPrefix}${i}`, at most `window` setting up
   * at a time. Resolves when all are established (or failed).
   */
  async open(a: { count: number; host: string; port: number; url: string; keyPrefix: string; spec?: Partial<TunnelSpec>; window?: number; headers?: Record<string, string>; timeoutMs?: number }) {
    const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), a.timeoutMs ?? 60_000).unref());
    const t0 = performance.now();
    const setup: number[] = [];
    let failed = 0;
    let firstError: string | undefined;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < a.count) {
        const i = next++;
        const s0 = performance.now();
        const spec: TunnelSpec = { ...a.spec, host: a.host, port: a.port, url: `${a.url}${a.keyPrefix}${i}` };
        if (a.headers) spec.headers = a.headers;
        try {
          if ((await Promise.race([openOne(spec).established, deadline])) === 'late') throw new Error(`not established within ${a.timeoutMs ?? 60_000} ms (queued behind tunnelsPerWorker?)`);
          setup.push(performance.now() - s0);
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? `${(err as { code?: string }).code ?? ''} ${err.message}` : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(a.window ?? 128, a.count) }, worker));
    const elapsedMs = performance.now() - t0;
    setup.sort((x, y) => x - y);
    return { opened: setup.length, failed, firstError, elapsedMs: round(elapsedMs, 1), setupP50Ms: round(percentile(setup, 50), 2), setupP99Ms: round(percentile(setup, 99), 2) };
  },
  count: () => handles.size,
  /** Largest per-tunnel peaks of bytes queued toward the cloud and the target, over tunnels ended since the last call. */
  peaks() {
    const out = { tunnels: peaks.length, maxUp: Math.max(0, ...peaks.map((p) => p[0])), maxDown: Math.max(0, ...peaks.map((p) => p[1])) };
    peaks.length = 0;
    return out;
  },
  async closeAll(a: { timeoutMs?: number }) {
    const all = [...handles];
    for (const h of all) h.close();
    await Promise.race([Promise.all(all.map((h) => h.closed)), new Promise((r) => setTimeout(r, a.timeoutMs ?? 10_000))]);
    return handles.size;
  },
  stats: () => (engine ? engine.stats() : { open: handles.size }),
  async shutdown() {
    if (engine) await engine.close({ graceMs: 1_000 });
    return true;
  },
});
