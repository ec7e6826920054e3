/**
 * Scenario 7: a stalled reader. The far reader stops reading while the source keeps writing; once the
 * source can write no more, the agent's growth in RSS (after a GC) is what a stalled tunnel holds.
 * Then the reader resumes and every byte is verified.
 */
import type { EngineOptions } from 'c8y-tunnel';
import { Chain, type ChainKind } from '../lib/chain.js';
import { failed, wanted, type Ctx } from '../lib/context.js';
import type { SelfUsage } from '../lib/ipc.js';
import { MiB, round } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';

interface Progress {
  tx: number;
  rx: number;
  queued: number;
  kernel: number;
}

async function stallRow(ctx: Ctx, id: string, label: string, chainKind: ChainKind, engine: EngineOptions | undefined, dir: 'd2c' | 'c2d'): Promise<Row> {
  const key = `s7.${dir}.${id}`;
  const fullLabel = `${label}, ${dir === 'd2c' ? 'cloud-side reader stalls' : 'target stops reading'}`;
  const kind: Row['kind'] = chainKind === 'engine' ? 'engine' : 'baseline';
  let chain: Chain | null = null;
  try {
    ctx.progress(`${key}: starting`);
    const co: Parameters<typeof Chain.start>[0] = { kind: chainKind, distDir: ctx.distDir };
    if (engine) co.engine = engine;
    if (ctx.agentEnv) co.agentEnv = ctx.agentEnv;
    chain = await Chain.start(co);
    const n = ctx.sizes.s7Tunnels;
    const per = ctx.sizes.s7BytesPerTunnel;
    const link = await chain.connect(n, dir === 'd2c' ? 'source' : 'sink', dir === 'd2c' ? 'sink' : 'source');
    const src = dir === 'd2c' ? { p: chain.target, g: link.target } : { p: chain.loadgen, g: link.loadgen };
    const dst = dir === 'd2c' ? { p: chain.loadgen, g: link.loadgen } : { p: chain.target, g: link.target };
    // Warm the path so that buffers allocated on first use are in the baseline.
    await dst.p.call('arm', { group: dst.g, bytesPerConn: 256 * 1024 });
    await Promise.all([src.p.call('send', { group: src.g, bytesPerConn: 256 * 1024 }), dst.p.call('wait', { group: dst.g, timeoutMs: 60_000 })]);
    const before = await chain.agent!.call<SelfUsage>('gc');
    await dst.p.call('arm', { group: dst.g, bytesPerConn: per });
    await dst.p.call('pause', { group: dst.g });
    ctx.progress(`${key}: ${n} stalled tunnels`);
    await src.p.call('start', { group: src.g, bytesPerConn: per });
    // Wait until the source is stuck: no byte reached its kernel for a full second.
    let last = -1;
    let still = 0;
    const end = Date.now() + 30_000;
    let p: Progress = { tx: 0, rx: 0, queued: 0, kernel: 0 };
    while (still < 5 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      p = await src.p.call<Progress>('progress', { group: src.g });
      if (p.kernel === last) still++;
      else still = 0;
      last = p.kernel;
    }
    const got = await dst.p.call<Progress>('progress', { group: dst.g });
    const held = await chain.agent!.call<SelfUsage>('gc');
    const metrics: Record<string, number> = {
      tunnels: n,
      heldPerTunnelKiB: round((held.rssKiB - before.rssKiB) / n, 1),
      arrayBuffersPerTunnelKiB: round((held.arrayBuffers - before.arrayBuffers) / 1024 / n, 1),
      inFlightPerTunnelKiB: round((p.kernel - got.rx) / 1024 / n, 1),
      agentRssMiB: round(held.rssKiB / 1024, 1),
      stalled: still >= 5 ? 1 : 0,
    };
    ctx.progress(`${key}: resuming the reader`);
    await dst.p.call('resume', { group: dst.g });
    const w = await dst.p.call<{ verified: boolean; exact: boolean }>('wait', { group: dst.g, timeoutMs: 120_000 }, 130_000);
    await chain.disconnect(link);
    if (chainKind === 'engine') {
      // The engine's own accounting of what it queued in user space (works inside worker threads too).
      const pk = await chain.agent!.call<{ tunnels: number; maxUp: number; maxDown: number }>('peaks');
      if (pk.tunnels > 0) metrics.peakQueuedKiB = round((dir === 'd2c' ? pk.maxUp : pk.maxDown) / 1024, 1);
    }
    return { key, label: fullLabel, kind, status: 'ok', metrics, verified: w.verified && w.exact };
  } catch (err) {
    return failed(key, fullLabel, kind, err);
  } finally {
    await chain?.stop();
  }
}

/** Scenario 7. */
export async function scenario7(ctx: Ctx): Promise<ScenarioResult> {
  const impls: Array<[string, string, ChainKind, EngineOptions | undefined]> = [
    ['engine-t1', "engine, threads: 1 (the agent's default)", 'engine', { threads: 1 }],
    ['engine-t0', 'engine, threads: 0', 'engine', { threads: 0 }],
    ['naive', 'naive ws tunnel', 'naive', undefined],
  ];
  const rows: Row[] = [];
  for (const dir of ['d2c', 'c2d'] as const) {
    for (const [id, label, k, e] of impls) {
      if (ctx.mode === 'tiny' && (id !== 'engine-t0' || dir !== 'd2c')) continue;
      if (ctx.mode === 'quick' && id !== 'engine-t1') continue;
      if (!wanted(ctx, `s7.${dir}.${id}`)) continue;
      rows.push(await stallRow(ctx, id, label, k, e, dir));
    }
  }
  return {
    id: 's7',
    title: 'Stalled reader: memory held per tunnel',
    description: `${ctx.sizes.s7Tunnels} tunnels; the reader at the far end stops while the source tries to send ${Math.round(ctx.sizes.s7BytesPerTunnel / MiB)} MiB each. peakQueuedKiB is the engine's own peak of bytes queued in user space for one tunnel (WebSocket bufferedAmount toward the cloud, TCP writableLength toward the target), the figure that its highWaterMark bounds; arrayBuffersPerTunnelKiB is live Buffer memory after a GC (main thread only, so threads: 0 and the naive agent); heldPerTunnelKiB is RSS growth, which is mostly the one-off growth of the isolate's young generation divided by the tunnel count, not memory a tunnel keeps; inFlight is every byte between the source's kernel and the reader (kernel buffers included).`,
    rows,
  };
}
