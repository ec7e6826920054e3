import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SimOperation } from 'c8y-tunnel/sim';
import { echoServer, randomBytesSeeded, sha256, withTimeout } from '../helpers/net.js';
import { closedPort, openClient, roundTrip, startRig, statuses } from '../helpers/agent-rig.js';

/** 50 operations at once on one device, a mix that succeed and fail; every one must end with its own status. */
async function fiftyAtOnce(duplicateDelivery: boolean): Promise<void> {
  const echo = await echoServer();
  const rig = await startRig();
  try {
    rig.sim.faults.duplicateDelivery = duplicateDelivery;
    const refused = await closedPort();
    const ops: Array<{ op: SimOperation; ok: boolean }> = [];
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const ok = i % 5 !== 3;
        return rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: ok ? echo.port : refused }).then((op) => ({ op, ok }));
      }),
    );
    ops.push(...created);
    for (const { op, ok } of ops) {
      const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 10_000);
      assert.equal(done.status, ok ? 'SUCCESSFUL' : 'FAILED', `operation ${op.id}`);
      if (!ok) assert.equal(done.failureReason, `target 127.0.0.1:${refused} refused connection (ECONNREFUSED)`);
      assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', ok ? 'SUCCESSFUL' : 'FAILED']);
    }
    const s = rig.agent.stats().operations;
    assert.equal(s.received, 50);
    assert.equal(s.successful, 40);
    assert.equal(s.failed, 10);
    if (duplicateDelivery) assert.ok(s.duplicates >= 50, `duplicates ${s.duplicates}`);
  } finally {
    await rig.close();
    await echo.close();
  }
}

describe('agent end to end: concurrency', () => {
  it('50 concurrent operations by name (530 only) each end with exactly the right status', { timeout: 30_000 }, () => fiftyAtOnce(false));

  it('50 concurrent operations delivered twice (530 and JSON) are handled once and reported by id', { timeout: 30_000 }, async () => {
    await fiftyAtOnce(true);
  });

  it('reports by id (504/506) once the JSON twin of a 530 has been seen', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig();
    t.after(() => rig.close());
    rig.sim.faults.duplicateDelivery = true;
    const lines: string[] = [];
    rig.sim.events.on('mqtt:publish', (m: { topic: string; payload: string }) => {
      if (m.topic === 's/us') lines.push(m.payload.trim());
    });
    const first = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    await rig.sim.waitForOperationStatus(first.id, 'SUCCESSFUL', 5000);
    const second = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port: echo.port });
    await rig.sim.waitForOperationStatus(second.id, 'SUCCESSFUL', 5000);
    assert.ok(lines.includes(`504,${second.id}`), lines.join(' | '));
    assert.ok(lines.includes(`506,${second.id}`), lines.join(' | '));
  });

  it('carries 20 concurrent client sessions with intact bytes', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const rig = await startRig();
    t.after(() => rig.close());
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 10_000, 'client open');
        try {
          const data = randomBytesSeeded(64 * 1024 + i, i + 1);
          assert.equal(sha256(await roundTrip(ws, data)), sha256(data));
        } finally {
          ws.terminate();
        }
      }),
    );
    const ops = rig.sim.listOperations({ deviceId: rig.deviceId });
    assert.equal(ops.length, 20);
    for (const op of ops) assert.deepEqual(statuses(rig.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });
});
