/**
 * The emulator driven by Cumulocity's official Web SDK client (@c8y/client), the way an integrator's
 * code would use it against a tenant: every check here is a call an SDK user makes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BasicAuth, Client } from '@c8y/client';
import type { IManagedObject, IOperation } from '@c8y/client';
import type { Sim } from 'c8y-tunnel/sim';
import { connectDevice, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };

async function client(sim: Sim): Promise<Client> {
  return Client.authenticate({ user: sim.user, password: sim.password, tenant: sim.tenant }, sim.httpUrl);
}

/** What the SDK throws for an error status: `{ res, data }`. */
async function sdkError(p: Promise<unknown>): Promise<{ status: number; data: { error: string; message: string; info: string }; type: string | null }> {
  try {
    await p;
  } catch (err) {
    const e = err as { res?: Response; data?: { error: string; message: string; info: string } };
    if (e.res) return { status: e.res.status, data: e.data!, type: e.res.headers.get('content-type') };
    throw err;
  }
  throw new Error('the call succeeded');
}

async function devices(c: Client, n: number, prefix = 'dev'): Promise<IManagedObject[]> {
  const out: IManagedObject[] = [];
  for (let i = 0; i < n; i++) out.push((await c.inventory.create({ name: `${prefix}-${i}`, c8y_IsDevice: {}, order: i })).data);
  return out;
}

describe('sim with @c8y/client', () => {
  it('Client.authenticate reads the tenant; currentUser has customProperties; currentTenant names the host asked', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    assert.equal(c.core.tenant, sim.tenant);
    const user = (await c.user.current()).data;
    assert.equal(user.userName, sim.user);
    assert.deepEqual(user.customProperties, {});
    const tenant = (await c.tenant.current()).data;
    assert.equal(tenant.name, sim.tenant);
    assert.equal(tenant.domainName, new URL(sim.httpUrl).hostname);
    const viaLocalhost = await Client.authenticate({ user: sim.user, password: sim.password, tenant: sim.tenant }, sim.httpUrl.replace('127.0.0.1', 'localhost'));
    assert.equal((await viaLocalhost.tenant.current()).data.domainName, 'localhost');
  });

  it('login options carry what the login page reads (visibleOnLoginPage, userManagementSource, grantType, initRequest)', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const { data } = await c.options.login.listForCurrentTenant();
    assert.deepEqual(data.map((o) => o.type).sort(), ['BASIC', 'OAUTH2_INTERNAL']);
    for (const o of data as unknown as Array<Record<string, unknown>>) {
      assert.equal(o.visibleOnLoginPage, true);
      assert.equal(o.userManagementSource, 'INTERNAL');
      assert.equal(o.grantType, 'PASSWORD');
      assert.equal(typeof o.initRequest, 'string');
    }
  });

  it('wrong credentials: the SDK gets 401 with a security error body', T, async (t) => {
    const sim = await testSim(t);
    const c = new Client(new BasicAuth({ user: sim.user, password: 'wrong', tenant: sim.tenant }), sim.httpUrl);
    const e = await sdkError(c.inventory.list());
    assert.equal(e.status, 401);
    assert.equal(e.data.error, 'security/Unauthorized');
  });

  it('inventory.create answers 201 with Location and the managed object media type; detail and update round-trip', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const { res, data } = await c.inventory.create({ name: 'created', c8y_IsDevice: {} });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `${sim.httpUrl}/inventory/managedObjects/${data.id}`);
    assert.match(res.headers.get('content-type')!, /^application\/vnd\.com\.nsn\.cumulocity\.managedObject\+json/);
    assert.equal((await c.inventory.detail(data.id)).data.name, 'created');
    const updated = (await c.inventory.update({ id: data.id, c8y_Hardware: { serialNumber: 'sn-1' } })).data;
    assert.deepEqual(updated.c8y_Hardware, { serialNumber: 'sn-1' });
  });

  it('paging: nextPage/prevPage from the next/prev links, totalPages only with withTotalPages, next() and prev() walk the pages', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    await devices(c, 5);
    const first = await c.inventory.list({ fragmentType: 'c8y_IsDevice', pageSize: 2, withTotalPages: true });
    assert.deepEqual(first.data.map((m) => m.name), ['dev-0', 'dev-1']);
    assert.equal(first.paging!.totalPages, 3);
    assert.equal(first.paging!.nextPage, 2);
    assert.equal(first.paging!.prevPage, null);
    const second = await first.paging!.next();
    assert.deepEqual(second.data.map((m) => m.name), ['dev-2', 'dev-3']);
    assert.equal(second.paging!.prevPage, 1);
    const third = await second.paging!.next();
    assert.deepEqual(third.data.map((m) => m.name), ['dev-4']);
    assert.equal(third.paging!.nextPage, null, 'a page that is not full has no next link');
    assert.deepEqual((await third.paging!.prev()).data.map((m) => m.name), ['dev-2', 'dev-3']);
    const plain = await c.inventory.list({ fragmentType: 'c8y_IsDevice', pageSize: 2 });
    assert.equal(plain.paging!.totalPages, undefined, 'no totalPages without withTotalPages=true');
    const counted = await c.inventory.list({ fragmentType: 'c8y_IsDevice', withTotalElements: true });
    assert.equal(counted.paging!.totalElements, 5);
    const json = (await (await fetch(plain.res.url, { headers: { authorization: sim.adminAuthHeader() } })).json()) as { self: string; next: string };
    assert.equal(json.self, `${sim.httpUrl}/inventory/managedObjects?fragmentType=c8y_IsDevice&pageSize=2&currentPage=1`);
    assert.equal(json.next, `${sim.httpUrl}/inventory/managedObjects?fragmentType=c8y_IsDevice&pageSize=2&currentPage=2`);
  });

  it('listQuery with the SDK\'s query builder: has(), eq with wildcards, and/or/not, $orderby', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    await devices(c, 4);
    await c.inventory.create({ name: 'group', c8y_IsDeviceGroup: {} });
    const q = await c.inventory.listQuery({ __filter: { __and: [{ __has: 'c8y_IsDevice' }, { name: 'dev-*' }] }, __orderby: [{ name: -1 }] }, { pageSize: 10 });
    assert.deepEqual(q.data.map((m) => m.name), ['dev-3', 'dev-2', 'dev-1', 'dev-0']);
    const or = await c.inventory.listQuery({ __or: [{ name: 'dev-1' }, { name: 'group' }] }, { pageSize: 10 });
    assert.deepEqual(or.data.map((m) => m.name).sort(), ['dev-1', 'group']);
    const not = await c.inventory.listQuery({ __and: [{ __has: 'c8y_IsDevice' }, { __not: { order: { __lt: 2 } } }] }, { pageSize: 10 });
    assert.deepEqual(not.data.map((m) => m.name), ['dev-2', 'dev-3']);
    const devQ = await c.inventory.listQueryDevices({ __filter: { name: "dev-'0" }, __orderby: [{ name: 1 }] });
    assert.deepEqual(devQ.data, [], "a quote in a value is escaped and matched literally");
  });

  it('filters the emulator does not evaluate are refused with 422 and an inventory error, never ignored', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    await devices(c, 2);
    for (const filter of [{ query: '$filter=(bygroupid(10300))' }, { q: 'name eq' }, { childAssetId: '1' }, { withParents: true }]) {
      const e = await sdkError(c.inventory.list(filter));
      assert.equal(e.status, 422, JSON.stringify(filter));
      assert.equal(e.data.error, 'inventory/Unprocessable Entity');
      assert.match(e.type!, /^application\/vnd\.com\.nsn\.cumulocity\.error\+json/);
    }
  });

  it('ids, text, owner, onlyRoots and childDeviceId filter the list', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const [a, b, d] = await devices(c, 3, 'f');
    assert.deepEqual((await c.inventory.list({ ids: `${a!.id},${d!.id}` })).data.map((m) => m.id), [a!.id, d!.id]);
    assert.deepEqual((await c.inventory.list({ text: 'F-1' })).data.map((m) => m.id), [b!.id], 'text matches a string value, case-insensitively');
    assert.equal((await c.inventory.list({ owner: sim.user, pageSize: 10 })).data.length, 3);
    const dev = await connectDevice(t, sim, 'parent-x');
    await dev.publish('s/us', '101,kid-x');
    const kid = (await c.identity.detail({ type: 'c8y_Serial', externalId: 'kid-x' })).data.managedObject!.id;
    const parent = (await c.identity.detail({ type: 'c8y_Serial', externalId: 'parent-x' })).data.managedObject!.id;
    assert.deepEqual((await c.inventory.list({ childDeviceId: kid })).data.map((m) => m.id), [parent]);
    const roots = (await c.inventory.list({ onlyRoots: true, pageSize: 100 })).data.map((m) => String(m.id));
    assert.ok(roots.includes(String(parent)) && !roots.includes(String(kid)));
  });

  it('errors name their API: inventory, identity and devicecontrol 404s', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const inv = await sdkError(c.inventory.detail('999999'));
    assert.equal(inv.status, 404);
    assert.equal(inv.data.error, 'inventory/Not Found');
    const id = await sdkError(c.identity.detail({ type: 'c8y_Serial', externalId: 'nobody' }));
    assert.equal(id.status, 404);
    assert.equal(id.data.error, 'identity/Not Found');
    const op = await sdkError(c.operation.detail('999999'));
    assert.equal(op.data.error, 'devicecontrol/Not Found');
  });

  it('identity.create and detail, then list of a managed object\'s external ids', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const [mo] = await devices(c, 1);
    const created = await c.identity.create({ type: 'c8y_Serial', externalId: 'sn-42', managedObject: { id: mo!.id } });
    assert.equal(created.res.status, 201);
    assert.ok(created.res.headers.get('location')!.endsWith('/identity/externalIds/c8y_Serial/sn-42'));
    assert.equal((await c.identity.detail({ type: 'c8y_Serial', externalId: 'sn-42' })).data.managedObject!.id, mo!.id);
    assert.deepEqual((await c.identity.list(mo!.id)).data.map((e) => e.externalId), ['sn-42']);
  });

  it('operations: create, list by deviceId/status/agentId/dateFrom/dateTo/revert, update to FAILED', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const dev = await connectDevice(t, sim, 'op-agent', { subscribe: ['s/ds', 'devicecontrol/notifications'] });
    await dev.publish('s/us', '101,op-kid');
    const agent = (await c.identity.detail({ type: 'c8y_Serial', externalId: 'op-agent' })).data.managedObject!.id;
    const kid = (await c.identity.detail({ type: 'c8y_Serial', externalId: 'op-kid' })).data.managedObject!.id;
    const before = new Date(Date.now() - 1000).toISOString();
    const o1 = (await c.operation.create({ deviceId: agent, c8y_Command: { text: 'one' } } as IOperation)).data as IOperation & { id: string };
    const created = await c.operation.create({ deviceId: kid, c8y_Command: { text: 'two' } } as IOperation);
    assert.equal(created.res.status, 201);
    assert.equal(created.res.headers.get('location'), `${sim.httpUrl}/devicecontrol/operations/${created.data.id}`);
    const o2 = created.data as IOperation & { id: string };
    const ids = async (filter: object): Promise<string[]> => (await c.operation.list(filter)).data.map((o) => String(o.id));
    assert.deepEqual(await ids({ deviceId: agent, status: 'PENDING' }), [o1.id]);
    assert.deepEqual(await ids({ agentId: agent }), [o1.id, o2.id], 'agentId: the agent and its children');
    assert.deepEqual(await ids({ agentId: agent, revert: true }), [o2.id, o1.id]);
    assert.deepEqual(await ids({ dateFrom: before, fragmentType: 'c8y_Command' }), [o1.id, o2.id]);
    assert.deepEqual(await ids({ dateTo: before }), []);
    assert.deepEqual(await ids({ dateFrom: new Date(Date.now() + 60_000).toISOString() }), []);
    const bad = await sdkError(c.operation.list({ dateFrom: 'yesterday' }));
    assert.equal(bad.status, 422);
    assert.equal(bad.data.error, 'devicecontrol/Unprocessable Entity');
    const failed = (await c.operation.update({ id: o1.id, status: 'FAILED', failureReason: 'nope' } as unknown as IOperation)).data;
    assert.equal(failed.status, 'FAILED');
    assert.deepEqual(await ids({ deviceId: agent, status: 'FAILED' }), [o1.id]);
    const page = await c.operation.list({ pageSize: 1, withTotalPages: true });
    assert.equal(page.paging!.totalPages, 2);
    assert.equal(page.paging!.nextPage, 2);
  });

  it('remote access configurations through the SDK\'s FetchClient, as the UI\'s remote access service calls them: nested credentials, password null keeps it', T, async (t) => {
    const sim = await testSim(t);
    const c = await client(sim);
    const { id } = await sim.createDevice('ui-dev');
    const base = `/service/remoteaccess/devices/${id}/configurations`;
    const json = { 'content-type': 'application/json', accept: 'application/json' };
    const post = await c.core.fetch(base, { method: 'POST', headers: json, body: JSON.stringify({ name: 'vnc', hostname: '10.1.1.1', port: 5900, protocol: 'VNC', credentials: { type: 'PASS_ONLY', password: 'pw' } }) });
    assert.equal(post.status, 201);
    const created = (await post.json()) as { id: string; credentials: Record<string, unknown> };
    assert.deepEqual(created.credentials, { type: 'PASS_ONLY' });
    const put = await c.core.fetch(`${base}/${created.id}`, { method: 'PUT', headers: json, body: JSON.stringify({ ...created, port: 5901, credentials: { type: 'PASS_ONLY', password: null } }) });
    assert.equal(put.status, 200);
    const list = (await (await c.core.fetch(base, { headers: json })).json()) as Array<{ port: number }>;
    assert.deepEqual(list.map((x) => x.port), [5901]);
    const mirrored = ((await c.inventory.detail(id)).data.c8y_RemoteAccessList as Array<{ credentials: { password?: string } }>)[0]!;
    assert.equal(mirrored.credentials.password, '{cipher}' + Buffer.from('pw').toString('base64'));
  });
});
