/**
 * Turns a results file into docs/benchmarks.md (tables with ratios to the baselines of the same run) and
 * an SVG chart. Also runnable on its own: `node dist-test/bench/report.js <results.json> [--docs]`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baselineHopCpu, baselineKeyOf, baselineRole, cpuRatioOf, hopLabel } from './lib/baseline-hop.js';
import { renderSvg, type Panel } from './lib/svg.js';
import { evaluateTargets } from './lib/targets.js';
import type { Results, Row, ScenarioResult } from './lib/types.js';

const n = (v: number | undefined, d = 1): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: 0 }));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !b ? '–' : `${(a / b).toFixed(2)}×`);

function rowByKey(r: Results, key: string): Row | undefined {
  for (const s of r.scenarios) for (const x of s.rows) if (x.key === key && x.status === 'ok') return x;
  return undefined;
}

function status(x: Row): string {
  return x.status === 'ok' ? '' : `**${x.status}**: ${x.reason ?? ''}`;
}

function procCell(x: Row, perGiB: boolean): string {
  return (x.procs ?? []).map((p) => `${p.name} ${perGiB ? n(p.cpuPerGiB, 2) : n(p.cpuSec, 2)} / ${n(p.peakRssMiB, 0)}`).join('; ');
}

/** The baseline a throughput row is compared with: the relay (and direct) chain of the same shape. */
function throughputBase(r: Results, key: string): { relay?: number; direct?: number } {
  const m = /^(s1\.(?:d2c|c2d)|s2\.n\d+)\./.exec(key);
  let prefix = m?.[1];
  if (!prefix && key.startsWith('s6.n1.')) prefix = 's1.d2c';
  if (!prefix && key.startsWith('s6.n')) prefix = `s2.n${/^s6\.n(\d+)/.exec(key)?.[1]}`;
  const out: { relay?: number; direct?: number } = {};
  const rel = rowByKey(r, `${prefix}.relay`)?.metrics.mbps;
  const dir = rowByKey(r, `${prefix}.direct`)?.metrics.mbps;
  if (rel !== undefined) out.relay = rel;
  if (dir !== undefined) out.direct = dir;
  return out;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map((_h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((c) => `| ${c.join(' | ')} |`)].join('\n');
}

function scenarioTable(r: Results, s: ScenarioResult): string {
  switch (s.id) {
    case 's1':
    case 's2':
    case 's6':
      return table(
        ['row', 'MB/s', '× relay', '× direct', 'hop CPU-s/GiB', 'all hops CPU-s/GiB', 'runs MB/s', 'verified', 'per process: CPU-s/GiB / peak RSS MiB', 'status'],
        s.rows.map((x) => {
          const b = throughputBase(r, x.key);
          const m = x.metrics;
          return [x.label, n(m.mbps), ratio(m.mbps, b.relay), ratio(m.mbps, b.direct), n(m.hopCpuPerGiB, 2), n(m.hopsCpuPerGiB, 2), (x.runs ?? []).map((v) => n(v, 0)).join(', '), x.verified === undefined ? '' : x.verified ? 'yes' : '**NO**', procCell(x, true), status(x)];
        }),
      );
    case 's3':
      return table(
        ['row', 'RSS KiB/tunnel, idle (settled after s)', '× naive', 'RSS KiB/tunnel 1 s after opening', 'main-thread heap KiB/tunnel', 'agent RSS MiB (base)', 'open all, s', 'opens/s', 'setup p50 / p99 ms', 'cloud KiB/conn', 'status'],
        s.rows.map((x) => {
          const m = x.metrics;
          const naive = rowByKey(r, x.key.replace(/[^.]+$/, 'naive'))?.metrics;
          const idle = m.idleRssPerTunnelKiB === undefined ? '' : `${n(m.idleRssPerTunnelKiB, 1)} (${n(m.idleAfterSec, 0)})`;
          return [x.label, idle, ratio(m.idleRssPerTunnelKiB, naive?.idleRssPerTunnelKiB), n(m.rssPerTunnelKiB, 1), n(m.heapPerTunnelKiB, 1), `${n(m.agentRssMiB)} (${n(m.agentBaseRssMiB)})`, n(m.openSec, 2), n(m.opensPerSec, 0), `${n(m.setupP50Ms)} / ${n(m.setupP99Ms)}`, n(m.cloudRssPerConnKiB, 1), status(x)];
        }),
      );
    case 's4':
      return table(
        ['row', 'p50 µs', 'p99 µs', 'p99.9 µs', 'mean µs', '× relay p50', 'per process: CPU-s / peak RSS MiB', 'status'],
        s.rows.map((x) => {
          const m = x.metrics;
          const rel = rowByKey(r, x.key.replace(/[^.]+$/, 'relay'))?.metrics.p50Us;
          return [x.label, n(m.p50Us), n(m.p99Us), n(m.p999Us), n(m.meanUs), ratio(m.p50Us, rel), procCell(x, false), status(x)];
        }),
      );
    case 's8':
      return table(
        ['row', 'MB/s', 'agent (or relay 2) CPU-s/GiB', 'baseline hop CPU-s/GiB', 'CPU ratio', 'ratio to relay 2', 'read+write syscalls/MiB: agent (or relay 2) / baseline hop', 'peak queued up / down KiB', 'agent peak RSS MiB', 'runs MB/s', 'verified', 'per process: CPU-s/GiB / peak RSS MiB', 'status'],
        s.rows.map((x) => {
          const m = x.metrics;
          const baseKey = baselineKeyOf(x.key);
          const base = baseKey ? rowByKey(r, baseKey) : undefined;
          const ratio = cpuRatioOf(x, base);
          const r2 = base?.metrics.hopCpuPerGiB && m.hopCpuPerGiB !== undefined ? m.hopCpuPerGiB / base.metrics.hopCpuPerGiB : undefined;
          const q = m.peakQueuedUpKiB === undefined ? '' : `${n(m.peakQueuedUpKiB, 0)} / ${n(m.peakQueuedDownKiB, 0)}`;
          const hop = baseKey ? `${n(baselineHopCpu(base), 2)} (${hopLabel(baseKey)})` : '';
          const baseSys = baseKey ? base?.procs?.find((p) => p.role === baselineRole(baseKey))?.syscallsPerMiB : undefined;
          const sys = m.hopSyscallsPerMiB === undefined ? '' : baseKey ? `${n(m.hopSyscallsPerMiB, 0)} / ${n(baseSys, 0)}` : n(m.hopSyscallsPerMiB, 0);
          return [x.label, n(m.mbps), n(m.hopCpuPerGiB, 2), hop, ratio === undefined ? '' : `${ratio.toFixed(2)}×`, r2 === undefined ? '' : `${r2.toFixed(2)}×`, sys, q, n(m.agentPeakRssMiB, 0), (x.runs ?? []).map((v) => n(v, 0)).join(', '), x.verified === undefined ? '' : x.verified ? 'yes' : '**NO**', procCell(x, true), status(x)];
        }),
      );
    case 's5':
      return table(
        ['row', 'op p50 ms', 'op p99 ms', 'op p99.9 ms', 'sessions/s', 'in flight', 'loaded p50 / p99 ms', 'agent CPU ms/session', 'emulator CPU ms/session', 'per process: CPU-s / peak RSS MiB', 'status'],
        s.rows.map((x) => {
          const m = x.metrics;
          return [x.label, n(m.opP50Ms, 2), n(m.opP99Ms, 2), n(m.opP999Ms, 2), n(m.sessionsPerSec, 0), n(m.concurrency, 0), `${n(m.loadedP50Ms, 1)} / ${n(m.loadedP99Ms, 1)}`, n(m.agentCpuMsPerSession, 2), n(m.emulatorCpuMsPerSession, 2), procCell(x, false), status(x)];
        }),
      );
    default:
      return table(
        ['row', 'engine peak queued KiB/tunnel', 'arrayBuffers KiB/tunnel (main thread)', 'agent RSS growth KiB/tunnel', 'in flight KiB/tunnel (incl. kernel)', 'source blocked', 'verified after resume', 'status'],
        s.rows.map((x) => {
          const m = x.metrics;
          return [x.label, n(m.peakQueuedKiB, 0), n(m.arrayBuffersPerTunnelKiB, 0), n(m.heldPerTunnelKiB, 0), n(m.inFlightPerTunnelKiB, 0), m.stalled === undefined ? '' : m.stalled ? 'yes' : 'no', x.verified === undefined ? '' : x.verified ? 'yes' : '**NO**', status(x)];
        }),
      );
  }
}

/** The hand-written section that says which design choice bought which factor (kept across regenerations). */
const DESIGN_FILE = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/design-factors.md');

function designSection(): string {
  try {
    return readFileSync(DESIGN_FILE, 'utf8').trim();
  } catch {
    return '_Not written yet (bench/design-factors.md)._';
  }
}

/** The markdown document. */
export function markdown(r: Results, resultsRel: string, svgRel: string): string {
  const e = r.env;
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push(`Generated by \`npm run bench\` (${r.mode} mode) from [\`${resultsRel}\`](${resultsRel}); do not edit by hand. How to run, compare and profile: [bench/README.md](../bench/README.md).`, '');
  out.push(`![benchmark chart](${svgRel})`, '');
  out.push('## Environment', '');
  out.push(
    table(
      ['', ''],
      [
        ['CPU', `${e.cpu}, ${e.cores} cores, ${e.memGiB} GiB`],
        ['OS', `Linux ${e.kernel}, open-file limit ${e.openFileLimit}`],
        ['Node', `${e.node}${e.nodePath ? ` (${e.nodePath}; the harness ran on ${e.harnessNode})` : ''}`],
        ['package', `${e.package} at ${e.commit}${e.dirty ? ' (src modified)' : ''}`],
        ['dependencies', Object.entries(e.deps).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['baseline tools', Object.entries(e.tools).map(([k, v]) => `${k} ${v}`).join(', ')],
        ['run', `${r.startedAt}, ${Math.round(r.durationSec)} s`],
        ['load', `load average ${e.loadavgStart.join(' / ')} at the start, ${(e.loadavgEnd ?? []).join(' / ')} at the end; ${r.machine.foreignCpuSec} CPU-s of ${r.machine.busySec} busy CPU-s were outside the measured intervals or not ours`],
      ],
    ).replace('|---|---:|', '|---|---|'),
    '',
  );
  out.push('All processes of a chain share the same cores, so every figure is a loopback figure on a busy 2-core machine; compare rows within one run. CPU-s/GiB carries over to other machines better than MB/s. MB/s = 10^6 bytes/s.', '');
  out.push('## Targets', '');
  out.push(
    table(
      ['target', 'engine', 'limit', 'baseline (same run)', 'met'],
      // Evaluated anew from the rows, so that a report of an older results file uses today's definitions.
      evaluateTargets(r.scenarios).map((t) => [t.text, t.value === null ? '–' : `${n(t.value, 2)} ${t.unit}`, t.limit === null ? '–' : `${n(t.limit, 2)}`, t.baseline ? `${t.baseline.key}: ${t.baseline.value === null ? '–' : n(t.baseline.value, 2)}` : '', t.met === null ? 'not measured' : `${t.met ? 'yes' : '**no**'}${t.note ? ` (${t.note})` : ''}`]),
    ),
    '',
  );
  for (const s of r.scenarios) {
    out.push(`## ${s.id}. ${s.title}`, '', s.description, '', scenarioTable(r, s), '');
  }
  out.push('## Which design choice bought which factor', '', '(Hand-written in [bench/design-factors.md](../bench/design-factors.md); the tables above are generated.)', '', designSection(), '');
  return out.join('\n');
}

const label = (x: Row): string => x.label.replace(/, (device to cloud|cloud to device)$/, '').replace(/ \+ bench cloud/, '');

/** The chart's panels. */
export function panels(r: Results): Panel[] {
  const p: Panel[] = [];
  const sc = (id: string): Row[] => r.scenarios.find((s) => s.id === id)?.rows ?? [];
  const bar = (x: Row, v: number | undefined, lab = label(x)): Panel['bars'][number] => ({ label: lab, value: x.status === 'ok' && v !== undefined ? v : null, engine: x.kind === 'engine', ...(x.status !== 'ok' ? { note: x.status } : {}) });
  // MB/s bars carry their per-run figures: the chart shows the run-to-run spread.
  const mbps = (x: Row, lab = label(x)): Panel['bars'][number] => ({ ...bar(x, x.metrics.mbps, lab), ...(x.status === 'ok' && x.runs && x.runs.length > 1 ? { runs: x.runs } : {}) });
  for (const dir of ['d2c', 'c2d']) {
    const rows = sc('s1').filter((x) => x.key.startsWith(`s1.${dir}.`));
    if (rows.length) p.push({ title: `1. One tunnel, ${dir === 'd2c' ? 'device to cloud' : 'cloud to device'}`, unit: 'MB/s', bars: rows.map((x) => mbps(x)) });
  }
  const cpuRows = sc('s1').filter((x) => x.key.startsWith('s1.d2c.') && !x.key.endsWith('.direct'));
  if (cpuRows.length) p.push({ title: '1. CPU of the hop next to the target, device to cloud', unit: 'CPU-s/GiB', lowerIsBetter: true, bars: cpuRows.map((x) => bar(x, x.metrics.hopCpuPerGiB)), limit: { value: 1.0, label: 'target 1.0' } });
  const s2 = sc('s2');
  if (s2.length) p.push({ title: '2. Aggregate throughput, N tunnels', unit: 'MB/s', bars: s2.map((x) => mbps(x, `${label(x).replace(/, \d+ tunnels$/, '')} ×${x.metrics.conns ?? /n(\d+)/.exec(x.key)?.[1]}`)) });
  const s3 = sc('s3');
  if (s3.length) p.push({ title: '3. Idle tunnels: agent RSS per tunnel', unit: 'KiB', lowerIsBetter: true, bars: s3.map((x) => bar(x, x.metrics.idleRssPerTunnelKiB ?? x.metrics.rssPerTunnelKiB, `${/n(\d+)/.exec(x.key)?.[1]} × ${x.key.split('.').pop()}`)), limit: { value: 16, label: 'target 16' } });
  const s4 = sc('s4');
  if (s4.length) p.push({ title: '4. 1-byte round trip p50', unit: 'µs', lowerIsBetter: true, bars: s4.map((x) => bar(x, x.metrics.p50Us, `${x.key.includes('.busy.') ? 'busy: ' : ''}${label(x).replace(/, \d+ busy neighbours$/, '')}`)) });
  const s5 = sc('s5');
  if (s5.length) {
    p.push({ title: '5. Operation to SUCCESSFUL, p50', unit: 'ms', lowerIsBetter: true, bars: s5.map((x) => bar(x, x.metrics.opP50Ms)), limit: { value: 2, label: 'target 2 ms' } });
    p.push({ title: '5. Session set-ups per second', unit: 'sessions/s', bars: s5.map((x) => bar(x, x.metrics.sessionsPerSec)), limit: { value: 1000, label: 'target 1,000/s' } });
  }
  const s6 = sc('s6');
  if (s6.length) p.push({ title: '6. Engine modes, device to cloud', unit: 'MB/s', bars: s6.map((x) => mbps(x, x.key.replace(/^s6\./, '').replace('threads', 't'))) });
  const s7 = sc('s7');
  if (s7.length) p.push({ title: '7. Stalled reader: bytes one tunnel holds in user space', unit: 'KiB', lowerIsBetter: true, bars: s7.map((x) => bar(x, x.metrics.peakQueuedKiB ?? x.metrics.arrayBuffersPerTunnelKiB, x.key.replace(/^s7\./, ''))) });
  const s8 = sc('s8').filter((x) => x.kind === 'engine' && !x.key.includes('.frame'));
  if (s8.length) p.push({ title: '8. Agent CPU per GiB over its baseline fed the same writes', unit: '× baseline', lowerIsBetter: true, bars: s8.map((x) => bar(x, cpuRatioOf(x, rowByKey(r, baselineKeyOf(x.key) ?? '')), x.key.replace(/^s8\./, ''))), limit: { value: 1.0, label: 'target 1.0 (0.8 at 64 KiB)' } });
  return p;
}

/** Writes the markdown and SVG (and the docs copy of the SVG). */
export function writeReport(r: Results, o: { svgPath: string; mdPath: string; docsSvgPath?: string | undefined; resultsFile: string }): void {
  const svg = renderSvg(`c8y-tunnel benchmarks (${r.mode})`, `${r.env.cpu}, ${r.env.cores} cores, Node ${r.env.node}, ${r.env.package} at ${r.env.commit}, ${r.startedAt}`, panels(r));
  writeFileSync(o.svgPath, svg);
  if (o.docsSvgPath) writeFileSync(o.docsSvgPath, svg);
  const mdDir = dirname(o.mdPath);
  const svgRel = relative(mdDir, o.docsSvgPath ?? o.svgPath) || basename(o.svgPath);
  writeFileSync(o.mdPath, markdown(r, relative(mdDir, o.resultsFile), svgRel));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist-test/bench/report.js <results.json> [--docs]\n');
    process.exit(2);
  }
  const r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const abs = resolve(file);
  const docs = process.argv.includes('--docs');
  writeReport(r, {
    svgPath: abs.replace(/\.json$/, '.svg'),
    mdPath: docs ? resolve(root, 'docs/benchmarks.md') : abs.replace(/\.json$/, '.md'),
    docsSvgPath: docs ? resolve(root, 'docs/benchmarks.svg') : undefined,
    resultsFile: abs,
  });
}
