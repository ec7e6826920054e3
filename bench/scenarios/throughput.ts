/**
 * Bulk throughput through a chain: scenario 1 (one tunnel, both directions), 2 (10/100/1,000 tunnels)
 * and 6 (engine modes). Each row: a warm-up, then `runs` runs on the same connections, alternating
 * with the other rows of its group; MB/s is
 * 10^6 bytes per second of wall time from the first byte sent to the last byte verified at the far end.
 */
import type { EngineOptions, TunnelSpec } from 'c8y-tunnel';
import { cpuRatioOf } from '../lib/baseline-hop.js';
import { Chain, unavailable, type ChainKind, type Link, type Member } from '../lib/chain.js';
import { chainOptions, cpuDelta, failed, procFigures, skipped, snap, wanted, type Ctx } from '../lib/context.js';
import { PeakSampler } from '../lib/procstat.js';
import { GiB, median, MiB, round } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';

export type Direction = 'd2c' | 'c2d';

export interface ThroughputSpec {
  key: string;
  label: string;
  chain: ChainKind;
  engine?: EngineOptions;
  spec?: Partial<TunnelSpec>;
  conns: number;
  /** Bytes per run, over all connections. */
  bytes: number;
  warmup: number;
  runs: number;
  direction: Direction;
  /** Bytes per write() of the source (the target d2c, the load generator c2d); default 64 KiB. */
  writeSize?: number;
  /** engine/naive: the cloud sends WebSocket messages of exactly this many bytes (cloud to device). */
  msgSize?: number;
  /** engine/naive: wss on the cloud leg. */
  wss?: boolean;
  /** Extra environment of the agent process (C8Y_TUNNEL_MASK, WS_NO_BUFFER_UTIL, ...). */
  agentEnv?: Record<string, string>;
  /** Key of the row in the same group this one's CPU is divided by (metrics.cpuRatio). */
  baseline?: string;
}

/**
 * One throughput row: its chain stays up from start() to finish(), so that the runs of several rows
 * can alternate (A, B, C, A, B, C, ...) and drifting load from outside hits every row alike.
 */
class ThroughputRow {
  private chain: Chain | null = null;
  private peaks: PeakSampler | null = null;
  private link: Link | null = null;
  private members: Member[] = [];
  private result: Row | null = null;
  private readonly mbps: number[] = [];
  private readonly cpus: number[][] = [];
  private readonly syscalls: number[][] = [];
  private foreign = 0;
  private verified = true;
  private readonly kind: Row['kind'];
  private readonly perConn: number;

  constructor(
    private readonly ctx: Ctx,
    private readonly t: ThroughputSpec,
  ) {
    this.kind = t.chain === 'engine' ? 'engine' : 'baseline';
    this.perConn = Math.max(1, Math.floor(t.bytes / t.conns));
  }

  /** Starts the chain, opens the connections and warms up. */
  async start(): Promise<void> {
    const { ctx, t } = this;
    const why = unavailable(t.chain);
    if (why) {
      this.result = skipped(t.key, t.label, this.kind, why);
      return;
    }
    try {
      ctx.progress(`${t.key}: starting ${t.chain} chain`);
      const co = chainOptions(ctx, t.chain);
      if (t.engine) co.engine = t.engine;
      if (t.spec) co.spec = t.spec;
      if (t.wss) co.wss = true;
      if (t.msgSize) co.msgSize = t.msgSize;
      if (t.agentEnv) co.agentEnv = { ...co.agentEnv, ...t.agentEnv };
      this.chain = await Chain.start(co);
      const d2c = t.direction === 'd2c';
      ctx.progress(`${t.key}: opening ${t.conns} connection(s)`);
      this.link = await this.chain.connect(t.conns, d2c ? 'source' : 'sink', d2c ? 'sink' : 'source');
      this.members = this.chain.members();
      this.peaks = new PeakSampler(this.members.map((m) => m.pid));
      if (t.warmup > 0) {
        ctx.progress(`${t.key}: warm-up ${Math.round(t.warmup / MiB)} MiB`);
        await this.transfer(Math.max(1, Math.floor(t.warmup / t.conns)));
      }
    } catch (err) {
      await this.fail(err);
    }
  }

  private async transfer(bytesPerConn: number): Promise<{ sec: number; verified: boolean; exact: boolean }> {
    const chain = this.chain!;
    const link = this.link!;
    const d2c = this.t.direction === 'd2c';
    const src = d2c ? { p: chain.target, g: link.target } : { p: chain.loadgen, g: link.loadgen };
    const dst = d2c ? { p: chain.loadgen, g: link.loadgen } : { p: chain.target, g: link.target };
    await dst.p.call('arm', { group: dst.g, bytesPerConn });
    const t0 = performance.now();
    const [, w] = await Promise.all([
      src.p.call('send', { group: src.g, bytesPerConn, ...(this.t.writeSize ? { chunk: this.t.writeSize } : {}) }, 900_000),
      dst.p.call<{ verified: boolean; exact: boolean }>('wait', { group: dst.g, timeoutMs: 600_000 }, 900_000),
    ]);
    return { sec: (performance.now() - t0) / 1000, verified: w.verified, exact: w.exact };
  }

  /** One measured run. */
  async run(r: number): Promise<void> {
    if (this.result) return;
    const { ctx, t } = this;
    try {
      ctx.progress(`${t.key}: run ${r + 1}/${t.runs} (${Math.round((this.perConn * t.conns) / MiB)} MiB)`);
      const a = snap(this.members);
      const res = await this.transfer(this.perConn);
      const b = snap(this.members);
      const d = cpuDelta(a, b);
      ctx.benchCpu.sec += d.perMember.reduce((x, y) => x + y, 0);
      this.foreign += d.foreign;
      this.verified &&= res.verified && res.exact;
      this.mbps.push(round((this.perConn * t.conns) / res.sec / 1e6, 1));
      this.cpus.push(d.perMember);
      this.syscalls.push(d.sysPerMember);
    } catch (err) {
      await this.fail(err);
    }
  }

  private async fail(err: unknown): Promise<void> {
    this.result = failed(this.t.key, this.t.label, this.kind, err);
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.peaks?.stop();
    const chain = this.chain;
    this.chain = null;
    await chain?.stop();
  }

  /** The row's figures; tears the chain down. */
  async finish(): Promise<Row> {
    if (this.result) return this.result;
    const { t } = this;
    try {
      this.peaks!.stop();
      const gib = (this.perConn * t.conns) / GiB;
      const cpuMed = this.members.map((_, i) => median(this.cpus.map((c) => c[i] ?? 0)));
      const sysMed = this.members.map((_, i) => median(this.syscalls.map((c) => c[i] ?? 0)));
      const procs = procFigures(this.members, cpuMed, this.peaks!, gib, sysMed);
      // The hop next to the target sits where the agent sits; its CPU is comparable across chains.
      const hop = procs.find((p) => p.role === 'agent') ?? procs.find((p) => p.role === 'relay2');
      const metrics: Record<string, number> = { mbps: median(this.mbps), conns: t.conns, mib: round((this.perConn * t.conns) / MiB, 1) };
      if (hop?.cpuPerGiB !== undefined) metrics.hopCpuPerGiB = hop.cpuPerGiB;
      if (hop?.syscallsPerMiB !== undefined) metrics.hopSyscallsPerMiB = hop.syscallsPerMiB;
      const chainCpu = procs.filter((p) => p.role === 'agent' || p.role === 'cloud' || p.role.startsWith('relay')).reduce((x, p) => x + (p.cpuPerGiB ?? 0), 0);
      if (t.chain !== 'direct') metrics.hopsCpuPerGiB = round(chainCpu, 3);
      const agent = procs.find((p) => p.role === 'agent');
      if (agent) metrics.agentPeakRssMiB = agent.peakRssMiB;
      if (this.link?.open) metrics.setupP50Ms = this.link.open.setupP50Ms;
      await this.chain!.disconnect(this.link!);
      if (t.chain === 'engine') {
        // The engine's own peaks of bytes queued in user space per tunnel, from the summaries.
        const pk = await this.chain!.agent!.call<{ tunnels: number; maxUp: number; maxDown: number }>('peaks');
        if (pk.tunnels > 0) {
          metrics.peakQueuedUpKiB = round(pk.maxUp / 1024, 1);
          metrics.peakQueuedDownKiB = round(pk.maxDown / 1024, 1);
        }
        // Whether the agent masked natively (1) or in JavaScript (0): says what a -jsmask row measured.
        const st = await this.chain!.agent!.call<{ bufferutil?: boolean }>('stats');
        if (typeof st.bufferutil === 'boolean') metrics.bufferutil = st.bufferutil ? 1 : 0;
      }
      return { key: t.key, label: t.label, kind: this.kind, status: 'ok', metrics, procs, runs: this.mbps, verified: this.verified, foreignCpuSec: round(this.foreign, 2) };
    } catch (err) {
      return failed(t.key, t.label, this.kind, err);
    } finally {
      await this.stop();
    }
  }
}

/** Runs rows with their runs interleaved; all rows of a group must have the same number of runs. */
export async function throughputGroup(ctx: Ctx, specs: ThroughputSpec[]): Promise<Row[]> {
  const rows = specs.map((t) => new ThroughputRow(ctx, t));
  // Chains start (and warm up) side by side: nothing is measured yet, and process start-up is mostly waiting.
  await Promise.all(rows.map((r) => r.start()));
  const runs = Math.max(0, ...specs.map((t) => t.runs));
  for (let i = 0; i < runs; i++) for (const r of rows) await r.run(i);
  const out: Row[] = [];
  for (const r of rows) out.push(await r.finish());
  // The CPU ratio of the agent's hop to its baseline's comparable hop (bench/lib/baseline-hop.ts), same run.
  specs.forEach((t, i) => {
    const row = out[i]!;
    const ratio = cpuRatioOf(row, out.find((x) => x.key === t.baseline));
    if (ratio !== undefined) row.metrics.cpuRatio = ratio;
  });
  return out;
}

const CHAIN_LABEL: Record<ChainKind, string> = {
  direct: 'direct TCP (physical limit)',
  relay: 'plain Node relay x2 (pipe)',
  tlsrelay: 'plain Node relay x2 (pipe), TLS between them',
  socat: 'socat -b 65536 x2',
  naive: 'naive ws tunnel + bench cloud',
  websockify: 'naive ws tunnel + websockify',
  engine: 'engine (threads: 1, as the agent) + bench cloud',
};

/** Scenario 1: one tunnel, each direction. */
export async function scenario1(ctx: Ctx): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const kinds: ChainKind[] = ctx.mode === 'tiny' ? ['relay', 'engine'] : ['direct', 'relay', 'socat', 'websockify', 'naive', 'engine'];
  for (const direction of ['d2c', 'c2d'] as const) {
    const group: ThroughputSpec[] = [];
    for (const kind of kinds) {
      const key = `s1.${direction}.${kind}`;
      if (!wanted(ctx, key)) continue;
      group.push({ key, label: `${CHAIN_LABEL[kind]}, ${direction === 'd2c' ? 'device to cloud' : 'cloud to device'}`, chain: kind, conns: 1, bytes: ctx.sizes.s1Bytes, warmup: ctx.sizes.s1Warmup, runs: ctx.sizes.runs, direction });
    }
    rows.push(...(await throughputGroup(ctx, group)));
  }
  return {
    id: 's1',
    title: 'One tunnel: throughput and CPU per GiB',
    description: `One connection, ${Math.round(ctx.sizes.s1Bytes / MiB)} MiB per run, median of ${ctx.sizes.runs} run(s) after a ${Math.round(ctx.sizes.s1Warmup / MiB)} MiB warm-up, each direction; the runs of all rows of a direction alternate, so load from outside hits each row alike. Every chain has two hops between the load generator and the target; hopCpuPerGiB is the CPU of the hop in the agent's position (next to the target).`,
    rows,
  };
}

/** Scenario 2: aggregate throughput with many active tunnels (device to cloud). */
export async function scenario2(ctx: Ctx): Promise<ScenarioResult> {
  const rows: Row[] = [];
  for (const n of ctx.sizes.s2Counts) {
    const kinds: ChainKind[] = ctx.mode === 'tiny' ? ['engine'] : ctx.mode === 'quick' ? ['relay', 'naive', 'engine'] : ['direct', 'relay', 'socat', 'naive', 'engine'];
    const group: ThroughputSpec[] = [];
    for (const kind of kinds) {
      const key = `s2.n${n}.${kind}`;
      if (!wanted(ctx, key)) continue;
      if (kind === 'socat' && n > 100) {
        rows.push(skipped(key, `${CHAIN_LABEL[kind]}, ${n} tunnels`, 'baseline', 'socat forks a process per connection per hop (2,000 processes); not run above 100'));
        continue;
      }
      group.push({ key, label: `${CHAIN_LABEL[kind]}, ${n} tunnels`, chain: kind, conns: n, bytes: ctx.sizes.s2Total, warmup: Math.min(ctx.sizes.s2Total / 8, 128 * MiB), runs: ctx.sizes.s2Runs, direction: 'd2c' });
    }
    rows.push(...(await throughputGroup(ctx, group)));
  }
  return {
    id: 's2',
    title: 'Many active tunnels: aggregate throughput',
    description: `${Math.round(ctx.sizes.s2Total / MiB)} MiB per run spread evenly over N concurrent connections, device to cloud, median of ${ctx.sizes.s2Runs} run(s) after a warm-up.`,
    rows,
  };
}

/** Scenario 6: engine modes (worker threads, zero mask). */
export async function scenario6(ctx: Ctx): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const threads = ctx.mode === 'tiny' ? [0] : [0, 1, 2];
  for (const n of ctx.mode === 'full' ? [1, ctx.sizes.s6Many] : [1]) {
    const group: ThroughputSpec[] = [];
    for (const th of threads) {
      const key = `s6.n${n}.threads${th}`;
      if (wanted(ctx, key)) group.push({ key, label: `engine threads: ${th}, ${n} tunnel(s), random mask`, chain: 'engine', engine: { threads: th }, conns: n, bytes: ctx.sizes.s6Bytes, warmup: ctx.sizes.s6Bytes / 8, runs: ctx.sizes.runs, direction: 'd2c' });
    }
    for (const th of ctx.mode === 'tiny' ? [] : ctx.mode === 'quick' ? [1] : [0, 1]) {
      const key = `s6.n${n}.threads${th}.zeroMask`;
      if (wanted(ctx, key)) group.push({ key, label: `engine threads: ${th}, ${n} tunnel(s), zero mask (opt-in)`, chain: 'engine', engine: { threads: th }, spec: { zeroMask: true }, conns: n, bytes: ctx.sizes.s6Bytes, warmup: ctx.sizes.s6Bytes / 8, runs: ctx.sizes.runs, direction: 'd2c' });
    }
    const young = `s6.n${n}.threads1.young4`;
    if (ctx.mode === 'full' && wanted(ctx, young)) {
      group.push({ key: young, label: `engine threads: 1, ${n} tunnel(s), worker young generation 4 MiB`, chain: 'engine', engine: { threads: 1, resourceLimits: { maxYoungGenerationSizeMb: 4 } }, conns: n, bytes: ctx.sizes.s6Bytes, warmup: ctx.sizes.s6Bytes / 8, runs: ctx.sizes.runs, direction: 'd2c' });
    }
    rows.push(...(await throughputGroup(ctx, group)));
  }
  return {
    id: 's6',
    title: 'Engine modes: worker threads and mask',
    description: `Device to cloud, ${Math.round(ctx.sizes.s6Bytes / MiB)} MiB per run, median of ${ctx.sizes.runs}; threads: 0 runs tunnels on the main thread. zeroMask is the spec's opt-in all-zero mask (not RFC 6455 conformant). young4: resourceLimits.maxYoungGenerationSizeMb = 4 for the worker (what it costs in CPU; s3 shows what it saves in memory).`,
    rows,
  };
}
