/** Faults 9, 10, 13, 14: broker restart, worker death, duplicate delivery, JWT expiry between sessions. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import type { Engine } from 'c8y-tunnel';
import { crashWorker } from '#internal/engine/engine';
import { waitFor, withTimeout } from '../helpers/net.js';
import { statuses } from '../helpers/agent-rig.js';
import { echoCheck, faultRig, lastOp, tcpTarget } from '../helpers/fault-rig.js';

/** The agent's engine, for the worker-crash hook (fault injection, not a mock). */
function engineOf(agent: unknown): Engine {
  const e = (agent as { engine?: Engine }).engine;
  assert.ok(e, 'agent has an engine');
  return e;
}

describe('faults: inside the agent and its links', () => {
  it('9. the MQTT broker restarts while tunnels carry bytes: every byte arrives, an operation made during the outage and new ones work, statuses all SUCCESSFUL', { timeout: 30_000 }, async (t) => {
    const r = await faultRig(t);
    const sessions = await Promise.all([1, 2, 3].map(() => r.client()));
    const down = once(r.agent.events, 'transport:disconnected');
    const up = once(r.agent.events, 'transport:connected');
    // Round trips run through the outage (4 MiB each, in 16 KiB messages).
    const traffic = Promise.all(sessions.map((ws) => echoCheck(ws, 4 * 1024 * 1024)));
    const restarted = r.sim.restartMqtt(1000);
    await withTimeout(down, 5000, 'agent saw the disconnect');
    // An operation created while the broker is down reaches the agent after it reconnects (500).
    const during = r.client();
    await withTimeout(restarted, 10_000, 'broker back');
    await withTimeout(traffic, 20_000, 'round trips through the outage');
    await withTimeout(up, 10_000, 'agent reconnected');
    await echoCheck(await withTimeout(during, 15_000, 'session asked for during the outage'));
    await r.bystander.check();
    const after = await r.client();
    await echoCheck(after);
    for (const op of r.sim.listOperations({ deviceId: r.deviceId })) {
      await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 10_000);
      assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    }
    assert.equal(r.agent.stats().engine.open, 6);
  });

  it('10. a worker thread dies: only its tunnels end (TUN_ERR_WORKER_EXIT), the others keep carrying bytes, the pool heals', { timeout: 30_000 }, async (t) => {
    const r = await faultRig(t, { threads: 2 });
    const engine = engineOf(r.agent);
    const sessions: WebSocket[] = [r.bystander.ws];
    for (let i = 0; i < 7; i++) sessions.push(await r.client());
    const onWorkers = (): number => Object.entries(r.agent.stats().engine.perWorker).reduce((n, [k, v]) => (/^\d+$/.test(k) ? n + v : n), 0);
    await waitFor(() => onWorkers() === 8, 5000, '8 tunnels running on workers');
    // Every tunnel is up (its operation SUCCESSFUL) before the crash: a tunnel still setting up on the
    // victim would rightly end FAILED (TUN_ERR_WORKER_EXIT), which is not what this test is about.
    for (const op of r.sim.listOperations({ deviceId: r.deviceId })) await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 10_000);
    const per = r.agent.stats().engine.perWorker;
    const threads = Object.keys(per).filter((k) => /^\d+$/.test(k) && (per[k] ?? 0) > 0);
    assert.equal(threads.length, 2, `tunnels on both workers: ${JSON.stringify(per)}`);
    const victim = Number(threads[0]);
    const victimCount = per[threads[0]!]!;
    const closedWs = new Set<WebSocket>();
    for (const ws of sessions) ws.once('close', () => closedWs.add(ws));
    assert.ok(crashWorker(engine, victim));
    await waitFor(() => r.ends.filter((e) => e.code === 'TUN_ERR_WORKER_EXIT').length === victimCount, 10_000, `${victimCount} tunnels end with TUN_ERR_WORKER_EXIT`);
    await waitFor(() => closedWs.size === victimCount, 10_000, 'their client legs close');
    assert.equal(r.ends.length, victimCount, 'no other tunnel ended');
    for (const ws of sessions.filter((s) => !closedWs.has(s))) await echoCheck(ws);
    // The pool heals: new sessions work, and a replacement worker was started.
    // (Piscina starts the replacement when tasks come, so keep opening sessions until one lands on it.)
    for (let i = 0; i < 40 && r.agent.stats().engine.workersStarted < 3; i++) {
      const ws = await r.client();
      await echoCheck(ws, 4096);
      ws.close();
    }
    assert.equal(r.agent.stats().engine.workersStarted, 3, 'a replacement worker started');
    assert.equal(r.agent.stats().engine.workerDeaths, 1);
    for (const op of r.sim.listOperations({ deviceId: r.deviceId })) assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });

  it('13. the same operation delivered twice (530 and JSON): one tunnel, one status history, reported by id', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t);
    let connections = 0;
    const { port } = await tcpTarget(t, (s) => {
      connections++;
      s.pipe(s);
    });
    const published: string[] = [];
    r.sim.events.on('mqtt:publish', (m: { topic: string; payload: string }) => {
      if (m.topic === 's/us') published.push(m.payload);
    });
    r.sim.faults.duplicateDelivery = true;
    const { id: configId } = await r.sim.createConfiguration(r.deviceId, { name: 'dup', hostname: '127.0.0.1', port });
    for (let i = 0; i < 3; i++) {
      const ws = await r.client(configId);
      await echoCheck(ws);
      const op = lastOp(r);
      await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
      assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
      ws.close();
    }
    assert.equal(connections, 3, 'one target connection per operation');
    assert.equal(r.agent.stats().operations.duplicates, 3);
    assert.equal(r.agent.stats().engine.opened, 4, 'bystander + one tunnel per operation');
    // Once twins are known, the agent reports by id (506,<id>).
    const last = lastOp(r);
    assert.ok(published.some((p) => p.startsWith(`506,${last.id}`)), `506 by id for ${last.id}: ${published.join(' | ')}`);
    await r.bystander.check();
  });

  it('14. the JWT expires between sessions: a new token is fetched, the next session works, nothing FAILED', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t, { auth: 'jwt' }, { simOptions: { jwtLifetimeSec: 2 } });
    let uat = 0;
    r.sim.events.on('mqtt:publish', (m: { topic: string }) => {
      if (m.topic === 's/uat') uat++;
    });
    await new Promise((res) => setTimeout(res, 2300)); // the bystander's token is now expired
    const ws = await r.client();
    await echoCheck(ws);
    assert.ok(uat >= 1, 'a fresh token was requested on s/uat');
    await r.bystander.check();
    for (const op of r.sim.listOperations({ deviceId: r.deviceId })) assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    assert.equal(r.agent.stats().operations.failed, 0);
  });
});
