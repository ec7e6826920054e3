import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { withTimeout } from '../helpers/net.js';
import { connectDevice, deviceId, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };

describe('sim MQTT: registration and inventory templates', () => {
  it('100 creates the device with a c8y_Serial identity; a second 100 answers 41,100 on s/e', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'reg-1', { register: false });
    await dev.publish('s/us', '100,Gateway One,c8y_Gateway');
    const id = await deviceId(sim, 'reg-1');
    const mo = sim.managedObject(id)!;
    assert.equal(mo.name, 'Gateway One');
    assert.equal(mo.type, 'c8y_Gateway');
    assert.ok(mo.c8y_IsDevice);
    assert.ok(mo.com_cumulocity_model_Agent);
    await dev.publish('s/us', '100');
    assert.equal(await dev.next('s/e'), '41,100,Device already existing\n');
  });

  it('114 replaces the list; 117 sets only once; 122 agent info; 150 protocols; 123 answers 124', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'inv-1');
    await dev.publish('s/us', '114,c8y_Restart,c8y_RemoteAccessConnect\n117,10\n122,c8y-tunnel,0.1.0,https://x.example,me\n150,PASSTHROUGH,SSH');
    await dev.publish('s/us', '114,c8y_RemoteAccessConnect\n117,99');
    assert.deepEqual(sim.supportedOperations('inv-1'), ['c8y_RemoteAccessConnect']);
    const id = await deviceId(sim, 'inv-1');
    const mo = sim.managedObject(id)!;
    assert.deepEqual(mo.c8y_RequiredAvailability, { responseInterval: 10 });
    assert.deepEqual(mo.c8y_Agent, { name: 'c8y-tunnel', version: '0.1.0', url: 'https://x.example', maintainer: 'me' });
    assert.deepEqual(mo.c8y_RemoteAccessSupportedProtocols, ['PASSTHROUGH', 'SSH']);
    await dev.publish('s/us', '150');
    assert.equal(sim.managedObject(id)!.c8y_RemoteAccessSupportedProtocols, undefined);
    await dev.publish('s/us', '123');
    assert.equal(await dev.next('s/ds', (p) => p.startsWith('124')), `124,${id}\n`);
  });

  it('101 creates a child device under the publisher', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'parent-1');
    await dev.publish('s/us', '101,child-1,Child One');
    const parent = sim.managedObject(await deviceId(sim, 'parent-1'))!;
    const childId = await deviceId(sim, 'child-1');
    const refs = (parent.childDevices as { references: Array<{ managedObject: { id: string } }> }).references;
    assert.deepEqual(refs.map((r) => r.managedObject.id), [childId]);
    await dev.publish('s/us/child-1', '114,c8y_RemoteAccessConnect');
    assert.deepEqual(sim.supportedOperations('child-1'), ['c8y_RemoteAccessConnect']);
  });
});

describe('sim MQTT: SmartREST parsing', () => {
  it('accepts Cumulocity and RFC 4180 quoting, several lines per publish, and quotes its own output', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'q-1');
    await dev.publish('s/us', '122,"name, with comma","1.0 \\"beta\\"",,"x"""\r\n114,"a,b",c');
    const mo = sim.managedObject(await deviceId(sim, 'q-1'))!;
    assert.deepEqual(mo.c8y_Agent, { name: 'name, with comma', version: '1.0 "beta"', url: '', maintainer: 'x"' });
    assert.deepEqual(sim.supportedOperations('q-1'), ['a,b', 'c']);
    // Downstream: a hostname needing quotes comes back quoted the Cumulocity way.
    const id = await deviceId(sim, 'q-1');
    await sim.createRemoteAccessOperation(id, { hostname: 'host,"odd"', port: 22 });
    const line = await dev.next('s/ds', (p) => p.startsWith('530'));
    assert.match(line, /^530,q-1,"host,\\"odd\\"",22,[0-9a-f-]{36}\n$/);
  });

  it('malformed lines and unknown templates get an s/e error and never stop the broker', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'bad-1');
    await dev.publish('s/us', '114,"unterminated\n');
    assert.match(await dev.next('s/e'), /^50,114,.*quote/);
    await dev.publish('s/us', 'abc,def');
    assert.match(await dev.next('s/e'), /^50,abc,Unknown template/);
    await dev.publish('s/us', '117,notanumber');
    assert.match(await dev.next('s/e'), /^50,117,/);
    await dev.publish('s/us', '\n\n114,c8y_X,"b"c\n114,ok');
    assert.match(await dev.next('s/e'), /^50,114,/);
    assert.deepEqual(sim.supportedOperations('bad-1'), ['ok'], 'the good line of the same publish was applied');
  });

  it('survives hundreds of random payloads (quotes, commas, line breaks, templates, bytes) and still answers', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'fuzz-1');
    const id = await deviceId(sim, 'fuzz-1');
    await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    const piece = fc.oneof(
      fc.constantFrom('100', '101', '114', '117', '122', '123', '150', '500', '501', '502', '503', '504', '505', '506', '507', '530', '999', 'c8y_RemoteAccessConnect', id),
      fc.constantFrom(',', '"', '\\"', '""', '\n', '\r\n', '\\', ' ', '\t'),
      fc.string({ maxLength: 12 }),
    );
    const payloads = fc.sample(fc.array(piece, { maxLength: 30 }).map((a) => a.join('')), { numRuns: 300, seed: 42 });
    for (const p of payloads) dev.client.publish('s/us', p);
    for (let i = 0; i < 20; i++) dev.client.publish('s/us', Buffer.from(fc.sample(fc.uint8Array({ maxLength: 200 }), { numRuns: 1, seed: i })[0]!));
    await dev.publish('s/us', '123');
    assert.equal(await dev.next('s/ds', (p) => p.startsWith('124,')), `124,${id}\n`);
  });

  it('refuses a payload above 16,184 bytes with an s/e error', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'big-1');
    await dev.publish('s/us', '114,' + 'x'.repeat(16_200));
    assert.match(await dev.next('s/e'), /exceeds 16184/);
    assert.equal(sim.supportedOperations('big-1'), undefined);
  });
});

describe('sim MQTT: authentication and isolation', () => {
  it('CONNACK 4 on a bad password, 5 for another device\'s client id, 2 for a malformed one', T, async (t) => {
    const sim = await testSim(t);
    const attempt = async (clientId: string, username: string, password: string): Promise<number | undefined> => {
      const c = mqtt.connect(sim.mqttUrl, { clientId, username, password, reconnectPeriod: 0 });
      t.after(() => c.end(true));
      return withTimeout(
        new Promise<number | undefined>((resolve) => {
          c.on('connect', () => resolve(0));
          c.on('error', (err) => resolve((err as { code?: number }).code));
        }),
        5000,
        'CONNACK',
      );
    };
    assert.equal(await attempt('d:a1', 't1/device_a1', 'wrong'), 4);
    assert.equal(await attempt('d:a1', 't2/device_a1', 'device'), 4);
    assert.equal(await attempt('d:b1', 't1/device_a1', 'device'), 5);
    assert.equal(await attempt('x:y:z:w', 't1/device_a1', 'device'), 2);
    assert.equal(await attempt('a1', 't1/device_a1', 'device'), 0, 'a bare serial is accepted as client id');
    assert.equal(await attempt('d:a1:myXid', 't1/device_a1', 'device'), 0, 'a template xid suffix is accepted');
  });

  it('a newer connection for the same serial (d:x, then x) replaces the older one', T, async (t) => {
    const sim = await testSim(t);
    const first = await connectDevice(t, sim, 'dup-1');
    const gone = withTimeout(new Promise<void>((r) => first.client.once('close', () => r())), 5000, 'older connection closed');
    const second = await connectDevice(t, sim, 'dup-1', { clientId: 'dup-1' });
    await gone;
    await second.publish('s/us', '123');
    assert.match(await second.next('s/ds'), /^124,/);
  });

  it("one device cannot read another device's s/ds, s/e or s/us even with a # subscription", T, async (t) => {
    const sim = await testSim(t);
    const a = await connectDevice(t, sim, 'iso-a');
    const b = await connectDevice(t, sim, 'iso-b', { subscribe: ['#', 's/ds', 's/e', 's/us'] });
    const aId = await deviceId(sim, 'iso-a');
    await sim.createRemoteAccessOperation(aId, { hostname: '127.0.0.1', port: 22 });
    await a.next('s/ds', (p) => p.startsWith('530,iso-a,'));
    await a.publish('s/us', '100');
    await a.next('s/e');
    await a.publish('s/us', '114,c8y_A');
    // b sees its own traffic only: provoke one message for b and check it is the only one.
    await b.publish('s/us', '100');
    await b.next('s/e');
    assert.deepEqual(b.messages.map((m) => m.topic), ['s/e']);
    assert.ok(!b.messages.some((m) => m.payload.includes('iso-a')));
  });

  it('s/uat answers 71,<JWT> on s/dat, accepted as Bearer by REST', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'jwt-1', { subscribe: ['s/dat'] });
    await dev.publish('s/uat', '');
    const line = await dev.next('s/dat');
    const m = /^71,([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\n$/.exec(line);
    assert.ok(m, line);
    const claims = JSON.parse(Buffer.from(m[1]!.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number; sub: string };
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(claims.sub, 'device_jwt-1');
    const r = await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { authorization: `Bearer ${m[1]}` } });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { userName: string }).userName, 'device_jwt-1');
  });

  it('restartMqtt drops clients and listens again on the same port', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'rs-1');
    const gone = withTimeout(new Promise<void>((r) => dev.client.once('close', () => r())), 5000, 'disconnect');
    await sim.restartMqtt(50);
    await gone;
    const again = await connectDevice(t, sim, 'rs-1');
    await again.publish('s/us', '100');
    assert.equal(await again.next('s/e'), '41,100,Device already existing\n');
  });
});
