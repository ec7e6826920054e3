import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { echoServer, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { openClient, roundTrip, startRig, statuses } from '../helpers/agent-rig.js';

describe('agent end to end: a session through the emulator', () => {
  it('carries bytes both ways (sha256) and reports EXECUTING then SUCCESSFUL', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig({ supportedOperations: ['c8y_Restart', 'c8y_LogfileRequest'] });
    t.after(() => rig.close());
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'client open');
    t.after(() => ws.terminate());
    const data = randomBytesSeeded(3 * 1024 * 1024 + 17, 7);
    const back = await roundTrip(ws, data);
    assert.equal(back.length, data.length);
    assert.equal(sha256(back), sha256(data));
    const [op] = rig.sim.listOperations({ deviceId: rig.deviceId });
    assert.ok(op);
    await rig.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    const session = rig.sim.sessions().find((s) => s.operationId === op.id);
    assert.ok(session && session.clientToDevice === data.length && session.deviceToClient === data.length);
    // The connection key never appears whole in the agent's logs.
    assert.ok(!rig.logs.join('').includes(op.c8y_RemoteAccessConnect.connectionKey));
    assert.ok(rig.logs.join('').includes(op.c8y_RemoteAccessConnect.connectionKey.slice(0, 4)));
    assert.equal(rig.agent.stats().operations.successful, 1);
  });

  it('announces c8y_RemoteAccessConnect together with every --supported-operations entry (114)', { timeout: 20_000 }, async (t) => {
    const rig = await startRig({ supportedOperations: 'c8y_Restart,c8y_SoftwareUpdate' });
    t.after(() => rig.close());
    assert.deepEqual(rig.sim.supportedOperations(rig.serial), ['c8y_RemoteAccessConnect', 'c8y_Restart', 'c8y_SoftwareUpdate']);
    const mo = rig.sim.managedObject(rig.deviceId) as { c8y_Agent?: { name?: string; version?: string } };
    assert.equal(mo.c8y_Agent?.name, 'c8y-tunnel');
    assert.match(mo.c8y_Agent?.version ?? '', /^\d+\.\d+\.\d+/);
  });

  it('fails operations an earlier run left EXECUTING (507 at start)', { timeout: 20_000 }, async (t) => {
    const first = await startRig();
    t.after(() => first.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    // A first agent takes an operation, then dies without reporting the end: simulate with a held EXECUTING op.
    await first.agent.stop({ graceMs: 200 });
    const op = await first.sim.createRemoteAccessOperation(first.deviceId, { hostname: '127.0.0.1', port: echo.port });
    // Mark it EXECUTING the way an agent would (by name), then start a fresh agent for the same device.
    const { default: mqtt } = await import('mqtt');
    const c = await mqtt.connectAsync(first.sim.mqttUrl, { clientId: `d:${first.serial}`, username: `${first.sim.tenant}/device_${first.serial}`, password: first.sim.devicePassword, reconnectPeriod: 0 });
    await c.publishAsync('s/us', '501,c8y_RemoteAccessConnect', { qos: 1 });
    await c.endAsync();
    await first.sim.waitForOperationStatus(op.id, 'EXECUTING', 2000);
    const second = await startRig({}, { serial: first.serial, sim: first.sim });
    t.after(() => second.close());
    const done = await first.sim.waitForOperationStatus(op.id, 'FAILED', 5000);
    assert.match(done.failureReason ?? '', /agent restarted/);
    await waitFor(() => second.agent.stats().connected, 2000, 'connected');
  });
});
