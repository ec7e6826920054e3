import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { waitFor, withTimeout } from '../helpers/net.js';
import { connectDevice, deviceId, deviceWithConfig, openClient, openDevice, takeEarly, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 30_000 };
const MiB = 1024 * 1024;

describe('sim isolation: one device cannot act for another', () => {
  it('101 cannot adopt an existing device that is not the publisher\'s: 41 on s/e, and the victim keeps its operations', T, async (t) => {
    const sim = await testSim(t);
    const victim = await connectDevice(t, sim, 'victim');
    const mallory = await connectDevice(t, sim, 'mallory');
    await mallory.publish('s/us', '101,victim,Mine now');
    assert.match(await mallory.next('s/e'), /^41,101,Device victim already exists and is not a child of this device/);
    const victimId = await deviceId(sim, 'victim');
    const refs = (sim.managedObject(await deviceId(sim, 'mallory'))!.childDevices as { references: unknown[] }).references;
    assert.deepEqual(refs, []);
    assert.equal(sim.managedObject(victimId)!.name, 'MQTT Device victim', 'the victim was not renamed');
    await sim.createRemoteAccessOperation(victimId, { hostname: '127.0.0.1', port: 22 });
    assert.match(await victim.next('s/ds', (p) => p.startsWith('530,')), /^530,victim,/);
    await mallory.publish('s/us', '123');
    await mallory.next('s/ds', (p) => p.startsWith('124,'));
    assert.ok(!mallory.messages.some((m) => m.payload.startsWith('530')), 'mallory got nothing');
    // Its own children stay adoptable (101 again is idempotent), and a child of another parent is not.
    await mallory.publish('s/us', '101,m-kid\n101,m-kid');
    await victim.publish('s/us', '101,m-kid');
    assert.match(await victim.next('s/e'), /^41,101,Device m-kid already exists/);
    const kids = (sim.managedObject(await deviceId(sim, 'mallory'))!.childDevices as { references: Array<{ managedObject: { id: string } }> }).references;
    assert.deepEqual(kids.map((r) => r.managedObject.id), [await deviceId(sim, 'm-kid')]);
  });

  it('s/us/<serial> acts only on the publisher\'s own children; another device\'s serial is "not found"', T, async (t) => {
    const sim = await testSim(t);
    const { dev: victim, id: victimId } = await deviceWithConfig(t, sim, 'victim2');
    await victim.publish('s/us', '114,c8y_RemoteAccessConnect');
    const op = await sim.createRemoteAccessOperation(victimId, { hostname: '127.0.0.1', port: 22 });
    await victim.next('s/ds', (p) => p.startsWith('530,'));
    const mallory = await connectDevice(t, sim, 'mallory2');
    await mallory.publish('s/us/victim2', '114,c8y_Nothing');
    assert.match(await mallory.next('s/e'), /^50,114,Child device victim2 not found/);
    await mallory.publish('s/us/victim2', '501,c8y_RemoteAccessConnect\n502,c8y_RemoteAccessConnect,hijacked');
    await mallory.next('s/e', (p) => p.startsWith('50,501,'));
    await mallory.next('s/e', (p) => p.startsWith('50,502,'));
    assert.deepEqual(sim.supportedOperations('victim2'), ['c8y_RemoteAccessConnect']);
    assert.equal(sim.getOperation(op.id)!.status, 'PENDING');
    // Its own child still works, also below the child.
    await mallory.publish('s/us', '101,mk2');
    await mallory.publish('s/us/mk2', '114,c8y_Restart');
    assert.deepEqual(sim.supportedOperations('mk2'), ['c8y_Restart']);
  });
});

describe('sim robustness', () => {
  it('a managed object PUT with "__proto__" is refused (422) and cannot change what fragmentType queries match', T, async (t) => {
    const sim = await testSim(t);
    await connectDevice(t, sim, 'proto-1');
    const id = await deviceId(sim, 'proto-1');
    const headers = { authorization: sim.deviceAuthHeader('proto-1'), 'content-type': 'application/json' };
    const body = '{"__proto__": {"c8y_Secret": {}}, "c8y_Fine": {}}';
    const put = await fetch(`${sim.httpUrl}/inventory/managedObjects/${id}`, { method: 'PUT', headers, body });
    assert.equal(put.status, 422);
    assert.match(((await put.json()) as { message: string }).message, /__proto__/);
    const post = await fetch(`${sim.httpUrl}/inventory/managedObjects`, { method: 'POST', headers, body });
    assert.equal(post.status, 422);
    const list = await fetch(`${sim.httpUrl}/inventory/managedObjects?fragmentType=c8y_Secret`, { headers: { authorization: sim.adminAuthHeader() } });
    assert.deepEqual(((await list.json()) as { managedObjects: unknown[] }).managedObjects, []);
    await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    const ops = await fetch(`${sim.httpUrl}/devicecontrol/operations?fragmentType=toString`, { headers: { authorization: sim.adminAuthHeader() } });
    assert.deepEqual(((await ops.json()) as { operations: unknown[] }).operations, [], 'inherited names are not fragments');
    assert.equal(Object.getPrototypeOf(sim.managedObject(id)), Object.prototype);
  });

  it('after answering 413 it stops reading: the connection closes while the client is still sending', T, async (t) => {
    const sim = await testSim(t);
    const url = new URL(`${sim.httpUrl}/inventory/managedObjects`);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const limit = 64 * MiB;
    const result = await withTimeout(
      new Promise<{ status?: number; connection?: string; sent: number }>((resolve) => {
        let sent = 0;
        let status: number | undefined;
        let connection: string | undefined;
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: sim.adminAuthHeader(), 'content-type': 'application/json', 'transfer-encoding': 'chunked' } });
        t.after(() => req.destroy());
        req.on('response', (res) => {
          status = res.statusCode;
          connection = res.headers.connection;
          res.resume();
        });
        req.on('error', () => resolve({ status, connection, sent }));
        req.on('close', () => resolve({ status, connection, sent }));
        const pump = (): void => {
          while (sent < limit) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          resolve({ status, connection, sent });
        };
        req.write('{"a":"');
        pump();
      }),
      20_000,
      'endless body',
    );
    assert.ok(result.sent < limit, `the server kept reading: ${result.sent} bytes accepted`);
    assert.equal(result.status, 413);
    assert.equal(result.connection, 'close', 'the 413 says the connection ends; it is not kept alive with the body half read');
    const declared = await fetch(url, { method: 'POST', headers: { authorization: sim.adminAuthHeader(), 'content-type': 'application/json' }, body: Buffer.alloc(2 * MiB, 0x20) }).catch(() => undefined);
    if (declared) assert.equal(declared.status, 413);
  });

  it('keeps at most historyLimit final operations (oldest forgotten first), never a not-final one', T, async (t) => {
    const sim = await testSim(t, { historyLimit: 5 });
    const dev = await connectDevice(t, sim, 'hist-1');
    const id = await deviceId(sim, 'hist-1');
    const pending = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 1 });
    const done: string[] = [];
    for (let i = 0; i < 12; i++) {
      const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 2 });
      await dev.publish('s/us', `506,${op.id}`);
      await sim.waitForOperationStatus(op.id, 'SUCCESSFUL');
      done.push(op.id);
    }
    const kept = sim.listOperations({ deviceId: id }).map((op) => op.id);
    assert.deepEqual(kept, [pending.id, ...done.slice(-5)]);
    assert.equal(sim.getOperation(done[0]!), undefined);
  });

  it('with a raised pendingClientBytesLimit the held bytes all arrive and the client is read again afterwards', T, async (t) => {
    const sim = await testSim(t, { pendingClientBytesLimit: 24 * MiB });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'flush-1');
    const { client, key } = await openClient(sim, dev, id, configId);
    const frame = Buffer.alloc(64 * 1024, 7);
    const total = 33 * MiB;
    for (let off = 0; off < total; off += frame.length) client.send(frame, { binary: true });
    // The emulator holds the limit and stops reading the client before the device joins.
    await waitFor(() => sim.sessions().find((s) => s.key === key)!.clientToDevice >= 24 * MiB, 20_000, 'client bytes held up to the limit');
    const device: WebSocket = await openDevice(sim, 'flush-1', key);
    let got = takeEarly(device).reduce((n, b) => n + b.length, 0);
    await withTimeout(
      new Promise<void>((resolve) => {
        if (got >= total) return resolve();
        device.on('message', (d: Buffer) => {
          got += d.length;
          if (got >= total) resolve();
        });
      }),
      25_000,
      `33 MiB through (got ${got})`,
    );
    assert.equal(got, total);
  });
});
