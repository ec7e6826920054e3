/**
 * `npm run bench:compare -- A.json B.json [--all] [--threshold 5]`: the change from A to B for every row
 * and figure the two files share, worst first within each scenario. Figures where smaller is better
 * (CPU, latency, memory, time) count a decrease as an improvement.
 */
import { readFileSync } from 'node:fs';
import type { Results, Row } from './lib/types.js';

const LOWER_BETTER = /CpuPerGiB|^cpuRatio$|Us$|Ms$|KiB$|MiB$|Sec$|CpuMsPerSession/;
const INFO = new Set(['conns', 'mib', 'tunnels', 'roundTrips', 'concurrency', 'operations', 'neighbours', 'neighbourMiB', 'stillOpen', 'stalled', 'agentBaseRssMiB', 'bufferutil']);

function load(file: string): Results {
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  if (r.schema !== 1 || !Array.isArray(r.scenarios)) throw new Error(`${file} is not a bench results file`);
  return r;
}

function rows(r: Results): Map<string, Row> {
  const m = new Map<string, Row>();
  for (const s of r.scenarios) for (const x of s.rows) m.set(x.key, x);
  return m;
}

/** Percent change from a to b, signed so that positive is better. */
export function gain(metric: string, a: number, b: number): number {
  if (a === 0) return 0;
  const pct = ((b - a) / Math.abs(a)) * 100;
  return LOWER_BETTER.test(metric) ? -pct : pct;
}

function main(argv: string[]): number {
  const files = argv.filter((x) => !x.startsWith('--'));
  const all = argv.includes('--all');
  const ti = argv.indexOf('--threshold');
  const threshold = ti >= 0 ? Number(argv[ti + 1]) : 5;
  if (ti >= 0) files.splice(files.indexOf(argv[ti + 1]!), 1);
  if (files.length !== 2) {
    process.stderr.write('usage: npm run bench:compare -- <A.json> <B.json> [--all] [--threshold <percent>]\n');
    return 2;
  }
  const [A, B] = [load(files[0]!), load(files[1]!)];
  const ra = rows(A);
  const rb = rows(B);
  const w = (s: string, n: number): string => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));
  process.stdout.write(`A: ${files[0]} (${A.mode}, ${A.env.commit}, ${A.startedAt})\nB: ${files[1]} (${B.mode}, ${B.env.commit}, ${B.startedAt})\n`);
  if (A.mode !== B.mode) process.stdout.write(`note: modes differ (${A.mode} vs ${B.mode}); sizes differ too\n`);
  process.stdout.write(`changes of at least ${threshold}% (${all ? 'all figures' : 'main figures; --all for every figure'}); + is better\n\n`);
  process.stdout.write(`${w('row', 36)} ${w('figure', 22)} ${'A'.padStart(10)} ${'B'.padStart(10)} ${'change'.padStart(9)}\n`);
  let shown = 0;
  for (const [key, a] of ra) {
    const b = rb.get(key);
    if (!b) {
      process.stdout.write(`${w(key, 36)} only in A\n`);
      continue;
    }
    if (a.status !== 'ok' || b.status !== 'ok') {
      if (a.status !== b.status) process.stdout.write(`${w(key, 36)} ${a.status} -> ${b.status}\n`);
      continue;
    }
    for (const [metric, va] of Object.entries(a.metrics)) {
      const vb = b.metrics[metric];
      if (vb === undefined || INFO.has(metric)) continue;
      if (!all && !/^(mbps|hopCpuPerGiB|p50Us|p99Us|rssPerTunnelKiB|idleRssPerTunnelKiB|opP50Ms|sessionsPerSec|peakQueuedKiB|arrayBuffersPerTunnelKiB|cpuRatio|peakQueuedDownKiB)$/.test(metric)) continue;
      const g = gain(metric, va, vb);
      if (Math.abs(g) < threshold) continue;
      shown++;
      const sign = g >= 0 ? '+' : '';
      process.stdout.write(`${w(key, 36)} ${w(metric, 22)} ${String(va).padStart(10)} ${String(vb).padStart(10)} ${(sign + g.toFixed(1) + '%').padStart(9)}\n`);
    }
  }
  for (const key of rb.keys()) if (!ra.has(key)) process.stdout.write(`${w(key, 36)} only in B\n`);
  if (shown === 0) process.stdout.write(`(no figure moved by ${threshold}% or more)\n`);
  process.stdout.write('\ntargets:\n');
  for (const tb of B.targets) {
    const ta = A.targets.find((t) => t.id === tb.id);
    const f = (t: typeof tb | undefined): string => (t ? `${t.value ?? '–'} ${t.met === null ? '(n/a)' : t.met ? '(met)' : '(not met)'}` : '–');
    process.stdout.write(`  ${w(tb.id, 18)} ${w(f(ta), 24)} -> ${f(tb)}\n`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
