/**
 * The agent process under signals and at start-up: SIGHUP stops it gracefully, SIGUSR2 does not kill it,
 * and start-up failures and lines name the right thing (metrics port, every missing setting, the MQTT URL
 * without its secrets, no echo of a misplaced secret).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { closeServer, echoServer, listen0, waitFor } from '../helpers/net.js';
import { exitWithin, BIN, simEnv, spawnAgent, type AgentProc } from '../helpers/agent-proc.js';

const simOptions = { quiet: true, password: 'Adm1n-pw-7f3a9c', devicePassword: 'Dev1ce-pw-5e2b8d' };
const JSON_LOG = ['--log-format', 'json', '--log-level', 'info'];

async function runningAgent(t: { after(fn: () => unknown): void }, serial: string, args: string[] = []): Promise<{ p: AgentProc; sim: Awaited<ReturnType<typeof startSim>>; deviceId: string }> {
  const sim = await startSim(simOptions);
  t.after(() => sim.close());
  const { id: deviceId } = await sim.createDevice(serial);
  const p = spawnAgent([...JSON_LOG, ...args], simEnv(sim, serial));
  t.after(() => p.kill('SIGKILL'));
  await waitFor(() => p.json().some((l) => l.msg === 'MQTT connected'), 15_000, 'agent connected');
  return { p, sim, deviceId };
}

describe('faults: signals', () => {
  it('18. SIGHUP (the ssh session that started the agent dropped) stops it gracefully: the open session gets its grace, "agent stopped", exit 0', { timeout: 30_000 }, async (t) => {
    const { p, sim, deviceId } = await runningAgent(t, 'sighup-1', ['--grace-ms', '2000']);
    const echo = await echoServer();
    t.after(() => echo.close());
    const op = await sim.createRemoteAccessOperation(deviceId, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    p.kill('SIGHUP');
    const exit = await exitWithin(p, 10_000, 'agent exit after SIGHUP');
    assert.deepEqual([exit.code, exit.signal], [0, null], `exit after SIGHUP: ${p.err().slice(-500)}`);
    const msgs = p.json().map((l) => l.msg);
    assert.ok(msgs.includes('signal received, stopping'), msgs.join(' | '));
    assert.ok(msgs.includes('agent stopped'), msgs.join(' | '));
  });

  it('19. SIGUSR2 does not kill the agent: it logs the signal and keeps serving; SIGTERM then stops it', { timeout: 30_000 }, async (t) => {
    const { p, sim, deviceId } = await runningAgent(t, 'sigusr2-1');
    p.kill('SIGUSR2');
    await waitFor(() => p.json().some((l) => l.msg === 'signal ignored' && l.signal === 'SIGUSR2'), 5000, 'SIGUSR2 logged');
    const echo = await echoServer();
    t.after(() => echo.close());
    const op = await sim.createRemoteAccessOperation(deviceId, { hostname: '127.0.0.1', port: echo.port });
    assert.equal((await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
    p.kill('SIGTERM');
    const exit = await exitWithin(p, 10_000, 'agent exit after SIGTERM');
    assert.deepEqual([exit.code, exit.signal], [0, null]);
  });
});

describe('faults: start-up lines', () => {
  it('20. a busy --metrics-port is AGENT_ERR_METRICS naming the port (not AGENT_ERR_MQTT), exit 1', { timeout: 20_000 }, async (t) => {
    const sim = await startSim(simOptions);
    t.after(() => sim.close());
    await sim.createDevice('metrics-busy');
    const busy = net.createServer();
    const port = await listen0(busy);
    t.after(() => closeServer(busy));
    const p = spawnAgent([...JSON_LOG, '--metrics-port', String(port)], simEnv(sim, 'metrics-busy'));
    t.after(() => p.kill('SIGKILL'));
    const exit = await exitWithin(p, 15_000, 'agent exit');
    assert.equal(exit.code, 1);
    assert.match(p.err(), new RegExp(`c8y-tunnel agent: AGENT_ERR_METRICS: metrics endpoint cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE: the port is taken\\)`));
    assert.ok(!p.err().includes('AGENT_ERR_MQTT'), p.err());
  });

  it('21. the start line names the MQTT URL and the metrics listener is logged', { timeout: 20_000 }, async (t) => {
    const free = net.createServer();
    const port = await listen0(free);
    await closeServer(free);
    const { p, sim } = await runningAgent(t, 'start-line-1', ['--metrics-port', String(port)]);
    const start = p.json().find((l) => l.msg === 'agent starting');
    assert.equal(start?.mqtt, new URL(sim.mqttUrl).toString());
    assert.ok(p.json().some((l) => l.msg === 'metrics listening' && l.url === `http://127.0.0.1:${port}/metrics`), 'metrics listener logged');
    p.kill('SIGTERM');
    await exitWithin(p, 10_000, 'agent exit');
  });

  it('22. every missing required setting is named in one line, exit 2', { timeout: 20_000 }, async () => {
    const p = spawnAgent([], {});
    const exit = await exitWithin(p, 10_000, 'agent exit');
    assert.equal(exit.code, 2);
    const lines = p.err().trim().split('\n');
    assert.equal(lines.length, 1, p.err());
    for (const k of ['host', 'tenant', 'user', 'password', 'deviceId']) assert.match(lines[0]!, new RegExp(`\\b${k} \\(--`), `${k} named: ${lines[0]}`);
  });

  it('23. credentials in C8Y_MQTT_URL are refused (they would replace --user/--password silently), and never printed', { timeout: 20_000 }, async () => {
    const p = spawnAgent([], { C8Y_HOST: 'http://127.0.0.1:1', C8Y_MQTT_URL: 'mqtt://t1%2Fother:Mqtt-pw-3c9e1f@127.0.0.1:1', C8Y_TENANT: 't1', C8Y_USER: 'u', C8Y_PASSWORD: 'p', C8Y_DEVICE_ID: 'd' });
    const exit = await exitWithin(p, 10_000, 'agent exit');
    assert.equal(exit.code, 2);
    assert.match(p.err(), /AGENT_ERR_CONFIG: invalid C8Y_MQTT_URL: credentials do not belong in the URL/);
    assert.ok(!p.err().includes('Mqtt-pw-3c9e1f'), p.err());
  });

  it('24. a secret put in C8Y_AUTH by mistake is not echoed in the error', { timeout: 20_000 }, async () => {
    const p = spawnAgent([], { C8Y_HOST: 'http://127.0.0.1:1', C8Y_TENANT: 't1', C8Y_USER: 'u', C8Y_PASSWORD: 'p', C8Y_DEVICE_ID: 'd', C8Y_AUTH: 'Hunter2-secret-pw' });
    const exit = await exitWithin(p, 10_000, 'agent exit');
    assert.equal(exit.code, 2);
    assert.match(p.err(), /AGENT_ERR_CONFIG: invalid C8Y_AUTH: expected basic or jwt/);
    assert.ok(!/Hunt|ecret/.test(p.err()), p.err());
  });
});

describe('faults: the descriptor limit', () => {
  const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
  it('33. the agent runs out of file descriptors: FAILED names the local limit (EMFILE, ulimit -n / LimitNOFILE), not the cloud or the target', { timeout: 60_000, skip: hasPrlimit ? false : 'prlimit not installed' }, async (t) => {
    const sim = await startSim(simOptions);
    t.after(() => sim.close());
    const serial = 'emfile-1';
    const { id: deviceId } = await sim.createDevice(serial);
    const echo = await echoServer();
    t.after(() => echo.close());
    // 60 descriptors: enough to start and carry some sessions (two sockets each), not 30 of them.
    const child = spawn('prlimit', ['--nofile=60:60', process.execPath, BIN, 'agent', ...JSON_LOG], { env: simEnv(sim, serial), stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor(() => err.includes('"MQTT connected"'), 15_000, 'agent connected');
    const reasons = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const op = await sim.createRemoteAccessOperation(deviceId, { hostname: '127.0.0.1', port: echo.port });
      const done = await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 10_000);
      const k = `${done.status} ${done.failureReason ?? ''}`.trim();
      reasons.set(k, (reasons.get(k) ?? 0) + 1);
    }
    const summary = JSON.stringify([...reasons]);
    assert.ok((reasons.get('SUCCESSFUL') ?? 0) > 0, summary);
    const limit = [...reasons.keys()].filter((k) => k.startsWith('FAILED'));
    assert.ok(limit.length > 0, `some sessions hit the limit: ${summary}`);
    for (const k of limit) assert.match(k, /^FAILED the agent ran out of file descriptors \((EMFILE|ENFILE)\): raise its open-files limit \(ulimit -n, systemd LimitNOFILE=\)$/);
  });
});
