/**
 * `npm run profile -- <row key or scenario> [--tool cpu-prof|flame|doctor] [--full]`
 *
 * Runs matching rows (quick sizes unless --full) with the agent process profiled: `--cpu-prof` (default;
 * prints the top self-time functions of every thread), or clinic flame/doctor (HTML report; clinic needs
 * NO_INSIGHT=1 in a non-interactive shell, set here). Profiles go to bench/results/profiles/.
 * Rows with an agent process in scenarios s1, s2, s4, s6 and s8 can be profiled.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarise } from './lib/cpuprofile.js';
import { SIZES, type Ctx } from './lib/context.js';
import { SCENARIOS } from './scenarios/index.js';

const distDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(distDir, '../..');

async function main(argv: string[]): Promise<number> {
  const target = argv.find((a) => !a.startsWith('--') && argv[argv.indexOf(a) - 1] !== '--tool');
  const ti = argv.indexOf('--tool');
  const tool = ti >= 0 ? argv[ti + 1] ?? '' : 'cpu-prof';
  if (!target || !['cpu-prof', 'flame', 'doctor'].includes(tool)) {
    process.stderr.write('usage: npm run profile -- <row key or scenario, e.g. s1.d2c.engine or s4> [--tool cpu-prof|flame|doctor] [--full]\n');
    return 2;
  }
  const scenarioId = target.split('.')[0]!;
  const scenario = SCENARIOS.find((s) => s.id === scenarioId);
  if (!scenario || !['s1', 's2', 's4', 's6', 's8'].includes(scenario.id)) {
    process.stderr.write(`profile: ${target}: only rows of s1, s2, s4, s6 and s8 run an agent that can be profiled\n`);
    return 2;
  }
  const dir = join(root, 'bench/results/profiles', `${new Date().toISOString().replace(/[:.]/g, '-')}-${target}-${tool}`);
  mkdirSync(dir, { recursive: true });
  const mode = argv.includes('--full') ? 'full' : 'quick';
  const ctx: Ctx = {
    mode,
    sizes: SIZES[mode],
    distDir,
    progress: (m) => process.stderr.write(`[profile] ${m}\n`),
    rowFilter: target.includes('.') ? [target] : [],
    benchCpu: { sec: 0 },
  };
  if (tool === 'cpu-prof') {
    ctx.agentExecArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  } else {
    process.env.NO_INSIGHT = '1';
    ctx.agentWrap = [join(root, 'node_modules/.bin/clinic'), tool, '--dest', dir, '--'];
  }
  const res = await scenario.run(ctx);
  for (const r of res.rows) {
    const main = r.metrics.mbps ?? r.metrics.p50Us;
    process.stdout.write(`${r.key}: ${r.status}${main !== undefined ? ` ${main}` : ''}${r.reason ? ` (${r.reason})` : ''} (profiled, so slower than a real run)\n`);
  }
  if (tool === 'cpu-prof') {
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.cpuprofile'))) process.stdout.write(summarise(join(dir, f)).join('\n') + '\n\n');
  }
  process.stdout.write(`profiles: ${dir}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`profile: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
