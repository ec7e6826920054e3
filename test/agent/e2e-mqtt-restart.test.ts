import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { echoServer, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { holdingProxy, openClient, roundTrip, startRig, statuses } from '../helpers/agent-rig.js';

describe('agent end to end: MQTT outage', () => {
  it('keeps a tunnel carrying bytes through a broker restart, and takes new operations afterwards', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig();
    t.after(() => rig.close());
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'client open');
    t.after(() => ws.terminate());
    // Bytes flow while the broker goes away and comes back.
    const data = randomBytesSeeded(8 * 1024 * 1024, 3);
    const echoed = roundTrip(ws, data, 8 * 1024);
    const disconnected = once(rig.agent.events, 'transport:disconnected');
    const reconnected = once(rig.agent.events, 'transport:connected');
    await rig.sim.restartMqtt(300);
    await withTimeout(disconnected, 5000, 'agent saw the disconnect');
    const back = await echoed;
    assert.equal(sha256(back), sha256(data));
    await withTimeout(reconnected, 10_000, 'agent reconnected');
    assert.equal(rig.sim.sessions().filter((s) => s.state === 'paired').length, 1);
    // A second round trip on the same tunnel after the reconnect.
    const more = randomBytesSeeded(100_000, 4);
    ws.removeAllListeners('message');
    ws.removeAllListeners('close');
    assert.equal(sha256(await roundTrip(ws, more)), sha256(more));
    const ws2 = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'second client open');
    t.after(() => ws2.terminate());
    const d2 = randomBytesSeeded(50_000, 5);
    assert.equal(sha256(await roundTrip(ws2, d2)), sha256(d2));
    for (const op of rig.sim.listOperations({ deviceId: rig.deviceId })) assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });

  it('queues statuses made while MQTT is down and delivers them in order afterwards', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const proxy = await holdingProxy();
    t.after(() => proxy.close());
    const rig = await startRig({ proxy: proxy.url, reconnectMinMs: 1500, reconnectMaxMs: 1500 });
    t.after(() => rig.close());
    proxy.hold();
    const ops = await Promise.all([1, 2, 3].map(() => rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port })));
    for (const op of ops) await rig.sim.waitForOperationStatus(op.id, 'EXECUTING', 5000);
    await waitFor(() => proxy.connects === 3, 5000, 'three WebSocket CONNECTs held at the proxy');
    const disconnected = once(rig.agent.events, 'transport:disconnected');
    const restarted = rig.sim.restartMqtt(200);
    await withTimeout(disconnected, 5000, 'agent saw the disconnect');
    proxy.release(); // the tunnels come up while MQTT is down: SUCCESSFUL has to wait in the queue
    await waitFor(() => rig.agent.stats().operations.successful === 3, 5000, 'tunnels up');
    assert.equal(rig.agent.stats().connected, false);
    assert.ok(rig.agent.stats().statusQueued >= 3, `queued ${rig.agent.stats().statusQueued}`);
    for (const op of ops) assert.equal(rig.sim.getOperation(op.id)?.status, 'EXECUTING');
    await restarted;
    for (const op of ops) {
      await rig.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 10_000);
      assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    }
    await waitFor(() => rig.agent.stats().statusQueued === 0, 5000, 'every status acknowledged');
  });
});
