/**
 * Lost MQTT acknowledgements, with a packet-aware proxy between the agent and the broker:
 * a by-name status re-sent after a lost PUBACK must never land on another operation, and a PUBACK or
 * SUBACK that never comes back during start-up must lead to a reconnect, not a wedged agent.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { connectProxy } from '../helpers/connect-proxy.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closedPort, statuses } from '../helpers/agent-rig.js';
import { mqttProxy } from '../helpers/mqtt-proxy.js';
import { blackholePort, echoCheck, faultRig } from '../helpers/fault-rig.js';

const simOptions = { quiet: true, password: 'Adm1n-pw-7f3a9c', devicePassword: 'Dev1ce-pw-5e2b8d' };

describe('faults: a status whose PUBACK was lost', () => {
  it('16. two sessions, A older and B younger: A\'s final status reaches the broker and the link is cut before its PUBACK; after the reconnect A and B each keep their own status', { timeout: 40_000 }, async (t) => {
    const sim = await startSim(simOptions);
    t.after(() => sim.close());
    let armed = false;
    let cut = 0;
    const published: string[] = [];
    const proxy = await mqttProxy(sim.mqttUrl, {
      up: (p) => {
        if (p.type === 3 && p.topic === 's/us') published.push(p.payload ?? '');
        if (armed && p.type === 3 && p.payload?.startsWith('503,')) {
          armed = false;
          cut++;
          return 'pass-then-cut';
        }
        return 'pass';
      },
    });
    t.after(() => proxy.close());
    const ws = await connectProxy();
    t.after(() => ws.close());
    const r = await faultRig(t, { mqttUrl: proxy.url, proxy: ws.url }, { sim });
    // A: its cloud WebSocket is held back, so A stays EXECUTING while B comes and fails.
    ws.hold();
    armed = true;
    const a = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: r.echo.port });
    await r.sim.waitForOperationStatus(a.id, 'EXECUTING', 5000);
    // B: its target refuses; its FAILED waits behind A's final (by-name statuses go oldest first).
    const b = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: await closedPort() });
    await r.sim.waitForOperationStatus(b.id, 'EXECUTING', 5000);
    await waitFor(() => r.agent.stats().operations.failed === 1, 5000, 'B failed in the agent');
    const reconnected = once(r.agent.events, 'transport:connected');
    // A comes up: 503 for A goes out, reaches the broker, and the link is cut before the PUBACK.
    ws.release();
    await r.sim.waitForOperationStatus(a.id, 'SUCCESSFUL', 10_000);
    await withTimeout(reconnected, 10_000, 'agent reconnected');
    await waitFor(() => r.agent.stats().statusQueued === 0, 10_000, 'every status acknowledged');
    const bDone = await r.sim.waitForOperationStatus(b.id, ['SUCCESSFUL', 'FAILED'], 10_000);
    assert.equal(cut, 1, 'the link was cut once, right after the 503');
    assert.deepEqual(statuses(r.sim, a.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    assert.deepEqual(statuses(r.sim, b.id), ['PENDING', 'EXECUTING', 'FAILED'], `B's history; statuses sent: ${published.join(' | ')}`);
    assert.match(bDone.failureReason ?? '', /refused/);
    // After the reconnect, B's status went by id; A's 503 was not sent again.
    const after = published.slice(published.lastIndexOf(published.find((x) => x.startsWith('503,'))!) + 1);
    assert.ok(after.some((x) => x.startsWith(`505,${b.id},`)), `505 by id for B after the reconnect: ${after.join(' | ')}`);
    assert.ok(!after.some((x) => x.startsWith('503,')), `A's 503 was not re-sent by name: ${after.join(' | ')}`);
    // The next operations still work and keep their own statuses.
    const c = await r.client();
    await r.sim.waitForOperationStatus(r.sim.listOperations({ deviceId: r.deviceId }).at(-1)!.id, 'SUCCESSFUL', 5000);
    c.close();
    await r.bystander.check();
  });
});

describe('faults: a status whose PUBACK was lost, the other order', () => {
  it('16c. A older fails (its target never accepts), B younger is live: A\'s FAILED reaches the broker and the link is cut; B stays SUCCESSFUL and keeps echoing', { timeout: 40_000 }, async (t) => {
    const sim = await startSim(simOptions);
    t.after(() => sim.close());
    let armed = false;
    const proxy = await mqttProxy(sim.mqttUrl, {
      up: (p) => {
        if (armed && p.type === 3 && p.payload?.startsWith('502,')) {
          armed = false;
          return 'pass-then-cut';
        }
        return 'pass';
      },
    });
    t.after(() => proxy.close());
    const r = await faultRig(t, { mqttUrl: proxy.url, tcpConnectTimeoutMs: 1500 }, { sim });
    const hole = await blackholePort(t);
    armed = true;
    const a = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: hole });
    await r.sim.waitForOperationStatus(a.id, 'EXECUTING', 5000);
    // B: a live session whose SUCCESSFUL waits behind A's final.
    const reconnected = once(r.agent.events, 'transport:connected');
    const ws = await r.client();
    const b = r.sim.listOperations({ deviceId: r.deviceId }).at(-1)!;
    assert.notEqual(b.id, a.id);
    await r.sim.waitForOperationStatus(a.id, 'FAILED', 10_000);
    await withTimeout(reconnected, 10_000, 'agent reconnected');
    await waitFor(() => r.agent.stats().statusQueued === 0, 10_000, 'every status acknowledged');
    await r.sim.waitForOperationStatus(b.id, ['SUCCESSFUL', 'FAILED'], 10_000);
    assert.deepEqual(statuses(r.sim, a.id), ['PENDING', 'EXECUTING', 'FAILED']);
    assert.deepEqual(statuses(r.sim, b.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL'], `B: ${JSON.stringify(r.sim.getOperation(b.id))}`);
    await echoCheck(ws);
    await r.bystander.check();
  });
});

describe('faults: a start-up ack that never comes', () => {
  for (const [what, pick] of [
    ['the PUBACK of 100', (payload: string | undefined, type: number) => type === 3 && payload?.startsWith('100,') === true],
    ['the SUBACK', (_payload: string | undefined, type: number) => type === 8],
  ] as const) {
    it(`17. the broker swallows ${what} on the first connection: the step times out, the log names it, the agent reconnects and serves operations`, { timeout: 30_000 }, async (t) => {
      const sim = await startSim(simOptions);
      t.after(() => sim.close());
      let ackToSwallow: number | undefined;
      const proxy = await mqttProxy(sim.mqttUrl, {
        up: (p, conn) => {
          if (conn === 0 && pick(p.payload, p.type)) ackToSwallow = p.packetId;
          return 'pass';
        },
        down: (p, conn) => (conn === 0 && (p.type === 4 || p.type === 9) && p.packetId === ackToSwallow ? 'drop' : 'pass'),
      });
      t.after(() => proxy.close());
      const r = await faultRig(t, { mqttUrl: proxy.url, mqttAckTimeoutMs: 1000 }, { sim });
      assert.equal(proxy.connections, 2, 'one reconnect');
      const step = what === 'the SUBACK' ? 'SUBACK' : 'PUBACK of 100';
      assert.ok(
        r.logs.some((l) => l.includes('"level":40') && l.includes(`start-up step timed out: ${step}`)),
        `a WARN names the step: ${r.logs.filter((l) => l.includes('"level":40')).join('')}`,
      );
      await r.bystander.check();
    });
  }
});
