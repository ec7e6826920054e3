import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { echoServer, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { startSim } from 'c8y-tunnel/sim';
import { connectProxy } from '../helpers/connect-proxy.js';
import { mqttProxy } from '../helpers/mqtt-proxy.js';
import { openClient, roundTrip, startRig, statuses } from '../helpers/agent-rig.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
      })
      .on('error', reject);
  });
}

describe('agent end to end: modes', () => {
  it('jwt mode: fetches a token on s/uat and opens the device WebSocket with Bearer', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig({ auth: 'jwt' });
    t.after(() => rig.close());
    const uat: string[] = [];
    rig.sim.events.on('mqtt:publish', (m: { topic: string; clientId: string }) => {
      if (m.topic === 's/uat') uat.push(m.clientId);
    });
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    for (let i = 0; i < 2; i++) {
      const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'client open');
      const data = randomBytesSeeded(200_000, 9 + i);
      assert.equal(sha256(await roundTrip(ws, data)), sha256(data));
      ws.terminate();
    }
    assert.deepEqual(uat, [`d:${rig.serial}`], 'one token, cached for the second session');
    for (const op of rig.sim.listOperations({ deviceId: rig.deviceId })) assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    const text = rig.logs.join('');
    assert.ok(!/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(text), 'a JWT leaked into the logs');
  });

  it('jwt mode: renews the token in the background once half its lifetime has passed', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const sim = await startSim({ quiet: true, jwtLifetimeSec: 4 });
    t.after(() => sim.close());
    // The renewal's answer (every 71 on s/dat after the first) never reaches the agent: an operation that
    // waited for the renewal would wait out jwtTimeoutMs and fail; one served from the cache succeeds.
    let dat = 0;
    const proxy = await mqttProxy(sim.mqttUrl, { down: (p) => (p.type === 3 && p.topic === 's/dat' && ++dat > 1 ? 'drop' : 'pass') });
    t.after(() => proxy.close());
    const rig = await startRig({ auth: 'jwt', mqttUrl: proxy.url, jwtTimeoutMs: 20_000 }, { sim });
    t.after(() => rig.close());
    let uat = 0;
    sim.events.on('mqtt:publish', (m: { topic: string }) => {
      if (m.topic === 's/uat') uat++;
    });
    const target = { hostname: '127.0.0.1', port: echo.port };
    const a = await sim.createRemoteAccessOperation(rig.deviceId, target);
    assert.equal((await sim.waitForOperationStatus(a.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
    assert.equal(uat, 1);
    await new Promise((r) => setTimeout(r, 2200)); // the token's clock: past half of 4 s, before expiry
    const b = await sim.createRemoteAccessOperation(rig.deviceId, target);
    assert.equal((await sim.waitForOperationStatus(b.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
    await waitFor(() => uat === 2 && dat === 2, 3000, 'a background renewal on s/uat, its answer held back');
  });

  it('serves 530 requests for a configured child device and reports on its topic', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig({ childDevices: ['kid-1'] }, { serial: `parent-${Date.now() % 100000}` });
    t.after(() => rig.close());
    const { id: childId } = await rig.sim.createDevice('kid-1', { parentSerial: rig.serial });
    const { id: otherId } = await rig.sim.createDevice('kid-2', { parentSerial: rig.serial });
    const topics: string[] = [];
    rig.sim.events.on('mqtt:publish', (m: { topic: string }) => topics.push(m.topic));
    const op = await rig.sim.createRemoteAccessOperation(childId, { hostname: '127.0.0.1', port: echo.port });
    const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'SUCCESSFUL');
    assert.ok(topics.includes('s/us/kid-1'));
    // An operation for a child that is not configured is ignored (it stays PENDING).
    const other = await rig.sim.createRemoteAccessOperation(otherId, { hostname: '127.0.0.1', port: echo.port });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(rig.sim.getOperation(other.id)?.status, 'PENDING');
  });

  it('REST transport: registers, polls PENDING operations and reports by id', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig({ transport: 'rest', pollIntervalMs: 100, supportedOperations: ['c8y_Restart'] }, { serial: `rest-${Date.now() % 100000}` });
    t.after(() => rig.close());
    assert.deepEqual(rig.sim.supportedOperations(rig.serial), ['c8y_RemoteAccessConnect', 'c8y_Restart']);
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'client open');
    t.after(() => ws.terminate());
    const data = randomBytesSeeded(300_000, 11);
    assert.equal(sha256(await roundTrip(ws, data)), sha256(data));
    const [op] = rig.sim.listOperations({ deviceId: rig.deviceId });
    await rig.sim.waitForOperationStatus(op!.id, 'SUCCESSFUL', 5000);
    assert.deepEqual(statuses(rig.sim, op!.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    const refusedOp = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: 1 });
    const failed = await rig.sim.waitForOperationStatus(refusedOp.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(failed.failureReason, 'target 127.0.0.1:1 refused connection (ECONNREFUSED)');
  });

  it('REST transport through --proxy: its requests are CONNECTs at the proxy; a refused CONNECT is the proxy\'s refusal, not the cloud\'s', { timeout: 20_000 }, async (t) => {
    const proxy = await connectProxy();
    t.after(() => proxy.close());
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const rig = await startRig({ transport: 'rest', pollIntervalMs: 100, proxy: proxy.url }, { sim });
    t.after(() => rig.close());
    assert.ok(proxy.connects >= 1, 'the REST requests went through the proxy');
    assert.match(proxy.requests[0]!, new RegExp(`^CONNECT 127\\.0\\.0\\.1:${new URL(sim.httpUrl).port} HTTP/1.1$`));
    await rig.close();
    proxy.refuse(403);
    const refused = await startRig({ transport: 'rest', pollIntervalMs: 100, proxy: proxy.url }, { sim, start: false });
    t.after(() => refused.close());
    const err = (await refused.agent.start().then(
      () => assert.fail('start() succeeded through a refusing proxy'),
      (e: unknown) => e,
    )) as { code?: string; message?: string; status?: number };
    assert.equal(err.code, 'AGENT_ERR_REST');
    assert.match(err.message ?? '', /failed \(proxy refused CONNECT: HTTP 403\)$/);
    assert.doesNotMatch(err.message ?? '', /cloud refused/);
    assert.equal(err.status, 403);
    assert.ok(proxy.refused >= 1);
  });

  it('serves Prometheus metrics on 127.0.0.1 when --metrics-port is set', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    // Port 0 would mean "off", so pick a free port first.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const rig = await startRig({ metricsPort: port });
    t.after(() => rig.close());
    assert.equal(rig.agent.metricsPort, port);
    const op = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    await rig.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    const bad = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: 1 });
    await rig.sim.waitForOperationStatus(bad.id, 'FAILED', 5000);
    // The failed tunnel's task ends just after its FAILED status went out.
    await waitFor(() => rig.agent.stats().engine.open === 1, 5000, 'one open tunnel');
    const { status, body } = await get(`http://127.0.0.1:${port}/metrics`);
    assert.equal(status, 200);
    for (const name of [
      'c8y_tunnel_tunnels_active 1',
      'c8y_tunnel_tunnels_opened_total 2',
      'c8y_tunnel_tunnels_failed_total{code="TUN_ERR_TCP_REFUSED"} 1',
      'c8y_tunnel_operation_success_seconds_count 1',
      'c8y_tunnel_bytes_total{direction="up"}',
      'c8y_tunnel_workers 1',
      'c8y_tunnel_mqtt_connected 1',
    ]) {
      assert.ok(body.includes(name), `${name} missing from /metrics:\n${body}`);
    }
    assert.equal((await get(`http://127.0.0.1:${port}/other`)).status, 404);
  });
});
