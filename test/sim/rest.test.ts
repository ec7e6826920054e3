import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { call, connectDevice, deviceId, testSim } from '../helpers/sim-rig.js';
import type { Json } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };

describe('sim REST', () => {
  it('401 carries WWW-Authenticate: Basic realm="Cumulocity"; the health check needs no auth', T, async (t) => {
    const sim = await testSim(t);
    for (const auth of [null, 'Basic ' + Buffer.from('t1/admin:wrong').toString('base64'), 'Basic ' + Buffer.from('t9/admin:admin').toString('base64'), 'Bearer not.a.jwt']) {
      const r = await call(sim, 'GET', '/user/currentUser', { auth });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Basic realm="Cumulocity"');
    }
    const h = await fetch(sim.httpUrl + '/service/remoteaccess/health', { method: 'HEAD' });
    assert.equal(h.status, 200);
  });

  it('currentUser lists the remote access role for the admin, not for a device or a plain user', T, async (t) => {
    const sim = await testSim(t, { users: [{ user: 'viewer', password: 'pw', roles: ['ROLE_INVENTORY_READ'] }] });
    const roles = async (auth: string): Promise<string[]> => ((await call(sim, 'GET', '/user/currentUser', { auth })).body.effectiveRoles as Array<{ id: string }>).map((r) => r.id);
    assert.ok((await roles(sim.adminAuthHeader())).includes('ROLE_REMOTE_ACCESS_ADMIN'));
    assert.ok(!(await roles(sim.deviceAuthHeader('x1'))).includes('ROLE_REMOTE_ACCESS_ADMIN'));
    assert.ok(!(await roles('Basic ' + Buffer.from('t1/viewer:pw').toString('base64'))).includes('ROLE_REMOTE_ACCESS_ADMIN'));
  });

  it('REST-only registration by a device: managed object, external id, then lookups', T, async (t) => {
    const sim = await testSim(t);
    const dauth = sim.deviceAuthHeader('rest-1');
    assert.equal((await call(sim, 'GET', '/identity/externalIds/c8y_Serial/rest-1', { auth: dauth })).status, 404);
    const mo = await call(sim, 'POST', '/inventory/managedObjects', { auth: dauth, body: { name: 'rest-1', c8y_IsDevice: {}, com_cumulocity_model_Agent: {}, c8y_SupportedOperations: ['c8y_RemoteAccessConnect'] } });
    assert.equal(mo.status, 201);
    const id = mo.body.id as string;
    assert.match(id, /^[0-9]+$/);
    assert.equal((await call(sim, 'POST', `/identity/globalIds/${id}/externalIds`, { auth: dauth, body: { externalId: 'someone-else', type: 'c8y_Serial' } })).status, 403);
    assert.equal((await call(sim, 'POST', `/identity/globalIds/${id}/externalIds`, { auth: dauth, body: { externalId: 'rest-1', type: 'c8y_Serial' } })).status, 201);
    assert.equal((await call(sim, 'POST', `/identity/globalIds/${id}/externalIds`, { body: { externalId: 'rest-1', type: 'c8y_Serial' } })).status, 201, 'same mapping again is fine');
    const ext = await call(sim, 'GET', '/identity/externalIds/c8y_Serial/rest-1', { auth: dauth });
    assert.equal(ext.body.managedObject.id, id);
    const list = await call(sim, 'GET', `/identity/globalIds/${id}/externalIds`);
    assert.deepEqual(list.body.externalIds.map((e: { externalId: string }) => e.externalId), ['rest-1']);
    const put = await call(sim, 'PUT', `/inventory/managedObjects/${id}`, { auth: dauth, body: { c8y_SupportedOperations: ['c8y_Restart'] } });
    assert.deepEqual(put.body.c8y_SupportedOperations, ['c8y_Restart']);
    assert.deepEqual(sim.supportedOperations('rest-1'), ['c8y_Restart']);
    // Another device may not see or change it.
    assert.equal((await call(sim, 'GET', `/inventory/managedObjects/${id}`, { auth: sim.deviceAuthHeader('other') })).status, 404);
    assert.equal((await call(sim, 'PUT', `/inventory/managedObjects/${id}`, { auth: sim.deviceAuthHeader('other'), body: {} })).status, 404);
  });

  it('operations: POST, GET with filters, PUT status and failureReason; devices only see their own', T, async (t) => {
    const sim = await testSim(t);
    const dev = await connectDevice(t, sim, 'ops-r', { subscribe: ['devicecontrol/notifications'] });
    const other = await sim.createDevice('ops-other');
    const id = await deviceId(sim, 'ops-r');
    const posted = await call(sim, 'POST', '/devicecontrol/operations', { body: { deviceId: id, description: 'restart', c8y_Restart: {} } });
    assert.equal(posted.status, 201);
    assert.equal(posted.body.status, 'PENDING');
    const json = JSON.parse(await dev.next('devicecontrol/notifications')) as { id: string; c8y_Restart: unknown };
    assert.equal(json.id, posted.body.id);
    await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    await sim.createRemoteAccessOperation(other.id, { hostname: '127.0.0.1', port: 22 });
    const byFrag = await call(sim, 'GET', `/devicecontrol/operations?deviceId=${id}&fragmentType=c8y_RemoteAccessConnect&pageSize=100`);
    assert.equal(byFrag.body.operations.length, 1);
    const mine = await call(sim, 'GET', '/devicecontrol/operations?status=PENDING&pageSize=100', { auth: sim.deviceAuthHeader('ops-r') });
    assert.equal(mine.body.operations.length, 2);
    assert.ok(mine.body.operations.every((o: { deviceId: string }) => o.deviceId === id));
    const opId = posted.body.id as string;
    const dauth = sim.deviceAuthHeader('ops-r');
    assert.equal((await call(sim, 'PUT', `/devicecontrol/operations/${opId}`, { auth: dauth, body: { status: 'EXECUTING' } })).status, 200);
    assert.equal((await call(sim, 'PUT', `/devicecontrol/operations/${opId}`, { auth: dauth, body: { status: 'DONE' } })).status, 422);
    assert.equal((await call(sim, 'PUT', `/devicecontrol/operations/${opId}`, { auth: sim.deviceAuthHeader('ops-other'), body: { status: 'FAILED' } })).status, 404);
    const failed = await call(sim, 'PUT', `/devicecontrol/operations/${opId}`, { auth: dauth, body: { status: 'FAILED', failureReason: 'no' } });
    assert.equal(failed.body.failureReason, 'no');
    assert.equal((await call(sim, 'PUT', `/devicecontrol/operations/${opId}`, { auth: dauth, body: { status: 'SUCCESSFUL' } })).status, 422, 'a final status is final');
    assert.deepEqual(sim.operationHistory(opId).map((h) => h.status), ['PENDING', 'EXECUTING', 'FAILED']);
    assert.equal((await call(sim, 'POST', '/devicecontrol/operations', { auth: dauth, body: { deviceId: id } })).status, 403);
  });

  it('remote access configurations: CRUD with the older flat body too, mirrored into c8y_RemoteAccessList', T, async (t) => {
    const sim = await testSim(t, { users: [{ user: 'viewer', password: 'pw' }] });
    const { id } = await sim.createDevice('cfg-1');
    const base = `/service/remoteaccess/devices/${id}/configurations`;
    const created = await call(sim, 'POST', base, { body: { name: 'ssh', hostname: '127.0.0.1', port: 22, protocol: 'PASSTHROUGH', credentialsType: 'NONE' } });
    assert.equal(created.status, 201);
    const cid = created.body.id as string;
    assert.equal(typeof cid, 'string');
    const vnc = await call(sim, 'POST', base, { body: { name: 'vnc', hostname: '10.0.0.2', port: 5900, protocol: 'VNC', credentialsType: 'PASS_ONLY', password: 'secret' } });
    assert.equal(vnc.body.password, undefined, 'secrets are never returned');
    let list = sim.managedObject(id)!.c8y_RemoteAccessList as Array<Record<string, Json>>;
    assert.deepEqual(list.map((c) => [c.id, c.name, c.hostname, c.port, c.protocol]), [[cid, 'ssh', '127.0.0.1', 22, 'PASSTHROUGH'], [vnc.body.id, 'vnc', '10.0.0.2', 5900, 'VNC']]);
    assert.equal(list[1]!.credentials.type, 'PASS_ONLY');
    assert.match(list[1]!.credentials.password, /^\{cipher\}/);
    assert.equal((await call(sim, 'GET', base)).body.length, 2);
    assert.equal((await call(sim, 'PUT', `${base}/${cid}`, { body: { port: 2222 } })).body.port, 2222);
    assert.equal((await call(sim, 'GET', `${base}/${cid}`)).body.port, 2222);
    assert.equal((await call(sim, 'DELETE', `${base}/${vnc.body.id}`)).status, 204);
    list = sim.managedObject(id)!.c8y_RemoteAccessList as Array<Record<string, Json>>;
    assert.deepEqual(list.map((c) => [c.id, c.port]), [[cid, 2222]]);
    // Validation, unknown ids, and the role.
    assert.equal((await call(sim, 'POST', base, { body: { name: 'x', hostname: 'h', port: 70000 } })).status, 422);
    assert.equal((await call(sim, 'POST', base, { body: { name: 'x', hostname: 'h', port: 1, protocol: 'FTP' } })).status, 422);
    assert.equal((await call(sim, 'GET', `${base}/999`)).status, 404);
    assert.equal((await call(sim, 'GET', '/service/remoteaccess/devices/999999/configurations')).status, 404);
    assert.equal((await call(sim, 'GET', base, { auth: 'Basic ' + Buffer.from('t1/viewer:pw').toString('base64') })).status, 403);
  });

  it('configurations read back nested credentials without secrets; a PUT with password: null keeps the password', T, async (t) => {
    const sim = await testSim(t);
    const { id } = await sim.createDevice('cfg-2');
    const base = `/service/remoteaccess/devices/${id}/configurations`;
    const cipher = (v: string): string => '{cipher}' + Buffer.from(v).toString('base64');
    const mirrored = (): Json => (sim.managedObject(id)!.c8y_RemoteAccessList as Json[])[0].credentials;
    const created = await call(sim, 'POST', base, { body: { name: 'ssh', hostname: '10.0.0.1', port: 22, protocol: 'SSH', credentials: { type: 'USER_PASS', username: 'root', password: 'p1', hostKey: 'ssh-ed25519 AAAA' } } });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), `${sim.httpUrl}${base}/${created.body.id}`);
    assert.deepEqual(created.body, { id: created.body.id, name: 'ssh', hostname: '10.0.0.1', port: 22, protocol: 'SSH', credentialsType: 'USER_PASS', credentials: { type: 'USER_PASS', username: 'root', hostKey: 'ssh-ed25519 AAAA' } });
    const one = `${base}/${created.body.id}`;
    // What an edit dialog sends back: the object it read, with password null.
    const edited = await call(sim, 'PUT', one, { body: { ...created.body, name: 'ssh2', credentials: { ...created.body.credentials, password: null } } });
    assert.equal(edited.status, 200);
    assert.equal(edited.body.name, 'ssh2');
    assert.equal(mirrored().password, cipher('p1'), 'the stored password is kept');
    await call(sim, 'PUT', one, { body: { credentials: { type: 'USER_PASS', password: 'p2' } } });
    assert.deepEqual(mirrored(), { type: 'USER_PASS', username: 'root', password: cipher('p2'), hostKey: 'ssh-ed25519 AAAA' });
    const none = await call(sim, 'PUT', one, { body: { credentials: { type: 'NONE' } } });
    assert.deepEqual(none.body.credentials, { type: 'NONE' });
    assert.deepEqual(mirrored(), { type: 'NONE' }, 'another type starts from no credentials');
    assert.equal((await call(sim, 'PUT', one, { body: { credentials: { type: 'PASSWORD' } } })).status, 422);
    assert.equal((await call(sim, 'PUT', one, { body: { credentials: 'x' } })).status, 422);
  });

  it('errors name their API and use the error media type; successes use the resource media types', T, async (t) => {
    const sim = await testSim(t);
    const vnd = (type: string): RegExp => new RegExp(`^application/vnd\\.com\\.nsn\\.cumulocity\\.${type}\\+json`);
    for (const [path, error] of [
      ['/inventory/managedObjects/999999', 'inventory/Not Found'],
      ['/inventory/nothing/here', 'inventory/Not Found'],
      ['/identity/externalIds/c8y_Serial/none', 'identity/Not Found'],
      ['/devicecontrol/operations/999999', 'devicecontrol/Not Found'],
      ['/devicecontrol/operations?status=DONE', 'devicecontrol/Unprocessable Entity'],
      ['/inventory/managedObjects?pageSize=abc', 'inventory/Unprocessable Entity'],
    ] as const) {
      const r = await call(sim, 'GET', path);
      assert.equal(r.body.error, error, path);
      assert.match(r.headers.get('content-type')!, vnd('error'), path);
      assert.equal(typeof r.body.info, 'string');
    }
    const ra = await call(sim, 'GET', '/service/remoteaccess/devices/999999/configurations');
    assert.equal(ra.body.error, 'remoteaccess/Not Found');
    assert.equal(ra.headers.get('content-type'), 'application/json', 'the microservice answers plain JSON');
    assert.match((await call(sim, 'GET', '/inventory/managedObjects')).headers.get('content-type')!, vnd('managedObjectCollection'));
    assert.match((await call(sim, 'GET', '/user/currentUser')).headers.get('content-type')!, vnd('currentUser'));
  });

  it('currentTenant.domainName and collection links follow the Host the client used', T, async (t) => {
    const sim = await testSim(t);
    const u = new URL(sim.httpUrl);
    const get = (path: string): Promise<Json> =>
      new Promise((resolve, reject) => {
        const req = http.get({ host: u.hostname, port: u.port, path, headers: { host: 'acme.example.test:8443', authorization: sim.adminAuthHeader() } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(JSON.parse(body)));
        });
        req.on('error', reject);
      });
    assert.equal((await get('/tenant/currentTenant')).domainName, 'acme.example.test');
    assert.equal((await get('/inventory/managedObjects?pageSize=1')).self, 'http://acme.example.test:8443/inventory/managedObjects?pageSize=1&currentPage=1');
  });

  it('OAI-Secure login sets the authorization and XSRF cookies, which then authenticate', T, async (t) => {
    const sim = await testSim(t);
    const bad = await fetch(`${sim.httpUrl}/tenant/oauth`, { method: 'POST', body: new URLSearchParams({ grant_type: 'PASSWORD', username: 'admin', password: 'x' }) });
    assert.equal(bad.status, 401);
    const r = await fetch(`${sim.httpUrl}/tenant/oauth?tenant_id=t1`, { method: 'POST', body: new URLSearchParams({ grant_type: 'PASSWORD', username: 'admin', password: 'admin' }) });
    assert.equal(r.status, 200);
    const cookies = r.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const xsrf = cookies.find((c) => c.startsWith('XSRF-TOKEN='))!.slice('XSRF-TOKEN='.length);
    const me = await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { cookie: cookies.join('; '), 'x-xsrf-token': xsrf } });
    assert.equal(me.status, 200);
    const noXsrf = await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { cookie: cookies.join('; ') } });
    assert.equal(noXsrf.status, 401);
  });

  it('unknown paths give 404 and wrong methods 405, as JSON', T, async (t) => {
    const sim = await testSim(t);
    const r = await call(sim, 'GET', '/nope');
    assert.equal(r.status, 404);
    assert.equal(typeof r.body.message, 'string');
    assert.equal((await call(sim, 'PATCH', '/inventory/managedObjects')).status, 405);
  });
});
