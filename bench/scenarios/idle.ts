/**
 * Scenario 3: idle scale. N concurrent idle tunnels in one agent process; the cloud (bench cloud, holding
 * every session) and the target live in other processes, since each process may open 20,000 files.
 * RSS per tunnel = (agent RSS after opening - RSS before, both after a full GC) / N, twice: one second after
 * the last tunnel opened, and once the tunnels have been idle long enough for RSS to settle (settledRss).
 */
import type { EngineOptions } from 'c8y-tunnel';
import { Chain, type ChainKind } from '../lib/chain.js';
import { failed, wanted, type Ctx } from '../lib/context.js';
import type { SelfUsage } from '../lib/ipc.js';
import { rssKiB } from '../lib/procstat.js';
import { round } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';

interface IdleImpl {
  id: string;
  label: string;
  chain: ChainKind;
  engine?: EngineOptions;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The agent's RSS once idle. Opening thousands of tunnels at once grows what V8 sizes by the allocation
 * rate (each isolate's young generation, old-space pages), and a full GC leaves that size; V8's memory
 * reducer gives it back on its own, about 8 s after a GC once allocation is low. A forced GC would restart
 * that wait, so the process is left alone: RSS is sampled every 2 s, without a GC, until it falls by less
 * than 1 % of the tunnels' share in 2 s, after `minSec` at the least (15 in full and quick runs) and
 * `maxSec` at most (40); then one full GC, as for the other figures.
 */
async function settledRss(agent: { pid: number; call<T>(cmd: string): Promise<T> }, baseKiB: number, [minSec, maxSec]: [number, number]): Promise<{ rssKiB: number; sec: number }> {
  const t0 = Date.now();
  let prev = rssKiB(agent.pid);
  for (;;) {
    await settle(2000);
    const now = rssKiB(agent.pid);
    const sec = (Date.now() - t0) / 1000;
    if ((sec >= minSec && prev - now < 0.01 * Math.max(1, now - baseKiB)) || sec >= maxSec) break;
    prev = now;
  }
  return { rssKiB: (await agent.call<SelfUsage>('gc')).rssKiB, sec: (Date.now() - t0) / 1000 };
}

async function idleRow(ctx: Ctx, impl: IdleImpl, n: number): Promise<Row> {
  const key = `s3.n${n}.${impl.id}`;
  const label = `${impl.label}, ${n} idle tunnels`;
  const kind: Row['kind'] = impl.chain === 'engine' ? 'engine' : 'baseline';
  let chain: Chain | null = null;
  try {
    ctx.progress(`${key}: starting`);
    const co: Parameters<typeof Chain.start>[0] = { kind: impl.chain, distDir: ctx.distDir };
    if (impl.engine) co.engine = impl.engine;
    if (ctx.agentEnv) co.agentEnv = ctx.agentEnv;
    chain = await Chain.start(co);
    const agent = chain.agent!;
    // Warm-up: load every module and start the workers, then measure from there.
    const warm = await chain.connectHold(Math.min(20, n));
    await chain.disconnect(warm);
    await settle(300);
    const before = await agent.call<SelfUsage>('gc');
    const cloudBefore = rssKiB(chain.cloud!.pid);
    const targetBefore = rssKiB(chain.target.pid);
    ctx.progress(`${key}: opening ${n} tunnels`);
    const link = await chain.connectHold(n);
    await settle(500);
    await agent.call('gc');
    await settle(500);
    const after = await agent.call<SelfUsage>('gc');
    ctx.progress(`${key}: waiting for RSS to settle`);
    const idle = await settledRss(agent, before.rssKiB, ctx.sizes.s3SettleSec);
    // Counted after the wait: a figure from tunnels that ended meanwhile would mean nothing.
    const stillOpen = await agent.call<number>('count');
    const metrics: Record<string, number> = {
      tunnels: n,
      rssPerTunnelKiB: round((after.rssKiB - before.rssKiB) / n, 2),
      idleRssPerTunnelKiB: round((idle.rssKiB - before.rssKiB) / n, 2),
      idleAfterSec: round(idle.sec, 1),
      heapPerTunnelKiB: round((after.heapUsed - before.heapUsed) / 1024 / n, 2),
      agentRssMiB: round(after.rssKiB / 1024, 1),
      agentBaseRssMiB: round(before.rssKiB / 1024, 1),
      openSec: round(link.open.elapsedMs / 1000, 3),
      opensPerSec: round(n / (link.open.elapsedMs / 1000), 0),
      setupP50Ms: link.open.setupP50Ms,
      setupP99Ms: link.open.setupP99Ms,
      cloudRssPerConnKiB: round((rssKiB(chain.cloud!.pid) - cloudBefore) / n, 2),
      targetRssPerConnKiB: round((rssKiB(chain.target.pid) - targetBefore) / n, 2),
      stillOpen,
    };
    ctx.progress(`${key}: closing`);
    await chain.disconnect(link);
    return { key, label, kind, status: 'ok', metrics };
  } catch (err) {
    return failed(key, label, kind, err);
  } finally {
    await chain?.stop();
  }
}

/** Scenario 3. */
export async function scenario3(ctx: Ctx): Promise<ScenarioResult> {
  const impls: IdleImpl[] = [
    { id: 'engine-t1', label: "engine, threads: 1 (the agent's default)", chain: 'engine', engine: { threads: 1 } },
    { id: 'engine-t0', label: 'engine, threads: 0 (main thread)', chain: 'engine', engine: { threads: 0 } },
    { id: 'engine-t2', label: 'engine, threads: 2', chain: 'engine', engine: { threads: 2 } },
    // Tuning, not a default: a smaller young generation for the worker isolate (see bench/README.md).
    { id: 'engine-t1-young4', label: 'engine, threads: 1, resourceLimits.maxYoungGenerationSizeMb: 4', chain: 'engine', engine: { threads: 1, resourceLimits: { maxYoungGenerationSizeMb: 4 } } },
    { id: 'naive', label: 'naive TCP + WebSocket pair (main thread)', chain: 'naive' },
  ];
  const rows: Row[] = [];
  for (const n of ctx.sizes.s3Counts) {
    for (const impl of impls) {
      if (ctx.mode === 'tiny' && impl.id !== 'engine-t0') continue;
      if (ctx.mode === 'quick' && impl.id !== 'engine-t1' && impl.id !== 'naive') continue;
      if (ctx.mode === 'full' && impl.id === 'engine-t1-young4' && n < 8000) continue;
      if (!wanted(ctx, `s3.n${n}.${impl.id}`)) continue;
      rows.push(await idleRow(ctx, impl, n));
    }
  }
  return {
    id: 's3',
    title: 'Idle scale: RSS per tunnel and time to open',
    description: "N idle tunnels (TCP to the target plus WebSocket to the cloud, both held open) in one agent process (tunnelsPerWorker raised to 10,000: with the default 512 the engine refuses the rest with TUN_ERR_CAPACITY). RSS and heap are measured after a full GC, against the same process after a warm-up: one second after the last tunnel opened, and idle, once RSS has settled (sampled every 2 s, without forcing a GC, until it falls by less than 1 % in 2 s; 15 s at the least: V8's memory reducer gives back about 8 s after a GC, once allocation is low, what the burst of opens grew, each isolate's young generation above all). Time to open covers all N with at most 256 setting up at once.",
    rows,
  };
}
