import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { echoServer, waitFor } from '../helpers/net.js';
import { closedPort, startRig, statuses } from '../helpers/agent-rig.js';

describe('agent end to end: FAILED reasons', () => {
  it('reports a refused target with its address and errno', { timeout: 20_000 }, async (t) => {
    const rig = await startRig();
    t.after(() => rig.close());
    const port = await closedPort();
    const op = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port });
    const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, `target 127.0.0.1:${port} refused connection (ECONNREFUSED)`);
    assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'FAILED']);
  });

  it('reports a refused device WebSocket (HTTP 404 for the key), never the key itself', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig();
    t.after(() => rig.close());
    rig.sim.faults.refuseDeviceUpgrade = 404;
    const op = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, 'cloud refused WebSocket: HTTP 404');
    assert.ok(!rig.logs.join('').includes(op.c8y_RemoteAccessConnect.connectionKey));
  });

  it('refuses a target outside the allow-list before opening any socket', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    let connections = 0;
    echo.server.on('connection', () => connections++);
    const rig = await startRig({ allow: ['127.0.0.1:1-1000', '*.lan:22'] });
    t.after(() => rig.close());
    const op = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, `policy denies target 127.0.0.1:${echo.port}`);
    assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'FAILED']);
    assert.equal(connections, 0);
    assert.ok(rig.sim.sessions().filter((s) => s.operationId === op.id).every((s) => s.state === 'waiting'));
  });

  it('fails operations above --max-sessions and accepts again once a session ends', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig({ maxSessions: 2 });
    t.after(() => rig.close());
    const target = { hostname: '127.0.0.1', port: echo.port };
    const a = await rig.sim.createRemoteAccessOperation(rig.deviceId, target);
    const b = await rig.sim.createRemoteAccessOperation(rig.deviceId, target);
    await rig.sim.waitForOperationStatus(a.id, 'SUCCESSFUL', 5000);
    await rig.sim.waitForOperationStatus(b.id, 'SUCCESSFUL', 5000);
    const c = await rig.sim.createRemoteAccessOperation(rig.deviceId, target);
    const cDone = await rig.sim.waitForOperationStatus(c.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(cDone.status, 'FAILED');
    assert.equal(cDone.failureReason, 'session limit reached (2 concurrent sessions)');
    rig.sim.closeSession(a.c8y_RemoteAccessConnect.connectionKey);
    await waitFor(() => rig.agent.stats().operations.active <= 1, 5000, 'the closed session to leave the active operations');
    const d = await rig.sim.createRemoteAccessOperation(rig.deviceId, target);
    assert.equal((await rig.sim.waitForOperationStatus(d.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
  });
});

describe('agent end to end: malformed operations', () => {
  it('logs a 530 it cannot parse, never crashes, and serves the next operation', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig();
    t.after(() => rig.close());
    const bad = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: 'bad host\tname', port: 22 });
    await waitFor(() => rig.logs.some((l) => l.includes('malformed remote access operation')), 5000, 'the malformed line in the log');
    const line = rig.logs.find((l) => l.includes('malformed remote access operation'))!;
    assert.ok(!line.includes(bad.c8y_RemoteAccessConnect.connectionKey));
    assert.equal(rig.agent.stats().operations.malformed, 1);
    // Failed by name in its place, so the next operation's by-name statuses land on the right one.
    const badDone = await rig.sim.waitForOperationStatus(bad.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(badDone.status, 'FAILED');
    assert.match(badDone.failureReason ?? '', /^malformed operation: invalid target host/);
    const good = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    assert.equal((await rig.sim.waitForOperationStatus(good.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
    assert.deepEqual(statuses(rig.sim, good.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });
});
