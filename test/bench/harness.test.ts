/**
 * The benchmark harness keeps working: a tiny run of every scenario (real processes, real sockets)
 * writes a results file of the right shape in which every transferred byte was verified. Never timing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const benchDir = resolve(fileURLToPath(import.meta.url), '../../../bench');
const TARGET_IDS = ['cpu-per-gib', 'throughput-d2c', 'throughput-c2d', 'idle-rss', 'rtt', 'setup-p50', 'setup-rate', 'cpu-d2c-64k', 'cpu-c2d-64k', 'cpu-c2d-16k', 'cpu-c2d-1k', 'cpu-d2c-1k', 'cpu-wss-d2c', 'cpu-wss-c2d', 'frame-streamed'];

interface Row {
  key: string;
  status: string;
  reason?: string;
  metrics: Record<string, number>;
  verified?: boolean;
  procs?: Array<{ role: string; name: string; cpuSec: number; peakRssMiB: number; cpuPerGiB?: number; syscallsPerMiB?: number }>;
}

function run(script: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [join(benchDir, script), ...args], { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('a tiny run of every scenario writes verified results, a report and a chart', { timeout: 90_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = await run('run.js', ['--tiny', '--only', 's1,s2,s3,s4,s5,s6,s7', '--out', out, '--no-docs'], 85_000);
  assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  const files = readdirSync(out);
  const json = files.find((f) => /-tiny-\d{6}\.json$/.test(f));
  assert.ok(json, `no results file in ${files.join(', ')}`);
  assert.ok(files.includes(json.replace(/\.json$/, '.md')), 'markdown report written next to the results');
  const svg = readFileSync(join(out, json.replace(/\.json$/, '.svg')), 'utf8');
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<rect [^>]*fill="#1f77b4"/, 'the chart draws engine bars');

  const res = JSON.parse(readFileSync(join(out, json), 'utf8')) as {
    schema: number;
    mode: string;
    env: Record<string, unknown>;
    machine: Record<string, number | string>;
    scenarios: Array<{ id: string; title: string; description: string; rows: Row[] }>;
    targets: Array<{ id: string; met: boolean | null; unit: string }>;
  };
  assert.equal(res.schema, 1);
  assert.equal(res.mode, 'tiny');
  for (const k of ['cpu', 'cores', 'node', 'package', 'commit', 'deps', 'tools', 'loadavgStart']) assert.ok(k in res.env, `env.${k}`);
  assert.equal(typeof res.machine.busySec, 'number');
  assert.deepEqual(res.scenarios.map((s) => s.id), ['s1', 's2', 's3', 's4', 's5', 's6', 's7']);
  const rows = new Map(res.scenarios.flatMap((s) => s.rows).map((x) => [x.key, x]));
  for (const x of rows.values()) {
    assert.ok(x.status === 'ok' || (x.status === 'skipped' && x.reason), `${x.key}: ${x.status} ${x.reason ?? ''}`);
  }
  const ok = (key: string): Row => {
    const x = rows.get(key);
    assert.ok(x, `row ${key} present`);
    assert.equal(x.status, 'ok', `${key}: ${x.reason ?? ''}`);
    return x;
  };
  // Throughput rows: every byte arrived exactly once and in order; each process has its CPU and peak RSS.
  for (const key of ['s1.d2c.relay', 's1.d2c.engine', 's1.c2d.relay', 's1.c2d.engine', 's2.n5.engine', 's6.n1.threads0']) {
    const x = ok(key);
    assert.equal(x.verified, true, `${key} verified`);
    assert.ok(x.metrics.mbps! > 0, `${key} mbps`);
    assert.ok(x.procs && x.procs.length >= 3, `${key} procs`);
    for (const p of x.procs) {
      assert.ok(p.cpuSec >= 0 && p.peakRssMiB > 0, `${key} ${p.name}: ${JSON.stringify(p)}`);
      assert.equal(typeof p.cpuPerGiB, 'number');
      assert.ok(p.syscallsPerMiB === undefined || p.syscallsPerMiB > 0, `${key} ${p.name}: syscalls per MiB`);
    }
  }
  assert.deepEqual(ok('s1.d2c.engine').procs!.map((p) => p.role), ['agent', 'cloud', 'target', 'loadgen']);
  assert.deepEqual(ok('s1.d2c.relay').procs!.map((p) => p.role), ['relay1', 'relay2', 'target', 'loadgen']);
  // Every throughput hop makes read and write syscalls: /proc/<pid>/io is readable for our own processes.
  assert.ok(ok('s1.d2c.engine').metrics.hopSyscallsPerMiB! > 0, 'the agent hop has a syscall count');
  const idle = ok('s3.n20.engine-t0');
  assert.equal(idle.metrics.tunnels, 20);
  assert.equal(idle.metrics.stillOpen, 20, 'every idle tunnel stayed open');
  assert.ok(Number.isFinite(idle.metrics.rssPerTunnelKiB) && Number.isFinite(idle.metrics.idleRssPerTunnelKiB) && idle.metrics.opensPerSec! > 0);
  assert.ok(idle.metrics.idleAfterSec! >= 2 && idle.metrics.idleAfterSec! < 10, `the settling wait keeps to the tiny bounds: ${idle.metrics.idleAfterSec}`);
  for (const key of ['s4.alone.relay', 's4.alone.engine', 's4.busy.engine']) {
    const x = ok(key);
    assert.equal(x.metrics.roundTrips, 200);
    assert.ok(x.metrics.p50Us! > 0 && x.metrics.p50Us! <= x.metrics.p99Us! && x.metrics.p99Us! <= x.metrics.p999Us!, `${key} percentiles ordered`);
  }
  assert.ok(ok('s4.busy.engine').metrics.neighbourMiB! >= 0);
  const setup = rows.get('s5.agent');
  assert.ok(setup, 's5.agent present');
  if (setup.status === 'ok') {
    assert.equal(setup.metrics.operations, 40, 'every operation reached SUCCESSFUL');
    assert.ok(setup.metrics.opP50Ms! > 0 && setup.metrics.sessionsPerSec! > 0);
  }
  const stall = ok('s7.d2c.engine-t0');
  assert.equal(stall.verified, true, 'the stalled tunnel delivered every byte after the reader resumed');
  assert.equal(stall.metrics.stalled, 1, 'the source was blocked while the reader stalled');
  assert.deepEqual(res.targets.map((x) => x.id), TARGET_IDS);

  // Comparing a file with itself reports no change.
  const c = await run('compare.js', [join(out, json), join(out, json)], 10_000);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /no figure moved/);
});

test('a tiny run of the traffic-shape rows (s8): every row verified, beside its baseline, with CPU ratios and targets', { timeout: 240_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'bench-test-s8-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const r = await run('run.js', ['--tiny', '--only', 's8', '--out', out, '--no-docs'], 235_000);
  assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  const json = readdirSync(out).find((f) => /-tiny-\d{6}\.json$/.test(f));
  assert.ok(json, 'results file');
  const res = JSON.parse(readFileSync(join(out, json), 'utf8')) as { scenarios: Array<{ id: string; rows: Row[] }>; targets: Array<{ id: string; met: boolean | null; value: number | null }> };
  assert.deepEqual(res.scenarios.map((s) => s.id), ['s8']);
  const rows = new Map(res.scenarios[0]!.rows.map((x) => [x.key, x]));
  const pairs: Array<[engine: string, baseline: string]> = [
    ['s8.d2c.w64k.engine', 's8.d2c.w64k.relay'],
    ['s8.d2c.w64k.engine-jsmask', 's8.d2c.w64k.relay'],
    ['s8.d2c.w1k.engine', 's8.d2c.w1k.relay'],
    ['s8.c2d.m64k.engine', 's8.c2d.m64k.relay'],
    ['s8.c2d.m16k.engine', 's8.c2d.m16k.relay'],
    ['s8.c2d.m1k.engine', 's8.c2d.m1k.relay'],
    ['s8.d2c.wss.engine', 's8.d2c.wss.tlsrelay'],
    ['s8.c2d.wss.engine', 's8.c2d.wss.tlsrelay'],
  ];
  const ok = (key: string): Row => {
    const x = rows.get(key);
    assert.ok(x, `row ${key} present`);
    assert.equal(x.status, 'ok', `${key}: ${x.reason ?? ''}`);
    // Every byte arrived exactly once and in order (the sink compares the pattern byte for byte).
    assert.equal(x.verified, true, `${key} verified`);
    assert.ok(x.metrics.mbps! > 0 && typeof x.metrics.hopCpuPerGiB === 'number', `${key} MB/s and CPU-s/GiB`);
    for (const p of x.procs ?? []) assert.equal(typeof p.cpuPerGiB, 'number', `${key} ${p.name} CPU-s/GiB`);
    return x;
  };
  for (const [e, b] of pairs) {
    ok(b);
    const x = ok(e);
    assert.deepEqual(x.procs!.map((p) => p.role), ['agent', 'cloud', 'target', 'loadgen']);
    assert.ok(x.metrics.cpuRatio === undefined || x.metrics.cpuRatio >= 0, `${e} cpuRatio`);
    assert.equal(typeof x.metrics.peakQueuedDownKiB, 'number', `${e} peak queued`);
  }
  assert.equal(rows.get('s8.d2c.w64k.engine-jsmask')!.metrics.bufferutil, 0, 'the JS-mask row ran without bufferutil');
  assert.deepEqual(ok('s8.d2c.wss.tlsrelay').procs!.map((p) => p.role), ['relay1', 'relay2', 'target', 'loadgen']);
  const frame = ok('s8.c2d.frame4m.engine');
  assert.ok(frame.metrics.agentPeakRssMiB! > 0 && typeof frame.metrics.peakQueuedDownKiB === 'number', 'the frame row reports peak RSS and peak queued');
  assert.deepEqual(res.targets.map((x) => x.id), TARGET_IDS);
  assert.equal(res.targets.find((x) => x.id === 'frame-streamed')!.value, frame.metrics.peakQueuedDownKiB);
  const md = readFileSync(join(out, json.replace(/\.json$/, '.md')), 'utf8');
  assert.match(md, /## s8\. Traffic shapes/);
  assert.match(md, /## Which design choice bought which factor/);
});
