/**
 * Scenario 4: 1-byte ping-pong from the load generator to an echo target through the chain, alone and
 * with busy neighbours (other tunnels through the same hops, each carrying a steady stream from the
 * target to the load generator).
 */
import { Chain, unavailable, type ChainKind, type Link } from '../lib/chain.js';
import { cpuDelta, failed, procFigures, skipped, snap, wanted, type Ctx } from '../lib/context.js';
import { PeakSampler } from '../lib/procstat.js';
import type { Row, ScenarioResult } from '../lib/types.js';

const LABEL: Record<ChainKind, string> = {
  direct: 'direct TCP',
  relay: 'plain Node relay x2',
  socat: 'socat x2',
  naive: 'naive ws tunnel + bench cloud',
  websockify: 'naive ws tunnel + websockify',
  engine: 'engine (threads: 1) + bench cloud',
};

/** Neighbour load: 16 KiB every 10 ms per neighbour (about 1.6 MB/s each). */
const TICK_BYTES = 16 * 1024;
const TICK_MS = 10;

async function latencyRow(ctx: Ctx, kind: ChainKind, neighbours: number): Promise<Row> {
  const key = `s4.${neighbours ? 'busy' : 'alone'}.${kind}`;
  const label = `${LABEL[kind]}${neighbours ? `, ${neighbours} busy neighbours` : ''}`;
  const rowKind: Row['kind'] = kind === 'engine' ? 'engine' : 'baseline';
  const why = unavailable(kind);
  if (why) return skipped(key, label, rowKind, why);
  let chain: Chain | null = null;
  let peaks: PeakSampler | null = null;
  try {
    ctx.progress(`${key}: starting`);
    const co: Parameters<typeof Chain.start>[0] = { kind, distDir: ctx.distDir };
    if (ctx.agentWrap) co.agentWrap = ctx.agentWrap;
    if (ctx.agentExecArgv) co.agentExecArgv = ctx.agentExecArgv;
    if (ctx.agentEnv) co.agentEnv = ctx.agentEnv;
    chain = await Chain.start(co);
    const ping = await chain.connect(1, 'echo', 'pinger');
    let busy: Link | null = null;
    if (neighbours > 0) {
      ctx.progress(`${key}: opening ${neighbours} neighbours`);
      busy = await chain.connect(neighbours, 'source', 'sink');
      await chain.target.call('stream', { group: busy.target, bytesPerTick: TICK_BYTES, intervalMs: TICK_MS });
      await new Promise((r) => setTimeout(r, 500));
    }
    const members = chain.members();
    peaks = new PeakSampler(members.map((m) => m.pid));
    ctx.progress(`${key}: ${ctx.sizes.s4RoundTrips} round trips`);
    const a = snap(members);
    const res = await chain.loadgen.call<{ p50: number; p99: number; p999: number; mean: number; max: number; n: number; bad: number }>('ping', { group: ping.loadgen, count: ctx.sizes.s4RoundTrips, warmup: 200 }, 600_000);
    const b = snap(members);
    const d = cpuDelta(a, b);
    ctx.benchCpu.sec += d.perMember.reduce((x, y) => x + y, 0);
    peaks.stop();
    const metrics: Record<string, number> = { p50Us: res.p50, p99Us: res.p99, p999Us: res.p999, meanUs: res.mean, maxUs: res.max, roundTrips: res.n };
    if (busy) {
      await chain.target.call('stopStream', { group: busy.target });
      const pr = await chain.loadgen.call<{ rx: number }>('progress', { group: busy.loadgen });
      metrics.neighbours = neighbours;
      metrics.neighbourMiB = Math.round(pr.rx / 1048576);
    }
    if (res.bad > 0) throw new Error(`${res.bad} round trips returned the wrong byte`);
    if (busy) await chain.disconnect(busy);
    await chain.disconnect(ping);
    return { key, label, kind: rowKind, status: 'ok', metrics, procs: procFigures(members, d.perMember, peaks), verified: true, foreignCpuSec: Math.round(d.foreign * 100) / 100 };
  } catch (err) {
    return failed(key, label, rowKind, err);
  } finally {
    peaks?.stop();
    await chain?.stop();
  }
}

/** Scenario 4. */
export async function scenario4(ctx: Ctx): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const alone: ChainKind[] = ctx.mode === 'tiny' ? ['relay', 'engine'] : ctx.mode === 'quick' ? ['direct', 'relay', 'naive', 'engine'] : ['direct', 'relay', 'socat', 'websockify', 'naive', 'engine'];
  const busy: ChainKind[] = ctx.mode === 'tiny' ? ['engine'] : ctx.mode === 'quick' ? ['relay', 'engine'] : ['relay', 'naive', 'engine'];
  for (const k of alone) if (wanted(ctx, `s4.alone.${k}`)) rows.push(await latencyRow(ctx, k, 0));
  for (const k of busy) if (wanted(ctx, `s4.busy.${k}`)) rows.push(await latencyRow(ctx, k, ctx.sizes.s4Neighbours));
  return {
    id: 's4',
    title: 'Latency: 1-byte round trips',
    description: `${ctx.sizes.s4RoundTrips} round trips of 1 byte (after 200 unmeasured) from the load generator to an echo target; microseconds. Busy neighbours: ${ctx.sizes.s4Neighbours} other connections through the same hops, each receiving 16 KiB every 10 ms from the target.`,
    rows,
  };
}
