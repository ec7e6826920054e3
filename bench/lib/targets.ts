/** The performance targets, evaluated from one run's rows against baselines from the same run. */
import type { Row, ScenarioResult, Target } from './types.js';

function find(scenarios: ScenarioResult[], key: string): Row | undefined {
  for (const s of scenarios) for (const r of s.rows) if (r.key === key) return r;
  return undefined;
}

function metric(scenarios: ScenarioResult[], key: string, m: string): number | null {
  const r = find(scenarios, key);
  const v = r?.status === 'ok' ? r.metrics[m] : undefined;
  return v === undefined || !Number.isFinite(v) ? null : v;
}

/** Evaluates every target; a target whose rows did not run has met: null. */
export function evaluateTargets(s: ScenarioResult[]): Target[] {
  const out: Target[] = [];
  const cpu = metric(s, 's1.d2c.engine', 'hopCpuPerGiB');
  out.push({ id: 'cpu-per-gib', text: "the agent's CPU per GiB device to cloud at most 1.0 s", value: cpu, unit: 'CPU-s/GiB', limit: 1.0, baseline: { key: 's1.d2c.relay (relay 2, next to the target)', value: metric(s, 's1.d2c.relay', 'hopCpuPerGiB') }, met: cpu === null ? null : cpu <= 1.0 });
  for (const dir of ['d2c', 'c2d'] as const) {
    const v = metric(s, `s1.${dir}.engine`, 'mbps');
    const b = metric(s, `s1.${dir}.relay`, 'mbps');
    out.push({ id: `throughput-${dir}`, text: `one tunnel's throughput (${dir === 'd2c' ? 'device to cloud' : 'cloud to device'}) at least that of the plain Node relay`, value: v, unit: 'MB/s', limit: b, baseline: { key: `s1.${dir}.relay`, value: b }, met: v === null || b === null ? null : v >= b });
  }
  const idle = metric(s, 's3.n8000.engine-t1', 'rssPerTunnelKiB');
  out.push({ id: 'idle-rss', text: "8,000 concurrent idle sessions in one agent process at no more than 16 KiB RSS each (the agent's default threads: 1)", value: idle, unit: 'KiB/tunnel', limit: 16, baseline: { key: 's3.n8000.naive', value: metric(s, 's3.n8000.naive', 'rssPerTunnelKiB') }, met: idle === null ? null : idle <= 16 });
  const rtt = metric(s, 's4.alone.engine', 'p50Us');
  const rttBase = metric(s, 's4.alone.relay', 'p50Us');
  out.push({ id: 'rtt', text: '1-byte round trip at most 1.1 times that of the 2-hop plain relay chain (p50)', value: rtt, unit: 'µs', limit: rttBase === null ? null : Math.round(rttBase * 1.1 * 10) / 10, baseline: { key: 's4.alone.relay', value: rttBase }, met: rtt === null || rttBase === null ? null : rtt <= rttBase * 1.1 });
  const op = metric(s, 's5.agent', 'opP50Ms');
  out.push({ id: 'setup-p50', text: 'operation to SUCCESSFUL p50 at most 2 ms', value: op, unit: 'ms', limit: 2, met: op === null ? null : op <= 2 });
  const rate = metric(s, 's5.agent', 'sessionsPerSec');
  out.push({ id: 'setup-rate', text: 'at least 1,000 session setups per second', value: rate, unit: 'sessions/s', limit: 1000, met: rate === null ? null : rate >= 1000 });
  return out;
}
