/**
 * Scenario 5: session set-up through the coordinator and MQTT. The emulator (its own process) creates
 * c8y_RemoteAccessConnect operations; the agent (`c8y-tunnel agent`, its own process) takes them over
 * MQTT, opens the tunnel to the target (its own process) and reports SUCCESSFUL. Latency is timed in the
 * emulator from just before an operation is created to its SUCCESSFUL; first one at a time, then with
 * many in flight for the sustained rate.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpuDelta, failed, skipped, snap, wanted, type Ctx } from '../lib/context.js';
import { benchNode, startNode, type Proc } from '../lib/ipc.js';
import { PeakSampler } from '../lib/procstat.js';
import { round } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';

interface RunResult {
  ok: number;
  failed: number;
  firstFailure?: string;
  elapsedMs: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  meanMs: number;
}

async function setupRow(ctx: Ctx, key: string, label: string, threads: number): Promise<Row> {
  const root = resolve(ctx.distDir, '../..');
  const cli = ctx.cli ?? resolve(root, 'bin/c8y-tunnel.js');
  if (!existsSync(resolve(root, 'dist/agent/index.js')) || !existsSync(resolve(root, 'dist/sim/index.js'))) {
    return skipped(key, label, 'engine', 'the agent (src/agent) or the emulator (src/sim) is not built');
  }
  let sim: Proc | null = null;
  let target: Proc | null = null;
  let agent: ChildProcess | null = null;
  let peaks: PeakSampler | null = null;
  let agentErr = '';
  try {
    ctx.progress(`${key}: starting emulator, target and agent`);
    [sim, target] = await Promise.all([startNode('sim', `${ctx.distDir}/procs/sim-host.js`, { quiet: true, ...(ctx.agentEnv ? { env: ctx.agentEnv } : {}) }), startNode('target', `${ctx.distDir}/procs/tcp-end.js`, { quiet: true })]);
    const info = await sim.call<{ httpUrl: string; mqttUrl: string; tenant: string; devicePassword: string }>('start', {});
    const serial = 'bench-device';
    const deviceId = await sim.call<string>('device', { serial });
    const t = await target.call<{ group: number; port: number }>('listen', { role: 'sink' });
    const args = [cli, 'agent', '--host', info.httpUrl, '--mqtt-url', info.mqttUrl, '--tenant', info.tenant, '--user', `device_${serial}`, '--device-id', serial, '--log-level', 'error', '--log-format', 'json', '--threads', String(threads), '--max-sessions', '10000'];
    agent = spawn(benchNode(), args, { env: { ...process.env, C8Y_PASSWORD: info.devicePassword }, stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (d: Buffer) => (agentErr = (agentErr + d.toString()).slice(-2000)));
    const agentPid = agent.pid!;
    await sim.call('waitAgent', { serial, timeoutMs: 30_000 }, 35_000);
    const members = [
      { role: 'agent' as const, name: 'c8y-tunnel agent', pid: agentPid },
      { role: 'cloud' as const, name: 'emulator', pid: sim.pid },
      { role: 'target' as const, name: 'target', pid: target.pid },
    ];
    peaks = new PeakSampler(members.map((m) => m.pid));
    const op = { deviceId, hostname: '127.0.0.1', port: t.port };
    ctx.progress(`${key}: warm-up`);
    await sim.call('run', { ...op, count: ctx.sizes.s5Warmup, concurrency: 1 }, 120_000);
    ctx.progress(`${key}: ${ctx.sizes.s5Ops} operations one at a time`);
    const a0 = snap(members);
    const seq = await sim.call<RunResult>('run', { ...op, count: ctx.sizes.s5Ops, concurrency: 1 }, 600_000);
    const a1 = snap(members);
    const concurrency = ctx.mode === 'tiny' ? 4 : 64;
    ctx.progress(`${key}: ${ctx.sizes.s5Ops} operations, ${concurrency} in flight`);
    const par = await sim.call<RunResult>('run', { ...op, count: ctx.sizes.s5Ops, concurrency }, 600_000);
    const a2 = snap(members);
    peaks.stop();
    const dSeq = cpuDelta(a0, a1);
    const dPar = cpuDelta(a1, a2);
    ctx.benchCpu.sec += [...dSeq.perMember, ...dPar.perMember].reduce((x, y) => x + y, 0);
    if (seq.failed + par.failed > 0) throw new Error(`${seq.failed + par.failed} operations FAILED: ${seq.firstFailure ?? par.firstFailure}`);
    const metrics: Record<string, number> = {
      opP50Ms: seq.p50Ms,
      opP99Ms: seq.p99Ms,
      opP999Ms: seq.p999Ms,
      opMeanMs: seq.meanMs,
      sessionsPerSec: par.perSec,
      concurrency,
      loadedP50Ms: par.p50Ms,
      loadedP99Ms: par.p99Ms,
      agentCpuMsPerSession: round(((dPar.perMember[0] ?? 0) * 1000) / par.ok, 3),
      emulatorCpuMsPerSession: round(((dPar.perMember[1] ?? 0) * 1000) / par.ok, 3),
      operations: seq.ok + par.ok,
    };
    const procs = members.map((m, i) => ({ role: m.role, name: m.name, cpuSec: round((dPar.perMember[i] ?? 0) + (dSeq.perMember[i] ?? 0), 3), peakRssMiB: round(peaks!.peakKiB(m.pid) / 1024, 1) }));
    return { key, label, kind: 'engine', status: 'ok', metrics, procs, foreignCpuSec: round(dSeq.foreign + dPar.foreign, 2) };
  } catch (err) {
    const row = failed(key, label, 'engine', err);
    if (agentErr) row.reason = `${row.reason} (agent: ${agentErr.trim().split('\n').pop()?.slice(0, 200)})`;
    return row;
  } finally {
    peaks?.stop();
    if (agent && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      const k = setTimeout(() => agent!.kill('SIGKILL'), 8_000);
      await exited;
      clearTimeout(k);
    }
    try {
      await sim?.call('stopSim', {}, 10_000);
    } catch {
      // stopping anyway
    }
    await Promise.all([sim?.stop(), target?.stop()]);
  }
}

/** Scenario 5. */
export async function scenario5(ctx: Ctx): Promise<ScenarioResult> {
  const rows: Row[] = [];
  const variants: Array<[string, string, number]> = [
    ['s5.agent', 'c8y-tunnel agent (default: 1 worker thread)', 1],
    ['s5.agent-t0', 'c8y-tunnel agent --threads 0', 0],
  ];
  for (const [key, label, threads] of variants) {
    if (ctx.mode !== 'full' && threads !== 1) continue;
    if (wanted(ctx, key)) rows.push(await setupRow(ctx, key, label, threads));
  }
  return {
    id: 's5',
    title: 'Session set-up: operation to SUCCESSFUL',
    description: `The emulator creates c8y_RemoteAccessConnect operations for the device; the agent receives them over MQTT, opens the tunnel and reports SUCCESSFUL. Latency: ${ctx.sizes.s5Ops} operations one at a time (after ${ctx.sizes.s5Warmup} warm-up), timed in the emulator from creation to SUCCESSFUL. Rate: ${ctx.sizes.s5Ops} more with many in flight; each session is closed as soon as it is SUCCESSFUL.`,
    rows,
  };
}
