/**
 * `npm run bench [-- --quick] [--only s1,s4] [--rows engine] [--out DIR] [--no-docs] [--engine-module dist/index.js] [--node PATH]`
 *
 * Runs the scenarios, every hop in its own process, and writes bench/results/<date>-<sha>[-quick].json;
 * a full run also regenerates docs/benchmarks.md and docs/benchmarks.svg.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIZES, type Ctx, type Mode } from './lib/context.js';
import { environment } from './lib/env.js';
import { machineCpu } from './lib/procstat.js';
import { round } from './lib/stats.js';
import { evaluateTargets } from './lib/targets.js';
import type { Results, ScenarioResult } from './lib/types.js';
import { writeReport } from './report.js';
import { SCENARIOS } from './scenarios/index.js';

const distDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(distDir, '../..');

interface Args {
  mode: Mode;
  only: string[];
  rows: string[];
  out: string;
  docs: boolean;
  engineModule?: string;
  freeze: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { mode: 'full', only: [], rows: [], out: join(root, 'bench/results'), docs: true, freeze: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.split('=', 2) as [string, string | undefined];
    const value = (): string => inline ?? argv[++i] ?? '';
    switch (flag) {
      case '--quick':
        a.mode = 'quick';
        break;
      case '--tiny':
        a.mode = 'tiny';
        break;
      case '--only':
        a.only.push(...value().split(','));
        break;
      case '--rows':
        a.rows.push(...value().split(','));
        break;
      case '--out':
        a.out = resolve(value());
        break;
      case '--engine-module':
        a.engineModule = resolve(value());
        break;
      case '--node':
        // Every benchmark process (agent, cloud, relays, ends, emulator) runs with this Node binary.
        process.env.BENCH_NODE = resolve(value());
        break;
      case '--no-freeze':
        a.freeze = false;
        break;
      case '--no-docs':
        a.docs = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(`usage: npm run bench [-- --quick] [--only s1,s2,...] [--rows <key substring>,...] [--out DIR] [--no-docs] [--no-freeze] [--engine-module <another build's index.js>] [--node <node binary for every bench process; or BENCH_NODE>]\nscenarios: ${SCENARIOS.map((s) => `${s.id} (${s.title})`).join(', ')}\n`);
        process.exit(0);
        break;
      default:
        process.stderr.write(`bench: unknown option ${arg}\n`);
        process.exit(2);
    }
  }
  // Only a full run of every scenario describes the project; partial or quick runs leave the docs alone.
  if (a.mode !== 'full' || a.only.length > 0 || a.rows.length > 0 || a.engineModule) a.docs = a.docs && argv.includes('--docs');
  return a;
}

/** A progress line: rewritten in place on a terminal, one line per step otherwise. */
function progressPrinter(t0: number): (msg: string) => void {
  const tty = process.stderr.isTTY;
  return (msg) => {
    const s = `[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}`;
    if (tty) process.stderr.write(`\r\x1b[2K${s.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(s + '\n');
  };
}

/**
 * Copies dist/, bin/ and package.json aside so that every process of the run uses the build the run
 * started with, even when someone rebuilds the shared tree meanwhile.
 */
function freeze(): string {
  const dir = join(root, 'bench/results/tmp', `frozen-${process.pid}-${Date.now()}`);
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
  return dir;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.env.BENCH_NODE && !existsSync(process.env.BENCH_NODE)) {
    process.stderr.write(`bench: --node / BENCH_NODE: no such file ${process.env.BENCH_NODE}\n`);
    process.exit(2);
  }
  const t0 = Date.now();
  const startedAt = new Date(t0).toISOString();
  const env = environment(root);
  const m0 = machineCpu();
  const ctx: Ctx = { mode: args.mode, sizes: SIZES[args.mode], distDir, progress: progressPrinter(t0), rowFilter: args.rows, benchCpu: { sec: 0 } };
  let frozen: string | undefined;
  if (args.engineModule) ctx.agentEnv = { BENCH_ENGINE_MODULE: args.engineModule };
  else if (args.freeze && args.mode === 'full') {
    frozen = freeze();
    ctx.agentEnv = { BENCH_ENGINE_MODULE: join(frozen, 'dist/index.js'), BENCH_SIM_MODULE: join(frozen, 'dist/sim/index.js') };
    ctx.cli = join(frozen, 'bin/c8y-tunnel.js');
  }
  const scenarios: ScenarioResult[] = [];
  for (const s of SCENARIOS) {
    if (args.only.length > 0 && !args.only.includes(s.id)) continue;
    ctx.progress(`${s.id}: ${s.title}`);
    scenarios.push(await s.run(ctx));
  }
  if (frozen) rmSync(frozen, { recursive: true, force: true });
  const m1 = machineCpu();
  const wallSec = (Date.now() - t0) / 1000;
  env.loadavgEnd = loadavg().map((x) => round(x, 2));
  const foreign = Math.max(0, m1.busySec - m0.busySec - ctx.benchCpu.sec);
  const results: Results = {
    schema: 1,
    mode: args.mode,
    startedAt,
    durationSec: round(wallSec, 1),
    env,
    machine: {
      busySec: round(m1.busySec - m0.busySec, 1),
      wallSec: round(wallSec, 1),
      benchCpuSec: round(ctx.benchCpu.sec, 1),
      foreignCpuSec: round(foreign, 1),
      note: 'busySec: all CPU time on the machine during the run; benchCpuSec: the measured processes inside measured intervals; the rest includes the harness, set-up phases and anything else running (other engineers\' tests).',
    },
    ...(args.engineModule ? { engineModule: args.engineModule } : {}),
    scenarios,
    targets: evaluateTargets(scenarios),
  };
  mkdirSync(args.out, { recursive: true });
  const day = startedAt.slice(0, 10);
  const base = `${day}-${env.commit}${env.dirty ? '-dirty' : ''}${args.mode === 'full' ? '' : `-${args.mode}`}${args.engineModule ? '-ab' : ''}${env.nodePath ? `-node${/^v(\d+)/.exec(env.node)?.[1] ?? 'x'}` : ''}${args.mode === 'full' && !args.engineModule ? '' : `-${startedAt.slice(11, 19).replace(/:/g, '')}`}`;
  const file = join(args.out, `${base}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  const svg = join(args.out, `${base}.svg`);
  writeReport(results, { svgPath: svg, mdPath: args.docs ? join(root, 'docs/benchmarks.md') : join(args.out, `${base}.md`), docsSvgPath: args.docs ? join(root, 'docs/benchmarks.svg') : undefined, resultsFile: file });
  process.stderr.write(process.stderr.isTTY ? '\n' : '');
  let bad = 0;
  for (const s of scenarios) {
    for (const r of s.rows) {
      if (r.status === 'failed') bad++;
      const main = r.metrics.mbps ?? r.metrics.p50Us ?? r.metrics.idleRssPerTunnelKiB ?? r.metrics.rssPerTunnelKiB ?? r.metrics.opP50Ms ?? r.metrics.peakQueuedKiB ?? r.metrics.arrayBuffersPerTunnelKiB;
      process.stdout.write(`${r.key.padEnd(34)} ${r.status.padEnd(7)} ${main !== undefined ? String(main).padStart(9) : ''.padStart(9)}  ${r.status !== 'ok' ? r.reason ?? '' : ''}\n`);
    }
  }
  for (const t of results.targets) process.stdout.write(`target ${t.id}: ${t.met === null ? 'n/a' : t.met ? 'met' : 'NOT met'} (${t.value ?? '-'} ${t.unit}, limit ${t.limit ?? '-'}${t.note ? `; ${t.note}` : ''}) ${t.text}\n`);
  process.stdout.write(`results: ${file}\n`);
  process.exitCode = bad > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
