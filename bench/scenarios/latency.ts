/**
 * Scenario 4: 1-byte ping-pong from the load generator to an echo target through the chain, alone and
 * with busy neighbours (other tunnels through the same hops, each carrying a steady stream from the
 * target to the load generator). The rows of a group stay up together and take turns in five rounds,
 * so that load from outside the benchmark hits each row alike.
 */
import { Chain, unavailable, type ChainKind, type Link, type Member } from '../lib/chain.js';
import { chainOptions, cpuDelta, failed, procFigures, skipped, snap, wanted, type Ctx } from '../lib/context.js';
import { PeakSampler } from '../lib/procstat.js';
import { latencySummary, round } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';

const LABEL: Record<ChainKind, string> = {
  direct: 'direct TCP',
  relay: 'plain Node relay x2',
  tlsrelay: 'plain Node relay x2, TLS between them',
  socat: 'socat x2',
  naive: 'naive ws tunnel + bench cloud',
  websockify: 'naive ws tunnel + websockify',
  engine: 'engine (threads: 1) + bench cloud',
};

/** Neighbour load: 16 KiB every 10 ms per neighbour (about 1.6 MB/s each). */
const TICK_BYTES = 16 * 1024;
const TICK_MS = 10;
const ROUNDS = 5;

class LatencyRow {
  readonly key: string;
  readonly label: string;
  private readonly kind: Row['kind'];
  private chain: Chain | null = null;
  private ping: Link | null = null;
  private busy: Link | null = null;
  private peaks: PeakSampler | null = null;
  private members: Member[] = [];
  private result: Row | null = null;
  private readonly rtts: number[] = [];
  private cpu: number[] = [];
  private foreign = 0;
  private bad = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly chainKind: ChainKind,
    private readonly neighbours: number,
  ) {
    this.key = `s4.${neighbours ? 'busy' : 'alone'}.${chainKind}`;
    this.label = `${LABEL[chainKind]}${neighbours ? `, ${neighbours} busy neighbours` : ''}`;
    this.kind = chainKind === 'engine' ? 'engine' : 'baseline';
  }

  async start(): Promise<void> {
    const why = unavailable(this.chainKind);
    if (why) {
      this.result = skipped(this.key, this.label, this.kind, why);
      return;
    }
    try {
      const { ctx } = this;
      ctx.progress(`${this.key}: starting`);
      this.chain = await Chain.start(chainOptions(ctx, this.chainKind));
      this.ping = await this.chain.connect(1, 'echo', 'pinger');
      if (this.neighbours > 0) {
        ctx.progress(`${this.key}: opening ${this.neighbours} neighbours`);
        this.busy = await this.chain.connect(this.neighbours, 'source', 'sink');
      }
      this.members = this.chain.members();
      this.cpu = this.members.map(() => 0);
      this.peaks = new PeakSampler(this.members.map((m) => m.pid));
      // Unmeasured round trips: JIT and buffers.
      await this.chain.loadgen.call('ping', { group: this.ping.loadgen, count: 0, warmup: 200 }, 120_000);
    } catch (err) {
      await this.fail(err);
    }
  }

  async round(i: number): Promise<void> {
    if (this.result) return;
    const { ctx } = this;
    const chain = this.chain!;
    const count = Math.ceil(ctx.sizes.s4RoundTrips / ROUNDS);
    try {
      ctx.progress(`${this.key}: round ${i + 1}/${ROUNDS}, ${count} round trips`);
      if (this.busy) {
        await chain.target.call('stream', { group: this.busy.target, bytesPerTick: TICK_BYTES, intervalMs: TICK_MS });
        await new Promise((r) => setTimeout(r, 200));
      }
      const a = snap(this.members);
      const res = await chain.loadgen.call<{ bad: number; rtts: number[] }>('ping', { group: this.ping!.loadgen, count, warmup: 20, raw: true }, 600_000);
      const b = snap(this.members);
      if (this.busy) await chain.target.call('stopStream', { group: this.busy.target });
      const d = cpuDelta(a, b);
      ctx.benchCpu.sec += d.perMember.reduce((x, y) => x + y, 0);
      d.perMember.forEach((v, k) => (this.cpu[k]! += v));
      this.foreign += d.foreign;
      this.bad += res.bad;
      for (const v of res.rtts) this.rtts.push(v);
    } catch (err) {
      await this.fail(err);
    }
  }

  private async fail(err: unknown): Promise<void> {
    this.result = failed(this.key, this.label, this.kind, err);
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.peaks?.stop();
    const c = this.chain;
    this.chain = null;
    await c?.stop();
  }

  async finish(): Promise<Row> {
    if (this.result) return this.result;
    try {
      this.peaks!.stop();
      const chain = this.chain!;
      if (this.bad > 0) throw new Error(`${this.bad} round trips returned the wrong byte`);
      const s = latencySummary(this.rtts);
      const metrics: Record<string, number> = { p50Us: s.p50, p99Us: s.p99, p999Us: s.p999, meanUs: s.mean, maxUs: s.max, roundTrips: s.n };
      if (this.busy) {
        const pr = await chain.loadgen.call<{ rx: number }>('progress', { group: this.busy.loadgen });
        metrics.neighbours = this.neighbours;
        metrics.neighbourMiB = Math.round(pr.rx / 1048576);
        await chain.disconnect(this.busy);
      }
      await chain.disconnect(this.ping!);
      return { key: this.key, label: this.label, kind: this.kind, status: 'ok', metrics, procs: procFigures(this.members, this.cpu, this.peaks!), verified: true, foreignCpuSec: round(this.foreign, 2) };
    } catch (err) {
      return failed(this.key, this.label, this.kind, err);
    } finally {
      await this.stop();
    }
  }
}

async function latencyGroup(ctx: Ctx, kinds: ChainKind[], neighbours: number): Promise<Row[]> {
  const rows = kinds.map((k) => new LatencyRow(ctx, k, neighbours)).filter((r) => wanted(ctx, r.key));
  for (const r of rows) await r.start();
  for (let i = 0; i < ROUNDS; i++) for (const r of rows) await r.round(i);
  const out: Row[] = [];
  for (const r of rows) out.push(await r.finish());
  return out;
}

/** Scenario 4. */
export async function scenario4(ctx: Ctx): Promise<ScenarioResult> {
  const alone: ChainKind[] = ctx.mode === 'tiny' ? ['relay', 'engine'] : ctx.mode === 'quick' ? ['direct', 'relay', 'naive', 'engine'] : ['direct', 'relay', 'socat', 'websockify', 'naive', 'engine'];
  const busy: ChainKind[] = ctx.mode === 'tiny' ? ['engine'] : ctx.mode === 'quick' ? ['relay', 'engine'] : ['relay', 'naive', 'engine'];
  const rows = [...(await latencyGroup(ctx, alone, 0)), ...(await latencyGroup(ctx, busy, ctx.sizes.s4Neighbours))];
  return {
    id: 's4',
    title: 'Latency: 1-byte round trips',
    description: `${ctx.sizes.s4RoundTrips} round trips of 1 byte from the load generator to an echo target, in ${ROUNDS} rounds that alternate between the rows of a group (after 200 unmeasured); microseconds. Busy neighbours: ${ctx.sizes.s4Neighbours} other connections through the same hops, each receiving 16 KiB every 10 ms from the target while the pinger runs.`,
    rows,
  };
}
