import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectDevice, deviceId, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };
const target = { hostname: '127.0.0.1', port: 22 };

describe('sim operations: status by name (501-503) and by id (504-506), 507, 500', () => {
  it('501/503 act on the oldest matching operation; 502 carries the failure reason', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'op-1');
    const id = await deviceId(sim, 'op-1');
    const first = await sim.createRemoteAccessOperation(id, target);
    const second = await sim.createRemoteAccessOperation(id, target);
    await dev.publish('s/us', '501,c8y_RemoteAccessConnect');
    assert.equal(sim.getOperation(first.id)!.status, 'EXECUTING');
    assert.equal(sim.getOperation(second.id)!.status, 'PENDING');
    await dev.publish('s/us', '501,c8y_RemoteAccessConnect\n503,c8y_RemoteAccessConnect');
    assert.equal(sim.getOperation(first.id)!.status, 'SUCCESSFUL', 'the oldest EXECUTING one');
    assert.equal(sim.getOperation(second.id)!.status, 'EXECUTING');
    await dev.publish('s/us', '502,c8y_RemoteAccessConnect,"target refused, sorry"');
    const op = await sim.waitForOperationStatus(second.id, 'FAILED', 2000);
    assert.equal(op.failureReason, 'target refused, sorry');
    assert.deepEqual(sim.operationHistory(second.id).map((h) => h.status), ['PENDING', 'EXECUTING', 'FAILED']);
    assert.equal(sim.operationHistory(second.id)[2]!.failureReason, 'target refused, sorry');
  });

  it('a name-based update with nothing to act on answers on s/e', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'op-2');
    await dev.publish('s/us', '503,c8y_RemoteAccessConnect');
    assert.match(await dev.next('s/e'), /^50,503,No matching operation/);
  });

  it('504-506 need an operation of the publishing device; others get an s/e error and stay unchanged', T, async (t) => {
    const sim = await testSim(t);
    const a = await connectDevice(t, sim, 'own-a');
    const b = await connectDevice(t, sim, 'own-b');
    const aId = await deviceId(sim, 'own-a');
    const op = await sim.createRemoteAccessOperation(aId, target);
    await b.publish('s/us', `504,${op.id}`);
    assert.match(await b.next('s/e'), new RegExp(`^50,504,Operation ${op.id} does not belong to this device`));
    assert.equal(sim.getOperation(op.id)!.status, 'PENDING');
    await b.publish('s/us', '505,999999,x');
    assert.match(await b.next('s/e'), /^50,505,Operation 999999 not found/);
    await a.publish('s/us', `504,${op.id}`);
    await a.publish('s/us', `506,${op.id}`);
    assert.deepEqual(sim.operationHistory(op.id).map((h) => h.status), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    await a.publish('s/us', `505,${op.id},late`);
    assert.match(await a.next('s/e'), /already SUCCESSFUL/);
    assert.equal(sim.getOperation(op.id)!.status, 'SUCCESSFUL');
  });

  it('505 by id sets FAILED with the reason; 507 fails every EXECUTING operation of a fragment', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'op-3');
    const id = await deviceId(sim, 'op-3');
    const o1 = await sim.createRemoteAccessOperation(id, target);
    const o2 = await sim.createRemoteAccessOperation(id, target);
    const o3 = await sim.createRemoteAccessOperation(id, target);
    await dev.publish('s/us', `505,${o1.id},"cannot, reach"`);
    assert.equal(sim.getOperation(o1.id)!.failureReason, 'cannot, reach');
    await dev.publish('s/us', `504,${o2.id}\n504,${o3.id}\n507,c8y_RemoteAccessConnect,agent restarted`);
    for (const o of [o2, o3]) {
      const now = sim.getOperation(o.id)!;
      assert.equal(now.status, 'FAILED');
      assert.equal(now.failureReason, 'agent restarted');
    }
  });

  it('500 re-sends PENDING operations; subscribing delivers operations never delivered', T, async (t) => {
    const sim = await testSim(t);
    const pre = await connectDevice(t, sim, 'op-4', { subscribe: [] });
    const id = await deviceId(sim, 'op-4');
    const op = await sim.createRemoteAccessOperation(id, target);
    assert.equal(pre.messages.length, 0);
    await pre.client.subscribeAsync('s/ds');
    const key = op.c8y_RemoteAccessConnect.connectionKey;
    await pre.next('s/ds', (p) => p.includes(key));
    await pre.publish('s/us', '500');
    await pre.next('s/ds', (p) => p.includes(key));
  });

  it('JSON delivery on devicecontrol/notifications carries the id, so 504-506 work', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'json-1', { subscribe: ['devicecontrol/notifications'] });
    const id = await deviceId(sim, 'json-1');
    const op = await sim.createRemoteAccessOperation(id, { hostname: '10.0.0.5', port: 5900 });
    const json = JSON.parse(await dev.next('devicecontrol/notifications')) as Record<string, unknown>;
    assert.equal(json.id, op.id);
    assert.equal(json.deviceId, id);
    assert.equal(json.status, 'PENDING');
    assert.deepEqual(json.c8y_RemoteAccessConnect, { hostname: '10.0.0.5', port: 5900, connectionKey: op.c8y_RemoteAccessConnect.connectionKey });
    assert.deepEqual(json.externalSource, { externalId: 'json-1', type: 'c8y_Serial' });
    assert.equal(dev.messages.filter((m) => m.topic === 's/ds').length, 0);
  });

  it("a child device's operation goes to the parent's s/ds with the child's serial", T, async (t) => {
    const sim = await testSim(t);
    const parent = await connectDevice(t, sim, 'gw-1');
    const { id: childId } = await sim.createDevice('gw-1-child', { parentSerial: 'gw-1' });
    const op = await sim.createRemoteAccessOperation(childId, target);
    const line = await parent.next('s/ds');
    assert.equal(line, `530,gw-1-child,127.0.0.1,22,${op.c8y_RemoteAccessConnect.connectionKey}\n`);
    await parent.publish('s/us/gw-1-child', '501,c8y_RemoteAccessConnect');
    assert.equal(sim.getOperation(op.id)!.status, 'EXECUTING');
    await parent.publish('s/us', `506,${op.id}`);
    assert.equal(sim.getOperation(op.id)!.status, 'SUCCESSFUL', 'the parent may update its child by id');
  });
});
