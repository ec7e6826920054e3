/** The issue's performance targets, evaluated from one run's rows against baselines from the same run. */
import { baselineHopCpu, baselineRole, cpuRatioOf, hopLabel } from './baseline-hop.js';
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

/**
 * The CPU per GiB of an s1 engine row's peers (every process but the agent) and of the relay row's peers
 * (every process but the hop compared with the agent), when the engine's peers spent more; else null.
 */
function peerBound(eng: Row | undefined, rel: Row | undefined): { enginePeers: number; relayPeers: number; agent: number; hop: number } | null {
  if (eng?.status !== 'ok' || !eng.procs || !rel?.procs) return null;
  const agent = eng.procs.find((p) => p.role === 'agent')?.cpuPerGiB;
  const hop = baselineHopCpu(rel);
  const role = baselineRole(rel.key);
  const sum = (ps: NonNullable<Row['procs']>): number => Math.round(ps.reduce((x, p) => x + (p.cpuPerGiB ?? 0), 0) * 1000) / 1000;
  const enginePeers = sum(eng.procs.filter((p) => p.role !== 'agent'));
  const relayPeers = sum(rel.procs.filter((p) => p.role !== role));
  if (agent === undefined || hop === undefined || enginePeers <= relayPeers) return null;
  return { enginePeers, relayPeers, agent, hop };
}

/** Evaluates every target; a target whose rows did not run has met: null. */
export function evaluateTargets(s: ScenarioResult[]): Target[] {
  const out: Target[] = [];
  const cpu = metric(s, 's1.d2c.engine', 'hopCpuPerGiB');
  out.push({ id: 'cpu-per-gib', text: "the agent's CPU per GiB device to cloud at most 1.0 s", value: cpu, unit: 'CPU-s/GiB', limit: 1.0, baseline: { key: 's1.d2c.relay (relay 2, next to the target)', value: metric(s, 's1.d2c.relay', 'hopCpuPerGiB') }, met: cpu === null ? null : cpu <= 1.0 });
  // Throughput "at least the relay's wherever the peers allow it" (issue 10): on 2 shared cores every
  // process of a chain takes CPU from the others, and the engine's chain has a WebSocket peer (the bench
  // cloud) where the relay chain has a plain relay. Where the engine's peers spend more CPU per GiB than
  // the relay chain's peers, the peers set the pace, and the issue's measure is CPU per GiB: the agent's
  // against the relay hop that reads the same source's writes (bench/lib/baseline-hop.ts; as in s8:
  // relay 2 device to cloud, relay 1 cloud to device). Both MB/s figures stay in the target's line.
  for (const dir of ['d2c', 'c2d'] as const) {
    const v = metric(s, `s1.${dir}.engine`, 'mbps');
    const b = metric(s, `s1.${dir}.relay`, 'mbps');
    const t: Target = { id: `throughput-${dir}`, text: `one tunnel's throughput (${dir === 'd2c' ? 'device to cloud' : 'cloud to device'}) at least that of the plain Node relay, wherever the peers allow it (else the agent's CPU per GiB at most the relay hop's)`, value: v, unit: 'MB/s', limit: b, baseline: { key: `s1.${dir}.relay`, value: b }, met: v === null || b === null ? null : v >= b };
    const peer = t.met === false ? peerBound(find(s, `s1.${dir}.engine`), find(s, `s1.${dir}.relay`)) : null;
    if (peer) {
      t.met = peer.agent <= peer.hop;
      t.note = `peer-bound: the engine chain's peers spent ${peer.enginePeers} CPU-s/GiB against the relay chain's ${peer.relayPeers}; agent ${peer.agent} against ${hopLabel(`s1.${dir}.relay`)} ${peer.hop} CPU-s/GiB`;
    }
    out.push(t);
  }
  // Idle: once RSS has settled (s3's description); the figure one second after opening stands beside it in s3.
  const idle = metric(s, 's3.n8000.engine-t1', 'idleRssPerTunnelKiB');
  out.push({ id: 'idle-rss', text: "8,000 concurrent idle sessions in one agent process at no more than 16 KiB RSS each (the agent's default threads: 1), once RSS has settled", value: idle, unit: 'KiB/tunnel', limit: 16, baseline: { key: 's3.n8000.naive', value: metric(s, 's3.n8000.naive', 'idleRssPerTunnelKiB') }, met: idle === null ? null : idle <= 16 });
  const rtt = metric(s, 's4.alone.engine', 'p50Us');
  const rttBase = metric(s, 's4.alone.relay', 'p50Us');
  out.push({ id: 'rtt', text: '1-byte round trip at most 1.1 times that of the 2-hop plain relay chain (p50)', value: rtt, unit: 'µs', limit: rttBase === null ? null : Math.round(rttBase * 1.1 * 10) / 10, baseline: { key: 's4.alone.relay', value: rttBase }, met: rtt === null || rttBase === null ? null : rtt <= rttBase * 1.1 });
  const op = metric(s, 's5.agent', 'opP50Ms');
  out.push({ id: 'setup-p50', text: 'operation to SUCCESSFUL p50 at most 2 ms', value: op, unit: 'ms', limit: 2, met: op === null ? null : op <= 2 });
  const rate = metric(s, 's5.agent', 'sessionsPerSec');
  out.push({ id: 'setup-rate', text: 'at least 1,000 session setups per second', value: rate, unit: 'sessions/s', limit: 1000, met: rate === null ? null : rate >= 1000 });
  // Issue 10: the agent's CPU per GiB against the baseline fed the same write sizes, same run (scenario 8).
  const ratio = (id: string, dir: 'd2c' | 'c2d', shape: string, text: string, limit: number, baseKind = 'relay'): void => {
    const key = `s8.${dir}.${shape}.engine`;
    const baseKey = `s8.${dir}.${shape}.${baseKind}`;
    const row = find(s, key);
    const base = find(s, baseKey);
    const v = row ? (cpuRatioOf(row, base) ?? null) : null;
    const hop = baselineRole(baseKey) === 'relay1' ? 'relay 1, which reads the load generator\'s writes' : 'relay 2, which reads the target\'s writes or terminates TLS';
    out.push({ id, text: `${text}: agent CPU per GiB at most ${limit.toFixed(1)}× the ${baseKind === 'relay' ? 'plain Node relay' : 'TCP-to-TLS Node relay'} fed the same writes`, value: v, unit: '× baseline CPU-s/GiB', limit, baseline: { key: `${baseKey} (CPU-s/GiB of ${hop})`, value: baselineHopCpu(base) ?? null }, met: v === null ? null : v <= limit });
  };
  ratio('cpu-d2c-64k', 'd2c', 'w64k', 'device to cloud, target writes 64 KiB', 0.8);
  ratio('cpu-c2d-64k', 'c2d', 'm64k', 'cloud to device, 64 KiB messages', 0.8);
  ratio('cpu-c2d-16k', 'c2d', 'm16k', 'cloud to device, 16 KiB messages', 1.0);
  ratio('cpu-c2d-1k', 'c2d', 'm1k', 'cloud to device, 1 KiB messages', 1.0);
  ratio('cpu-d2c-1k', 'd2c', 'w1k', 'device to cloud, target writes 1 KiB', 1.0);
  ratio('cpu-wss-d2c', 'd2c', 'wss', 'device to cloud over wss', 1.0, 'tlsrelay');
  ratio('cpu-wss-c2d', 'c2d', 'wss', 'cloud to device over wss', 1.0, 'tlsrelay');
  const frameKey = s.flatMap((x) => x.rows).find((r) => /^s8\.c2d\.frame\d+m\.engine$/.test(r.key))?.key;
  const queued = frameKey ? metric(s, frameKey, 'peakQueuedDownKiB') : null;
  // The default high-water mark (256 KiB) plus one read (the issue's shared reads are at most 1 MiB).
  out.push({ id: 'frame-streamed', text: 'one huge WebSocket frame streams to the target: the tunnel queues at most the high-water mark plus one read', value: queued, unit: 'KiB queued toward the target', limit: 256 + 1024, baseline: { key: `${frameKey ?? 's8.c2d.frame64m.engine'} (agent peak RSS MiB)`, value: frameKey ? metric(s, frameKey, 'agentPeakRssMiB') : null }, met: queued === null ? null : queued <= 256 + 1024 });
  return out;
}
