import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closed, connectDevice, deviceId, deviceWithConfig, openClient, openDevice, openWs, refusedStatus, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };

describe('sim fault switches', () => {
  it('deliveryDelayMs holds the 530 back', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'f-1');
    sim.faults.deliveryDelayMs = 400;
    const opened = Date.now();
    const { client } = await openClient(sim, dev, id, configId);
    assert.ok(Date.now() - opened >= 350, 'the 530 came after the delay');
    client.close();
  });

  it('refuseDeviceUpgrade answers the device upgrade with the given status without using the key', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'f-2');
    const { client, key } = await openClient(sim, dev, id, configId);
    const url = `${sim.wsUrl}/service/remoteaccess/device/${key}`;
    const auth = { headers: { authorization: sim.deviceAuthHeader('f-2') } };
    for (const status of [401, 403, 404, 503]) {
      sim.faults.refuseDeviceUpgrade = status;
      assert.equal((await refusedStatus(url, auth)).status, status);
    }
    sim.faults.refuseDeviceUpgrade = 0;
    const device = await openDevice(sim, 'f-2', key);
    client.close();
    assert.equal(await closed(device), 1000);
  });

  it('lenientSubprotocol omits the forced subprotocol but still echoes an offered one', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'f-3');
    sim.faults.lenientSubprotocol = true;
    const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
    const plain = await openWs(url, { protocols: [], headers: { authorization: sim.adminAuthHeader() } });
    assert.equal(plain.protocol, '');
    const key = (await dev.next('s/ds')).trim().split(',')[4]!;
    const device = await openWs(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader('f-3') } });
    assert.equal(device.protocol, 'binary');
    plain.close();
    await closed(device);
  });

  it('duplicateDelivery sends 530 and JSON to an agent subscribed to both (default: 530 only)', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'f-4', { subscribe: ['s/ds', 'devicecontrol/notifications'] });
    const id = await deviceId(sim, 'f-4');
    const first = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    await dev.next('s/ds', (p) => p.includes(first.c8y_RemoteAccessConnect.connectionKey));
    sim.faults.duplicateDelivery = true;
    const second = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    const key = second.c8y_RemoteAccessConnect.connectionKey;
    await dev.next('s/ds', (p) => p.includes(key));
    const json = JSON.parse(await dev.next('devicecontrol/notifications')) as { id: string };
    assert.equal(json.id, second.id);
    assert.equal(dev.messages.filter((m) => m.topic === 'devicecontrol/notifications').length, 1, 'the first operation came as 530 only');
  });

  it('jwtLifetimeSec: an expired s/uat token is refused on the device WebSocket', T, async (t) => {
    // JWT expiry has one-second granularity: a 3 s lifetime leaves the first use at least 2 s even on a
    // loaded machine, and 3.1 s later the token is surely expired.
    const sim = await testSim(t, { jwtLifetimeSec: 3 });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'f-5', ['s/ds', 's/dat']);
    await dev.publish('s/uat', '');
    const token = (await dev.next('s/dat')).trim().slice(3);
    const a = await openClient(sim, dev, id, configId);
    const ok = await openWs(`${sim.wsUrl}/service/remoteaccess/device/${a.key}`, { headers: { authorization: `Bearer ${token}` } });
    ok.close();
    await new Promise((r) => setTimeout(r, 3100));
    const b = await openClient(sim, dev, id, configId);
    const r = await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/${b.key}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401);
    b.client.close();
  });
});
