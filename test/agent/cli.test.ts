import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { echoServer, waitFor } from '../helpers/net.js';
import { exitWithin, simEnv, spawnAgent } from '../helpers/agent-proc.js';
import { holdingProxy } from '../helpers/agent-rig.js';

describe('c8y-tunnel agent (CLI)', () => {
  it('on SIGTERM closes its tunnels and exits 0 within the grace', { timeout: 30_000 }, async (t) => {
    const sim = await startSim({ quiet: true, devicePassword: 'Dev1cePassw0rd' });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const { id } = await sim.createDevice('cli-1');
    const p = spawnAgent(['--grace-ms', '2000', '--log-format', 'json', '--supported-operations', 'c8y_Restart'], simEnv(sim, 'cli-1'));
    t.after(() => p.kill('SIGKILL'));
    await waitFor(() => (sim.supportedOperations('cli-1') ?? []).includes('c8y_Restart'), 10_000, 'agent connected');
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    await waitFor(() => echo.sockets.size === 1, 2000, 'tunnel to the target');
    const sent = Date.now();
    p.kill('SIGTERM');
    const r = await exitWithin(p, 5000, 'agent exit');
    assert.equal(r.code, 0, p.err());
    assert.ok(r.at - sent < 2500, `took ${r.at - sent} ms`);
    await waitFor(() => echo.sockets.size === 0, 2000, 'target socket closed');
    assert.ok(p.err().includes('"msg":"agent stopped"'), p.err());
    assert.ok(!p.err().includes(op.c8y_RemoteAccessConnect.connectionKey));
    assert.ok(!p.err().includes('Dev1cePassw0rd'));
  });

  it('sends the device WebSocket through HTTPS_PROXY unless NO_PROXY names the host', { timeout: 30_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const proxy = await holdingProxy();
    t.after(() => proxy.close());
    for (const [serial, noProxy, expected] of [
      ['px-1', '', 1],
      ['px-2', 'localhost,127.0.0.1', 0],
    ] as const) {
      const { id } = await sim.createDevice(serial);
      const before = proxy.connects;
      const p = spawnAgent(['--log-format', 'json'], { ...simEnv(sim, serial), HTTPS_PROXY: proxy.url, NO_PROXY: noProxy });
      t.after(() => p.kill('SIGKILL'));
      await waitFor(() => (sim.supportedOperations(serial) ?? []).length > 0, 10_000, 'agent connected');
      const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
      assert.equal((await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
      assert.equal(proxy.connects - before, expected, `NO_PROXY=${noProxy}`);
      p.kill('SIGTERM');
      assert.equal((await exitWithin(p, 8000, 'exit')).code, 0);
    }
  });

  it('exits 2 with one line naming a missing setting', { timeout: 10_000 }, async () => {
    const p = spawnAgent([], { C8Y_TENANT: 't1', C8Y_USER: 'u', C8Y_PASSWORD: 'p', C8Y_DEVICE_ID: 'd' });
    const r = await p.exited;
    assert.equal(r.code, 2);
    assert.equal(p.err().trim().split('\n').length, 1);
    assert.match(p.err(), /AGENT_ERR_CONFIG: missing setting host \(--host \/ C8Y_HOST/);
  });

  it('exits 2 naming an invalid environment value or flag', { timeout: 10_000 }, async () => {
    const env = { C8Y_HOST: 'http://127.0.0.1:1', C8Y_TENANT: 't1', C8Y_USER: 'u', C8Y_PASSWORD: 'secretpw', C8Y_DEVICE_ID: 'd' };
    const a = spawnAgent([], { ...env, C8Y_AUTH: 'oauth' });
    const b = spawnAgent(['--max-sessions', 'lots'], env);
    const c = spawnAgent(['--bogus'], env);
    const d = spawnAgent(['--config', '/nonexistent/agent.json'], env);
    const codes = await Promise.all([a, b, c, d].map(async (p) => (await p.exited).code));
    assert.deepEqual(codes, [2, 2, 2, 2]);
    assert.match(a.err(), /invalid C8Y_AUTH: expected basic or jwt/);
    assert.match(b.err(), /invalid --max-sessions: expected an integer/);
    assert.match(c.err(), /AGENT_ERR_CONFIG: invalid command line: Unknown option '--bogus'/);
    assert.match(d.err(), /invalid --config: cannot read \/nonexistent\/agent.json \(ENOENT\)/);
    for (const p of [a, b, c, d]) assert.ok(!p.err().includes('secretpw'));
  });

  it('exits 1 when the broker refuses the credentials', { timeout: 15_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const p = spawnAgent(['--log-format', 'json'], { ...simEnv(sim, 'cli-2'), C8Y_PASSWORD: 'wrong-password' });
    const r = await exitWithin(p, 10_000, 'agent exit');
    assert.equal(r.code, 1);
    assert.match(p.err(), /AGENT_ERR_MQTT: MQTT broker refused the connection: bad user name or password \(CONNACK 4\)|not authorized \(CONNACK 5\)/);
    assert.ok(!p.err().includes('wrong-password'));
  });

  it('prints every option with --help and exits 0', { timeout: 10_000 }, async () => {
    const p = spawnAgent(['--help'], {});
    assert.equal((await p.exited).code, 0);
    for (const s of ['--host', '--supported-operations', '--allow', '--max-sessions', '--metrics-port', '--insecure', '--ca', '--proxy', 'C8Y_HOST', 'C8Y_AUTH']) assert.ok(p.out().includes(s), s);
  });
});
