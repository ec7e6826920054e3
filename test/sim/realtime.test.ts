/**
 * Real-time notifications (`/notification/realtime`, Bayeux): the official SDK's
 * `client.realtime.subscribe` over long-polling, raw long-polling, raw WebSocket, and the bounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BasicAuth, Client } from '@c8y/client';
import { WebSocket } from 'ws';
import type { Sim } from 'c8y-tunnel/sim';
import { Authenticator } from '#internal/sim/auth';
import { JwtIssuer } from '#internal/sim/jwt';
import { Realtime } from '#internal/sim/realtime';
import type { BayeuxMessage } from '#internal/sim/bayeux';
import { waitFor, withTimeout } from '../helpers/net.js';
import { testSim } from '../helpers/sim-rig.js';

const T = { timeout: 30_000 };

async function bayeux(sim: Sim, msgs: BayeuxMessage[], auth: string | null = sim.adminAuthHeader(), suffix = ''): Promise<BayeuxMessage[]> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth) headers.authorization = auth;
  const r = await fetch(`${sim.httpUrl}/notification/realtime${suffix}`, { method: 'POST', headers, body: JSON.stringify(msgs) });
  assert.equal(r.status, 200);
  return (await r.json()) as BayeuxMessage[];
}

async function handshake(sim: Sim, auth: string | null = sim.adminAuthHeader()): Promise<string> {
  const [hs] = await bayeux(sim, [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'], id: '1' }], auth, '/handshake');
  assert.equal(hs!.successful, true, JSON.stringify(hs));
  return hs!.clientId as string;
}

/** A data message's payload. */
const payload = (m: BayeuxMessage): { realtimeAction: string; data: Record<string, unknown> } => m.data as { realtimeAction: string; data: Record<string, unknown> };

describe('sim real-time notifications', () => {
  it("the SDK's realtime.subscribe gets an operation's creation and its status change", T, async (t) => {
    const sim = await testSim(t);
    const { id } = await sim.createDevice('rt-sdk');
    const client = new Client(new BasicAuth({ tenant: sim.tenant, user: sim.user, password: sim.password }), sim.httpUrl);
    t.after(() => client.realtime.disconnect());
    const got: Array<{ realtimeAction: string; data: { id: string; status: string } }> = [];
    const waiters: Array<() => void> = [];
    // The SDK's Realtime keeps its cometd instance protected; its /meta/subscribe listener tells when the server took the subscription.
    const cometd = (client.realtime as unknown as { cometd: { addListener(ch: string, cb: (m: { successful: boolean; subscription: string }) => void): unknown } }).cometd;
    const subscribed = new Promise<{ successful: boolean; subscription: string }>((resolve) => cometd.addListener('/meta/subscribe', resolve));
    client.realtime.subscribe(`/operations/${id}`, (msg) => {
      got.push(msg.data as (typeof got)[number]);
      for (const w of waiters.splice(0)) w();
    });
    const ack = await withTimeout(subscribed, 10_000, 'subscribe acknowledgement');
    assert.deepEqual([ack.successful, ack.subscription], [true, `/operations/${id}`]);
    const next = (n: number): Promise<void> =>
      withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => (got.length >= n ? resolve() : void waiters.push(check));
          check();
        }),
        10_000,
        `notification ${n}`,
      );
    const { data: op } = await client.operation.create({ deviceId: id, description: 'restart', c8y_Restart: {} } as never);
    await next(1);
    assert.equal(got[0]!.realtimeAction, 'CREATE');
    assert.equal(got[0]!.data.id, String(op.id));
    assert.equal(got[0]!.data.status, 'PENDING');
    const put = await fetch(`${sim.httpUrl}/devicecontrol/operations/${op.id}`, { method: 'PUT', headers: { authorization: sim.deviceAuthHeader('rt-sdk'), 'content-type': 'application/json' }, body: '{"status":"EXECUTING"}' });
    assert.equal(put.status, 200);
    await next(2);
    assert.deepEqual([got[1]!.realtimeAction, got[1]!.data.id, got[1]!.data.status], ['UPDATE', String(op.id), 'EXECUTING']);
  });

  it('raw long-polling: handshake auth, subscribe, a held connect answered by a managed object update, unknown clients', T, async (t) => {
    const sim = await testSim(t);
    const { id } = await sim.createDevice('rt-raw');
    const other = await sim.createDevice('rt-other');
    const [bad] = await bayeux(sim, [{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'] }], null);
    assert.equal(bad!.successful, false);
    assert.match(bad!.error!, /^401::/);
    for (const body of ['not json', '[]', '[1]']) {
      const r = await fetch(`${sim.httpUrl}/notification/realtime`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(r.status, 400, body);
      assert.equal(((await r.json()) as { error: string }).error, 'notification/Bad Request');
    }
    const clientId = await handshake(sim);
    const [sub] = await bayeux(sim, [{ channel: '/meta/subscribe', clientId, subscription: `/managedobjects/${id}`, id: '2' }]);
    assert.deepEqual([sub!.successful, sub!.subscription, sub!.id], [true, `/managedobjects/${id}`, '2']);
    const [badSub] = await bayeux(sim, [{ channel: '/meta/subscribe', clientId, subscription: '/nosuch/1' }]);
    assert.equal(badSub!.successful, false);
    const [first] = await bayeux(sim, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling', advice: { timeout: 0 } }]);
    assert.equal(first!.successful, true);
    // A held connect: answered when the device's managed object changes (not the other device's).
    const held = bayeux(sim, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling', id: '3' }], sim.adminAuthHeader(), '/connect');
    const put = async (moId: string, body: unknown): Promise<void> => {
      const r = await fetch(`${sim.httpUrl}/inventory/managedObjects/${moId}`, { method: 'PUT', headers: { authorization: sim.adminAuthHeader(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(r.status, 200);
    };
    await put(other.id, { c8y_Note: 'not this one' });
    await put(id, { c8y_Note: 'this one' });
    const out = await withTimeout(held, 10_000, 'held connect');
    assert.equal(out.length, 2, JSON.stringify(out));
    assert.equal(out[0]!.channel, `/managedobjects/${id}`);
    assert.equal(payload(out[0]!).realtimeAction, 'UPDATE');
    assert.equal(payload(out[0]!).data.c8y_Note, 'this one');
    assert.deepEqual([out[1]!.channel, out[1]!.successful, out[1]!.id], ['/meta/connect', true, '3']);
    const [dis] = await bayeux(sim, [{ channel: '/meta/disconnect', clientId }]);
    assert.equal(dis!.successful, true);
    const [gone] = await bayeux(sim, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling' }]);
    assert.equal(gone!.successful, false);
    assert.match(gone!.error!, /^402::/);
    assert.equal((gone!.advice as { reconnect: string }).reconnect, 'handshake');
  });

  it('handshake credentials in ext: a JWT token, or the OAI-Secure cookie with its XSRF token', T, async (t) => {
    const sim = await testSim(t);
    const hs = async (ext: Record<string, unknown>, cookie?: string): Promise<BayeuxMessage> => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (cookie) headers.cookie = cookie;
      const r = await fetch(`${sim.httpUrl}/notification/realtime/handshake`, { method: 'POST', headers, body: JSON.stringify([{ channel: '/meta/handshake', version: '1.0', ext: { 'com.cumulocity.authn': ext } }]) });
      return ((await r.json()) as BayeuxMessage[])[0]!;
    };
    assert.equal((await hs({ token: sim.issueToken().token })).successful, true);
    assert.equal((await hs({ token: 'a.b.c' })).successful, false);
    const login = await fetch(`${sim.httpUrl}/tenant/oauth`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${sim.user}&password=${sim.password}` });
    const cookies = login.headers.getSetCookie().map((c) => c.split(';')[0]!);
    const xsrf = cookies.find((c) => c.startsWith('XSRF-TOKEN='))!.slice('XSRF-TOKEN='.length);
    assert.equal((await hs({ xsrfToken: xsrf }, cookies.join('; '))).successful, true);
    assert.equal((await hs({ xsrfToken: 'wrong' }, cookies.join('; '))).successful, false);
  });

  it("a device hears only its own objects: another device's channel is refused, /* is filtered", T, async (t) => {
    const sim = await testSim(t);
    const mine = await sim.createDevice('rt-mine');
    const theirs = await sim.createDevice('rt-theirs');
    const dauth = sim.deviceAuthHeader('rt-mine');
    const clientId = await handshake(sim, dauth);
    const [refused] = await bayeux(sim, [{ channel: '/meta/subscribe', clientId, subscription: `/operations/${theirs.id}` }], dauth);
    assert.equal(refused!.successful, false);
    assert.match(refused!.error!, /^403::/);
    const [all] = await bayeux(sim, [{ channel: '/meta/subscribe', clientId, subscription: '/operations/*' }], dauth);
    assert.equal(all!.successful, true);
    await sim.createRemoteAccessOperation(theirs.id, { hostname: '127.0.0.1', port: 22 });
    const op = await sim.createRemoteAccessOperation(mine.id, { hostname: '127.0.0.1', port: 22 });
    const out = await bayeux(sim, [{ channel: '/meta/connect', clientId, connectionType: 'long-polling' }], dauth);
    const data = out.filter((m) => m.channel !== '/meta/connect');
    assert.deepEqual(data.map((m) => [m.channel, payload(m).data.id]), [[`/operations/${mine.id}`, op.id]]);
  });

  it('WebSocket transport: ext token auth, subscribe, data pushed as it happens', T, async (t) => {
    const sim = await testSim(t);
    const { id } = await sim.createDevice('rt-ws');
    const ws = new WebSocket(`${sim.wsUrl}/notification/realtime`);
    t.after(() => ws.terminate());
    const inbox: BayeuxMessage[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (d: Buffer) => {
      inbox.push(...(JSON.parse(d.toString()) as BayeuxMessage[]));
      for (const w of waiters.splice(0)) w();
    });
    const next = (pred: (m: BayeuxMessage) => boolean, what: string): Promise<BayeuxMessage> =>
      withTimeout(
        new Promise<BayeuxMessage>((resolve) => {
          const check = (): void => {
            const i = inbox.findIndex(pred);
            if (i >= 0) resolve(inbox.splice(i, 1)[0]!);
            else waiters.push(check);
          };
          check();
        }),
        10_000,
        what,
      );
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'ws open');
    const token = Buffer.from(`${sim.tenant}/${sim.user}:${sim.password}`).toString('base64');
    ws.send(JSON.stringify([{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['websocket'], ext: { 'com.cumulocity.authn': { token } }, id: '1' }]));
    const hs = await next((m) => m.channel === '/meta/handshake', 'handshake');
    assert.equal(hs.successful, true);
    const clientId = hs.clientId as string;
    ws.send(JSON.stringify([{ channel: '/meta/subscribe', clientId, subscription: '/operations/*', id: '2' }]));
    assert.equal((await next((m) => m.channel === '/meta/subscribe', 'subscribe')).successful, true);
    ws.send(JSON.stringify([{ channel: '/meta/connect', clientId, connectionType: 'websocket', advice: { timeout: 0 }, id: '3' }]));
    assert.equal((await next((m) => m.channel === '/meta/connect', 'connect')).successful, true);
    ws.send(JSON.stringify([{ channel: '/meta/connect', clientId, connectionType: 'websocket', id: '4' }]));
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 22 });
    const msg = await next((m) => m.channel === `/operations/${id}`, 'operation notification');
    assert.deepEqual([payload(msg).realtimeAction, payload(msg).data.id], ['CREATE', op.id]);
    // A wrong token fails the handshake.
    ws.send(JSON.stringify([{ channel: '/meta/handshake', version: '1.0', ext: { 'com.cumulocity.authn': { token: Buffer.from('t1/admin:nope').toString('base64') } }, id: '5' }]));
    assert.equal((await next((m) => m.channel === '/meta/handshake', 'bad handshake')).successful, false);
  });
});

describe('sim real-time bounds', () => {
  const setup = (opts: ConstructorParameters<typeof Realtime>[2]): { rt: Realtime; call: (msgs: BayeuxMessage[]) => Promise<BayeuxMessage[]> } => {
    const auth = new Authenticator('t1', 'device', new JwtIssuer('t1', 60));
    auth.users.set('admin', { password: 'pw', roles: [] });
    const rt = new Realtime(auth, () => true, opts);
    const req = { headers: { authorization: 'Basic ' + Buffer.from('t1/admin:pw').toString('base64') }, url: '/notification/realtime' } as unknown as import('node:http').IncomingMessage;
    const call = (msgs: BayeuxMessage[]): Promise<BayeuxMessage[]> =>
      new Promise((resolve) => rt.handleHttp(req, Buffer.from(JSON.stringify(msgs)), (_s, out) => resolve(out as BayeuxMessage[]), () => {}));
    return { rt, call };
  };

  it('a full queue ends the session with 408 and a handshake advice instead of dropping messages silently', T, async (t) => {
    const { rt, call } = setup({ queueLimit: 3 });
    t.after(() => rt.close());
    const [hs] = await call([{ channel: '/meta/handshake' }]);
    const clientId = hs!.clientId;
    await call([{ channel: '/meta/subscribe', clientId, subscription: '/operations/*' }]);
    for (let i = 0; i < 3; i++) rt.publish('operations', '7', 'CREATE', { id: String(i) });
    const ok = await call([{ channel: '/meta/connect', clientId }]);
    assert.deepEqual(ok.map((m) => m.channel), ['/operations/7', '/operations/7', '/operations/7', '/meta/connect']);
    for (let i = 0; i < 4; i++) rt.publish('operations', '7', 'CREATE', { id: String(i) });
    const [lost] = await call([{ channel: '/meta/connect', clientId }]);
    assert.equal(lost!.successful, false);
    assert.match(lost!.error!, /^408::/);
    assert.equal((lost!.advice as { reconnect: string }).reconnect, 'handshake');
    assert.equal(rt.sessionCount, 0);
  });

  it('sessions are bounded and expire when their client stops polling', T, async (t) => {
    const { rt, call } = setup({ maxClients: 2, sessionExpiryMs: 100 });
    t.after(() => rt.close());
    assert.equal((await call([{ channel: '/meta/handshake' }]))[0]!.successful, true);
    assert.equal((await call([{ channel: '/meta/handshake' }]))[0]!.successful, true);
    const [third] = await call([{ channel: '/meta/handshake' }]);
    assert.equal(third!.successful, false);
    assert.match(third!.error!, /^503::/);
    await waitFor(() => rt.sessionCount === 0, 5000, 'idle sessions to expire');
    assert.equal((await call([{ channel: '/meta/handshake' }]))[0]!.successful, true);
  });

  it('close answers a held connect', T, async () => {
    const { rt, call } = setup({});
    const [hs] = await call([{ channel: '/meta/handshake' }]);
    const held = call([{ channel: '/meta/connect', clientId: hs!.clientId }]);
    rt.close();
    const [out] = await withTimeout(held, 5000, 'held connect');
    assert.equal(out!.successful, false);
  });
});
