/**
 * The REST additions of issue 13 item 7, each through the official SDK where it has a call and over
 * raw HTTP: OAuth token login, device registration, count, childDevices, external id deletion,
 * events/alarms/measurements, key pair generation and the SDK's start-up calls.
 */
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { describe, it } from 'node:test';
import { BasicAuth, Client } from '@c8y/client';
import mqtt from 'mqtt';
import type { Sim } from 'c8y-tunnel/sim';
import { Records } from '#internal/sim/records';
import { withTimeout } from '../helpers/net.js';
import { call, testSim } from '../helpers/sim-rig.js';
import type { Json } from '../helpers/sim-rig.js';

const T = { timeout: 30_000 };

const basic = (user: string, pw: string): string => 'Basic ' + Buffer.from(`${user}:${pw}`).toString('base64');
const admin = (sim: Sim): Client => new Client(new BasicAuth({ tenant: sim.tenant, user: sim.user, password: sim.password }), sim.httpUrl);

describe('sim REST additions', () => {
  it("OAuth token login: the SDK's authenticateViaOAuthInternal gets a Bearer token the API accepts", T, async (t) => {
    const sim = await testSim(t);
    const client = await Client.authenticateViaOAuthInternal({ tenant: sim.tenant, user: sim.user, password: sim.password }, sim.httpUrl);
    const { data: me } = await client.user.current();
    assert.equal(me.userName, sim.user);
    await assert.rejects(Client.authenticateViaOAuthInternal({ tenant: sim.tenant, user: sim.user, password: 'wrong' }, sim.httpUrl), (e: { res: { status: number } }) => e.res.status === 401);
    const form = (q: string, body: string): Promise<Response> => fetch(`${sim.httpUrl}/tenant/oauth/token${q}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const ok = await form('', `grant_type=PASSWORD&username=${sim.user}&password=${sim.password}`);
    assert.equal(ok.status, 200);
    const { access_token } = (await ok.json()) as { access_token: string };
    assert.equal((await call(sim, 'GET', '/inventory/managedObjects', { auth: `Bearer ${access_token}` })).status, 200);
    assert.equal((await form('?tenant_id=other', `grant_type=PASSWORD&username=${sim.user}&password=${sim.password}`)).status, 401);
    assert.equal((await form('', `grant_type=CLIENT_CREDENTIALS&username=${sim.user}&password=${sim.password}`)).status, 400);
  });

  it('device registration: request, 404 until accepted, credentials once, then the device logs in with them only', T, async (t) => {
    const sim = await testSim(t, { bootstrapPassword: 'Boot-pw-1' });
    const client = admin(sim);
    const boot = basic('management/devicebootstrap', 'Boot-pw-1');
    const { data: created } = await client.deviceRegistration.create({ id: 'reg-1' });
    assert.equal(created.status, 'WAITING_FOR_CONNECTION');
    // Accepting before the device asked is refused, as on a real tenant.
    assert.equal((await call(sim, 'PUT', '/devicecontrol/newDeviceRequests/reg-1', { body: { status: 'ACCEPTED' } })).status, 422);
    const poll = (): Promise<{ status: number; body: Json }> => call(sim, 'POST', '/devicecontrol/deviceCredentials', { auth: boot, body: { id: 'reg-1' } });
    assert.equal((await poll()).status, 404);
    assert.equal((await client.deviceRegistration.detail('reg-1')).data.status, 'PENDING_ACCEPTANCE');
    assert.equal((await poll()).status, 404);
    // Who may ask for credentials, and who may manage requests.
    assert.equal((await call(sim, 'POST', '/devicecontrol/deviceCredentials', { auth: basic('management/devicebootstrap', 'nope'), body: { id: 'reg-1' } })).status, 401);
    assert.equal((await call(sim, 'POST', '/devicecontrol/deviceCredentials', { body: { id: 'reg-1' } })).status, 403);
    assert.equal((await call(sim, 'GET', '/devicecontrol/newDeviceRequests', { auth: sim.deviceAuthHeader('x') })).status, 403);
    const { data: accepted } = await client.deviceRegistration.accept('reg-1');
    assert.equal(accepted.status, 'ACCEPTED');
    const { data: creds } = await client.deviceRegistration.bootstrap('reg-1', { basicAuth: { user: 'management/devicebootstrap', pass: 'Boot-pw-1' } });
    assert.deepEqual([creds.id, creds.tenantId, creds.username], ['reg-1', sim.tenant, 'device_reg-1']);
    assert.ok(typeof creds.password === 'string' && creds.password.length >= 16 && creds.password !== sim.devicePassword);
    assert.equal((await poll()).status, 404, 'credentials are handed out once');
    assert.equal((await call(sim, 'GET', '/devicecontrol/newDeviceRequests/reg-1')).status, 404);
    // The device logs in with them (REST and MQTT); the shared device password no longer works for it.
    assert.equal((await call(sim, 'GET', '/user/currentUser', { auth: basic(`${sim.tenant}/device_reg-1`, creds.password!) })).status, 200);
    assert.equal((await call(sim, 'GET', '/user/currentUser', { auth: sim.deviceAuthHeader('reg-1') })).status, 401);
    const c = await withTimeout(mqtt.connectAsync(sim.mqttUrl, { clientId: 'd:reg-1', username: `${sim.tenant}/device_reg-1`, password: creds.password, reconnectPeriod: 0 }), 5000, 'MQTT connect');
    await c.endAsync(true);
    // Listing, deleting, bad ids.
    await client.deviceRegistration.create({ id: 'reg-2' });
    const list = await call(sim, 'GET', '/devicecontrol/newDeviceRequests');
    assert.deepEqual(list.body.newDeviceRequests.map((r: { id: string }) => r.id), ['reg-2']);
    assert.equal((await call(sim, 'POST', '/devicecontrol/newDeviceRequests', { body: { id: 'reg-2' } })).status, 409);
    assert.equal((await call(sim, 'POST', '/devicecontrol/newDeviceRequests', { body: { id: '' } })).status, 422);
    assert.equal((await call(sim, 'DELETE', '/devicecontrol/newDeviceRequests/reg-2')).status, 204);
    assert.equal((await call(sim, 'DELETE', '/devicecontrol/newDeviceRequests/reg-2')).status, 404);
  });

  it('device registration over MQTT: the bootstrap user on s/ucr gets 70,... on s/dcr once accepted, and nothing else', T, async (t) => {
    const sim = await testSim(t, { bootstrapPassword: 'Boot-pw-2' });
    await call(sim, 'POST', '/devicecontrol/newDeviceRequests', { body: { id: 'mq-1' } });
    const boot = await withTimeout(mqtt.connectAsync(sim.mqttUrl, { clientId: 'mq-1', username: 'management/devicebootstrap', password: 'Boot-pw-2', reconnectPeriod: 0 }), 5000, 'bootstrap connect');
    t.after(() => boot.endAsync(true).catch(() => {}));
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    boot.on('message', (topic, payload) => {
      lines.push(`${topic} ${payload.toString()}`);
      for (const w of waiters.splice(0)) w();
    });
    await boot.subscribeAsync(['s/dcr', 's/ds', 's/e'], { qos: 1 });
    // A bootstrap connection cannot act as a device: 100 creates nothing.
    await boot.publishAsync('s/us', '100', { qos: 1 });
    await boot.publishAsync('s/ucr', '', { qos: 1 });
    assert.equal((await call(sim, 'GET', '/devicecontrol/newDeviceRequests/mq-1')).body.status, 'PENDING_ACCEPTANCE');
    assert.equal((await call(sim, 'GET', '/identity/externalIds/c8y_Serial/mq-1')).status, 404);
    assert.deepEqual(lines, [], 'nothing before acceptance');
    assert.equal((await call(sim, 'PUT', '/devicecontrol/newDeviceRequests/mq-1', { body: { status: 'ACCEPTED' } })).status, 200);
    await boot.publishAsync('s/ucr', '', { qos: 1 });
    await withTimeout(new Promise<void>((resolve) => (lines.length ? resolve() : void waiters.push(resolve))), 5000, 's/dcr answer');
    const [topic, line] = String(lines[0]).split(' ') as [string, string];
    const [code, tenant, user, password] = line.trim().split(',');
    assert.deepEqual([topic, code, tenant, user], ['s/dcr', '70', sim.tenant, 'device_mq-1']);
    const dev = await withTimeout(mqtt.connectAsync(sim.mqttUrl, { clientId: 'd:mq-1', username: `${sim.tenant}/device_mq-1`, password, reconnectPeriod: 0 }), 5000, 'device connect');
    await dev.endAsync(true);
    // Wrong bootstrap password: refused like any bad login.
    await assert.rejects(mqtt.connectAsync(sim.mqttUrl, { clientId: 'mq-2', username: 'management/devicebootstrap', password: 'nope', reconnectPeriod: 0 }));
  });

  it('count, childDevices (add, bulk add, create, list, remove), and no adopting a device that is not yours', T, async (t) => {
    const sim = await testSim(t);
    const client = admin(sim);
    const parent = await sim.createDevice('kid-parent');
    const a = await sim.createDevice('kid-a');
    const b = await sim.createDevice('kid-b');
    const before = (await client.inventory.count()).data as unknown as number;
    assert.equal(before, 3);
    assert.equal((await call(sim, 'GET', '/inventory/managedObjects/count?type=c8y_MQTTDevice')).body, 3);
    assert.equal((await call(sim, 'GET', `/inventory/managedObjects/count?ids=${a.id},${b.id}`)).body, 2, 'the list filters apply');
    await client.inventory.childDevicesAdd(a.id, parent.id);
    await client.inventory.childDevicesBulkAdd([b.id], parent.id);
    const { data: created } = await client.inventory.childDevicesCreate({ name: 'new-kid', c8y_IsDevice: {} }, parent.id);
    const { data: kids } = await client.inventory.childDevicesList(parent.id, { pageSize: 10 });
    assert.deepEqual(kids.map((k) => k.id).sort(), [a.id, b.id, String(created.id)].sort());
    assert.equal((await client.inventory.count()).data as unknown as number, 4);
    assert.equal((await call(sim, 'POST', `/inventory/managedObjects/${a.id}/childDevices`, { body: { managedObject: { id: parent.id } } })).status, 422, 'no cycles');
    await client.inventory.childDevicesRemove(a.id, parent.id);
    assert.equal((await call(sim, 'DELETE', `/inventory/managedObjects/${parent.id}/childDevices/${a.id}`)).status, 404);
    assert.deepEqual((await client.inventory.childDevicesList(parent.id)).data.map((k) => k.id).sort(), [b.id, String(created.id)].sort());
    // A device may not adopt another device: the victim stays out of its reach.
    const mallory = await sim.createDevice('mallory');
    const victim = await sim.createDevice('victim');
    const adopt = await call(sim, 'POST', `/inventory/managedObjects/${mallory.id}/childDevices`, { auth: sim.deviceAuthHeader('mallory'), body: { managedObject: { id: victim.id } } });
    assert.equal(adopt.status, 404);
    assert.equal(sim.managedObject(victim.id)!.owner, 'device_victim');
    assert.equal((await call(sim, 'GET', `/inventory/managedObjects/${victim.id}`, { auth: sim.deviceAuthHeader('mallory') })).status, 404);
    // A device counts only what it sees.
    assert.equal((await call(sim, 'GET', '/inventory/managedObjects/count', { auth: sim.deviceAuthHeader('mallory') })).body, 1);
  });

  it('DELETE /identity/externalIds/{type}/{value}', T, async (t) => {
    const sim = await testSim(t);
    const client = admin(sim);
    const { id } = await sim.createDevice('ext-1');
    await client.identity.create({ type: 'c8y_Imei', externalId: '4711', managedObject: { id } });
    await client.identity.delete({ type: 'c8y_Imei', externalId: '4711' });
    assert.equal((await call(sim, 'GET', '/identity/externalIds/c8y_Imei/4711')).status, 404);
    assert.equal((await call(sim, 'DELETE', '/identity/externalIds/c8y_Imei/4711')).status, 404);
    assert.equal((await call(sim, 'GET', '/identity/externalIds/c8y_Serial/ext-1')).status, 200, 'the other external id stays');
    await sim.createDevice('ext-2');
    assert.equal((await call(sim, 'DELETE', '/identity/externalIds/c8y_Serial/ext-2', { auth: sim.deviceAuthHeader('ext-1') })).status, 404, "not another device's");
  });

  it('events, alarms (de-duplicated) and measurements: create, filter by source, type and dates, page', T, async (t) => {
    const sim = await testSim(t);
    const client = admin(sim);
    const { id } = await sim.createDevice('rec-1');
    const other = await sim.createDevice('rec-2');
    const t0 = '2026-01-01T00:00:00.000Z';
    const t1 = '2026-01-02T00:00:00.000Z';
    await client.event.create({ source: { id }, type: 'c8y_Login', text: 'first', time: t0 });
    await client.event.create({ source: { id }, type: 'c8y_Login', text: 'second', time: t1 });
    await client.event.create({ source: { id: other.id }, type: 'c8y_Login', text: 'elsewhere', time: t1 });
    const { data: events } = await client.event.list({ source: id, pageSize: 10 });
    assert.deepEqual(events.map((e) => e.text), ['second', 'first'], 'newest first');
    assert.deepEqual((await client.event.list({ source: id, dateFrom: '2026-01-01T12:00:00Z' })).data.map((e) => e.text), ['second']);
    assert.equal((await call(sim, 'GET', '/event/events?dateFrom=yesterday')).status, 422);
    assert.equal((await call(sim, 'POST', '/event/events', { body: { source: { id }, type: 'x', time: t0 } })).status, 422, 'text is required');
    const a1 = await client.alarm.create({ source: { id }, type: 'c8y_Heat', text: 'hot', severity: 'MAJOR', time: t0 } as never);
    const a2 = await client.alarm.create({ source: { id }, type: 'c8y_Heat', text: 'hotter', severity: 'MAJOR', time: t1 } as never);
    assert.equal(a2.data.id, a1.data.id);
    assert.equal(a2.data.count, 2);
    await client.alarm.update({ id: a1.data.id, status: 'CLEARED' } as never);
    assert.equal((await client.alarm.list({ source: id, status: 'ACTIVE' })).data.length, 0);
    assert.equal((await call(sim, 'POST', '/alarm/alarms', { body: { source: { id }, type: 'x', text: 'y', time: t0, severity: 'LOUD' } })).status, 422);
    for (let i = 0; i < 7; i++) await client.measurement.create({ source: { id }, type: 'c8y_Temperature', time: `2026-01-01T00:0${i}:00.000Z`, c8y_Temperature: { T: { value: 20 + i, unit: 'C' } } } as never);
    const page1 = await client.measurement.list({ source: id, pageSize: 5, valueFragmentType: 'c8y_Temperature' });
    assert.equal(page1.data.length, 5);
    assert.equal((page1.data[0] as Json).c8y_Temperature.T.value, 20, 'oldest first');
    assert.equal(page1.paging?.nextPage, 2);
    const page2 = await client.measurement.list({ source: id, pageSize: 5, currentPage: 2 });
    assert.equal(page2.data.length, 2);
    // A device may only write and read its own records.
    assert.equal((await call(sim, 'POST', '/event/events', { auth: sim.deviceAuthHeader('rec-2'), body: { source: { id }, type: 'x', text: 'y', time: t0 } })).status, 422);
    const seen = await call(sim, 'GET', '/event/events?pageSize=100', { auth: sim.deviceAuthHeader('rec-2') });
    assert.deepEqual(seen.body.events.map((e: { text: string }) => e.text), ['elsewhere']);
  });

  it('records are bounded: the oldest go first', () => {
    const r = new Records(() => 'http://x', 3);
    for (let i = 0; i < 5; i++) r.create('event', { type: 't', text: String(i), time: '2026-01-01T00:00:00Z' }, '1');
    assert.deepEqual(r.list('event', {}).map((e) => e.text), ['2', '3', '4']);
  });

  it('key pair generation: an OpenSSH public key matching a PKCS#1 private key; needs the remote access role', T, async (t) => {
    const sim = await testSim(t, { users: [{ user: 'viewer', password: 'pw' }] });
    const r = await call(sim, 'POST', '/service/remoteaccess/keypair/generate', { body: { hostname: 'dev-1' } });
    assert.equal(r.status, 200);
    const { publicKey, privateKey } = r.body as { publicKey: string; privateKey: string };
    assert.match(privateKey, /^-----BEGIN RSA PRIVATE KEY-----\n/);
    const [kind, blob, comment] = publicKey.split(' ');
    assert.deepEqual([kind, comment], ['ssh-rsa', 'dev-1']);
    // The blob's modulus is the private key's.
    const buf = Buffer.from(blob!, 'base64');
    const fields: Buffer[] = [];
    for (let off = 0; off < buf.length; ) {
      const n = buf.readUInt32BE(off);
      fields.push(buf.subarray(off + 4, off + 4 + n));
      off += 4 + n;
    }
    assert.equal(fields[0]!.toString(), 'ssh-rsa');
    const jwk = createPrivateKey(privateKey).export({ format: 'jwk' }) as { n: string };
    assert.equal(Buffer.from(jwk.n, 'base64url').toString('hex'), fields[2]!.toString('hex').replace(/^00/, ''));
    assert.equal((await call(sim, 'POST', '/service/remoteaccess/keypair/generate', { auth: basic(`${sim.tenant}/viewer`, 'pw'), body: {} })).status, 403);
  });

  it("the SDK's start-up calls: applications by user, system version", T, async (t) => {
    const sim = await testSim(t);
    const client = admin(sim);
    const { data: apps } = await client.application.listByUser();
    assert.ok(apps.some((a) => a.contextPath === 'devicemanagement'));
    assert.ok(apps.some((a) => a.contextPath === 'remoteaccess' && a.type === 'MICROSERVICE'));
    const { data: version } = await client.options.system.detail({ category: 'system', key: 'version' });
    assert.match(String(version.value), /^[0-9]+\.[0-9]+\.[0-9]+$/);
    assert.equal((await call(sim, 'GET', '/application/applicationsByUser/nobody')).status, 404);
    assert.equal((await call(sim, 'GET', `/application/applicationsByUser/${sim.user}`, { auth: sim.deviceAuthHeader('d1') })).status, 403);
  });
});
