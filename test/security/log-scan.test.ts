/**
 * Secrets never reach a log line. The agent and `connect` run as processes at trace level through the
 * paths that log the most (sessions in basic and jwt mode, a proxy with credentials, refused targets
 * and upgrades, an MQTT restart, SIGTERM, refused credentials, a bad setting); every line they print is
 * scanned for the passwords, their Basic-header encodings, every connection key the cloud handed out,
 * and anything shaped like a JWT. (The fault suites scan their own agents' logs the same way.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { childEnv } from '#internal/cli/child-env';
import { echoServer, waitFor, withTimeout } from '../helpers/net.js';
import { closedPort, holdingProxy } from '../helpers/agent-rig.js';
import { assertNoSecrets } from '../helpers/fault-rig.js';
import { BIN, simEnv, spawnAgent, type AgentProc } from '../helpers/agent-proc.js';

const DEVICE_PW = 'Dev1ce-pw-5e2b8d';
const ADMIN_PW = 'Adm1n-pw-7f3a9c';
const PROXY_PW = 'Pr0xy-pw-91c7';

/** Runs `c8y-tunnel connect --stdio`, writes `input`, closes stdin; resolves with everything it printed. */
function connectOnce(env: NodeJS.ProcessEnv, args: string[], input: string): Promise<{ code: number | null; text: string }> {
  const child = spawn(process.execPath, [BIN, 'connect', ...args], { env: childEnv(env), stdio: 'pipe' });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  return withTimeout(new Promise((resolve) => child.on('exit', (code) => resolve({ code, text }))), 15_000, 'connect exit');
}

describe('log scan', () => {
  it('no password, Basic credential, connection key or JWT in any line the agent or connect prints', { timeout: 60_000 }, async (t) => {
    const sim = await startSim({ quiet: true, password: ADMIN_PW, devicePassword: DEVICE_PW, jwtLifetimeSec: 60 });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const proxy = await holdingProxy();
    t.after(() => proxy.close());
    const procs: AgentProc[] = [];
    t.after(() => {
      for (const p of procs) p.kill('SIGKILL');
    });
    const trace = ['--log-level', 'trace', '--log-format', 'json'];
    const texts: string[] = [];

    // Agent A: basic auth through a proxy with credentials; good and bad sessions; a broker restart.
    const a = await sim.createDevice('scan-a');
    await sim.createConfiguration(a.id, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    const pa = spawnAgent(trace, { ...simEnv(sim, 'scan-a'), HTTPS_PROXY: proxy.url.replace('http://', `http://squid:${PROXY_PW}@`) });
    procs.push(pa);
    await waitFor(() => (sim.supportedOperations('scan-a') ?? []).length > 0, 10_000, 'agent A connected');
    const cenv = { C8Y_HOST: sim.httpUrl, C8Y_TENANT: sim.tenant, C8Y_USER: sim.user, C8Y_PASSWORD: ADMIN_PW };
    const ok = await connectOnce(cenv, ['--device', 'scan-a', '--config', 'echo', '--stdio', '--linger', '0.2'], 'hello\n');
    assert.equal(ok.code, 0, ok.text);
    texts.push(ok.text);
    const refused = await sim.createRemoteAccessOperation(a.id, { hostname: '127.0.0.1', port: await closedPort() });
    await sim.waitForOperationStatus(refused.id, 'FAILED', 5000);
    sim.faults.refuseDeviceUpgrade = 401;
    const denied = await sim.createRemoteAccessOperation(a.id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(denied.id, 'FAILED', 5000);
    sim.faults.refuseDeviceUpgrade = 0;
    const live = await sim.createRemoteAccessOperation(a.id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(live.id, 'SUCCESSFUL', 5000);
    await sim.restartMqtt(300);
    await waitFor(() => pa.err().split('"msg":"MQTT connected"').length > 2, 15_000, 'agent A reconnected');

    // Agent B: jwt auth.
    const b = await sim.createDevice('scan-b');
    const pb = spawnAgent([...trace, '--auth', 'jwt'], simEnv(sim, 'scan-b'));
    procs.push(pb);
    await waitFor(() => (sim.supportedOperations('scan-b') ?? []).length > 0, 10_000, 'agent B connected');
    const jop = await sim.createRemoteAccessOperation(b.id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(jop.id, 'SUCCESSFUL', 5000);

    for (const p of [pa, pb]) p.kill('SIGTERM');
    for (const p of [pa, pb]) assert.equal((await withTimeout(p.exited, 10_000, 'agent exit')).code, 0);

    // Refused credentials (exit 1) and a bad setting with the password set (exit 2).
    const pc = spawnAgent(trace, { ...simEnv(sim, 'scan-a'), C8Y_PASSWORD: `${DEVICE_PW}-wrong` });
    procs.push(pc);
    assert.equal((await withTimeout(pc.exited, 15_000, 'agent exit')).code, 1);
    const pd = spawnAgent([...trace, '--max-sessions', 'lots'], simEnv(sim, 'scan-a'));
    procs.push(pd);
    assert.equal((await withTimeout(pd.exited, 15_000, 'agent exit')).code, 2);
    const bad = await connectOnce({ ...cenv, C8Y_PASSWORD: `${ADMIN_PW}-wrong` }, ['--device', 'scan-a', '--config', 'echo', '--stdio'], '');
    assert.notEqual(bad.code, 0);
    texts.push(bad.text);

    for (const p of procs) texts.push(p.out(), p.err());
    const lines = texts.join('\n').split('\n').filter((l) => l !== '');
    assert.ok(lines.length > 25, `only ${lines.length} lines to scan`);
    for (const what of ['tunnel up', 'tunnel closed', 'operation failed', 'MQTT disconnected', 'start failed', 'rejected the credentials', 'AGENT_ERR_CONFIG']) {
      assert.ok(lines.some((l) => l.includes(what)), `no "${what}" line: the scan would prove little`);
    }
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const keys = sim.listOperations().map((o) => o.c8y_RemoteAccessConnect?.connectionKey).filter((k): k is string => typeof k === 'string');
    assert.ok(keys.length >= 5);
    assertNoSecrets(lines, [
      DEVICE_PW,
      ADMIN_PW,
      PROXY_PW,
      b64(`${sim.tenant}/device_scan-a:${DEVICE_PW}`),
      b64(`${sim.tenant}/device_scan-b:${DEVICE_PW}`),
      b64(`${sim.tenant}/${sim.user}:${ADMIN_PW}`),
      b64(`squid:${PROXY_PW}`),
      ...keys,
    ]);
  });
});
