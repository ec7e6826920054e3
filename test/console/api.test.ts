/**
 * The console's server side and the logins the web UI uses, over raw HTTP and WebSockets (no browser):
 * the client WebSocket with `?XSRF-TOKEN=` plus the `authorization` cookie and with `?token=`, the XBasic
 * challenge for `UseXBasic: true`, logout, the emulator-only state view, and the page's headers.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closed, connectDevice, deviceWithConfig, openDevice, openWs, refusedStatus, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };

/** Logs in like the UI and returns the two cookies. */
async function cookieLogin(httpUrl: string, tenant: string, user: string, password: string): Promise<{ token: string; xsrf: string; cookie: string }> {
  const r = await fetch(`${httpUrl}/tenant/oauth?tenant_id=${tenant}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', UseXBasic: 'true' },
    body: new URLSearchParams({ grant_type: 'PASSWORD', username: user, password }).toString(),
  });
  assert.equal(r.status, 200);
  const jar = new Map(r.headers.getSetCookie().map((c) => c.split(';')[0]!.split('=') as [string, string]));
  const token = jar.get('authorization')!;
  const xsrf = jar.get('XSRF-TOKEN')!;
  assert.ok(token && xsrf);
  return { token, xsrf, cookie: `authorization=${token}; XSRF-TOKEN=${xsrf}` };
}

describe('the web UI logins', () => {
  it('client WebSocket: ?XSRF-TOKEN= plus the cookie opens a session, with no header; a wrong or missing XSRF token is 401', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'ui-ws');
    const { xsrf, cookie, token } = await cookieLogin(sim.httpUrl, sim.tenant, sim.user, sim.password);
    const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
    const client = await openWs(`${url}?XSRF-TOKEN=${encodeURIComponent(xsrf)}`, { headers: { cookie } });
    client.on('error', () => {});
    assert.equal(client.protocol, 'binary');
    // It is a real session: the agent gets its 530 and the bytes flow.
    const key = (await dev.next('s/ds', (p) => p.startsWith('530,'))).trim().split(',')[4]!;
    const device = await openDevice(sim, 'ui-ws', key);
    const got = new Promise<string>((resolve) => device.once('message', (d: Buffer) => resolve(d.toString())));
    client.send(Buffer.from('typed'));
    assert.equal(await got, 'typed');
    client.close();
    await closed(device);

    assert.equal((await refusedStatus(`${url}?XSRF-TOKEN=wrong`, { headers: { cookie } })).status, 401);
    assert.equal((await refusedStatus(url, { headers: { cookie } })).status, 401, 'cookie alone');
    assert.equal((await refusedStatus(`${url}?XSRF-TOKEN=${xsrf}`)).status, 401, 'XSRF token alone');
    // The XSRF token of another login does not go with this cookie.
    const other = await cookieLogin(sim.httpUrl, sim.tenant, sim.user, sim.password);
    assert.equal((await refusedStatus(`${url}?XSRF-TOKEN=${other.xsrf}`, { headers: { cookie: `authorization=${token}` } })).status, 401);
  });

  it('client WebSocket: ?token= with base64 Basic credentials or a JWT', T, async (t) => {
    const sim = await testSim(t);
    const { id, configId } = await deviceWithConfig(t, sim, 'ui-tok');
    const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
    const basic = Buffer.from(`${sim.tenant}/${sim.user}:${sim.password}`).toString('base64');
    (await openWs(`${url}?token=${encodeURIComponent(basic)}`)).close();
    (await openWs(`${url}?token=${sim.issueToken().token}`)).close();
    assert.equal((await refusedStatus(`${url}?token=${encodeURIComponent(Buffer.from('t1/admin:no').toString('base64'))}`)).status, 401);
    assert.equal((await refusedStatus(`${url}?token=${sim.issueToken('device_ui-tok').token}`)).status, 403, 'a device token has no remote access role');
  });

  it('UseXBasic: true gets a 401 with an XBasic challenge (no browser dialog); without it, Basic', T, async (t) => {
    const sim = await testSim(t);
    for (const [path, init] of [
      ['/user/currentUser', {}],
      ['/inventory/managedObjects', {}],
      ['/tenant/oauth', { method: 'POST', body: 'username=admin&password=wrong', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ] as Array<[string, RequestInit]>) {
      const x = await fetch(sim.httpUrl + path, { ...init, headers: { ...(init.headers as Record<string, string>), UseXBasic: 'true' } });
      assert.equal(x.status, 401, path);
      assert.equal(x.headers.get('www-authenticate'), 'XBasic realm="Cumulocity"', path);
      const b = await fetch(sim.httpUrl + path, init);
      assert.equal(b.status, 401, path);
      assert.equal(b.headers.get('www-authenticate'), 'Basic realm="Cumulocity"', path);
    }
    const f = await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { UseXBasic: 'false' } });
    assert.equal(f.headers.get('www-authenticate'), 'Basic realm="Cumulocity"');
  });

  it('POST /user/logout ends the token (REST and WebSocket) and clears both cookies', T, async (t) => {
    const sim = await testSim(t);
    const { id, configId } = await deviceWithConfig(t, sim, 'ui-out');
    const { xsrf, cookie } = await cookieLogin(sim.httpUrl, sim.tenant, sim.user, sim.password);
    const headers = { cookie, 'x-xsrf-token': xsrf, UseXBasic: 'true' };
    assert.equal((await fetch(`${sim.httpUrl}/user/currentUser`, { headers })).status, 200);
    const out = await fetch(`${sim.httpUrl}/user/logout`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(out.status, 200);
    const cleared = out.headers.getSetCookie();
    assert.ok(cleared.some((c) => /^authorization=;.*Max-Age=0/.test(c)) && cleared.some((c) => /^XSRF-TOKEN=;.*Max-Age=0/.test(c)), cleared.join(' | '));
    assert.equal((await fetch(`${sim.httpUrl}/user/currentUser`, { headers })).status, 401);
    const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}?XSRF-TOKEN=${xsrf}`;
    assert.equal((await refusedStatus(url, { headers: { cookie } })).status, 401);
    // Another login is unaffected; a logout without a cookie is harmless.
    const again = await cookieLogin(sim.httpUrl, sim.tenant, sim.user, sim.password);
    assert.equal((await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { cookie: again.cookie, 'x-xsrf-token': again.xsrf } })).status, 200);
    assert.equal((await fetch(`${sim.httpUrl}/user/logout`, { method: 'POST' })).status, 200);
  });
});

describe('the console server', () => {
  it('/ redirects to /apps/console/; the page and its files carry a CSP without inline script; xterm.js comes from the installed package', T, async (t) => {
    const sim = await testSim(t);
    const root = await fetch(`${sim.httpUrl}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/apps/console/');
    assert.equal((await fetch(`${sim.httpUrl}/apps/console`, { redirect: 'manual' })).headers.get('location'), '/apps/console/');
    const page = await fetch(`${sim.httpUrl}/apps/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    const csp = page.headers.get('content-security-policy')!;
    const script = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src'));
    assert.equal(script, "script-src 'self'");
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script element');
    assert.doesNotMatch(html, /\son\w+=/i, 'no inline event handler');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from another origin');
    const xterm = await fetch(`${sim.httpUrl}/apps/console/vendor/xterm.js`);
    assert.equal(xterm.status, 200);
    assert.match(xterm.headers.get('content-type')!, /^text\/javascript/);
    const installed = readFileSync(join(dirname(fileURLToPath(import.meta.resolve('@xterm/xterm/package.json'))), 'lib', 'xterm.js'), 'utf8');
    assert.equal(await xterm.text(), installed);
    assert.equal((await fetch(`${sim.httpUrl}/apps/console/vendor/xterm.css`)).status, 200);
    const etag = page.headers.get('etag')!;
    assert.equal((await fetch(`${sim.httpUrl}/apps/console/`, { headers: { 'if-none-match': etag } })).status, 304);
    assert.equal((await fetch(`${sim.httpUrl}/apps/console/..%2F..%2Fpackage.json`)).status, 404);
    assert.equal((await fetch(`${sim.httpUrl}/apps/console/nope.js`)).status, 404);
    assert.equal((await fetch(`${sim.httpUrl}/apps/console/`, { method: 'POST' })).status, 405);
  });

  it("the page's scripts never parse markup (every device or user string goes in as text)", () => {
    const dir = join(dirname(fileURLToPath(import.meta.resolve('c8y-tunnel/package.json'))), 'src', 'sim', 'console', 'assets');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'));
    assert.ok(scripts.length >= 3);
    for (const f of scripts) {
      const code = readFileSync(join(dir, f), 'utf8').replace(/^\s*\/\/.*$/gm, '');
      assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, f);
    }
  });

  it('GET /sim/console/state: connected agents, the device sessions with bytes, operation histories; 401 and 403 otherwise', T, async (t) => {
    const sim = await testSim(t, { users: [{ user: 'viewer', password: 'pw', roles: ['ROLE_INVENTORY_READ'] }] });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'st-1');
    const { id: idle } = await sim.createDevice('st-2');
    await connectDevice(t, sim, 'st-3');
    const get = async (q = '', auth = sim.adminAuthHeader()): Promise<Response> => fetch(`${sim.httpUrl}/sim/console/state${q}`, { headers: { authorization: auth, UseXBasic: 'true' } });
    const client = await openWs(`${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`, { headers: { authorization: sim.adminAuthHeader() } });
    client.on('error', () => {});
    const key = (await dev.next('s/ds', (p) => p.startsWith('530,'))).trim().split(',')[4]!;
    const device = await openDevice(sim, 'st-1', key);
    const got = new Promise<void>((resolve) => device.once('message', () => resolve()));
    client.send(Buffer.from('12345'));
    await got;
    const op = sim.listOperations({ deviceId: id })[0]!;
    const body = (await (await get(`?deviceId=${id}`)).json()) as { connected: string[]; sessions: Array<Record<string, unknown>>; histories: Record<string, Array<{ status: string }>> };
    assert.ok(body.connected.includes(id));
    assert.ok(!body.connected.includes(idle));
    assert.equal(body.connected.length, 2);
    assert.deepEqual(body.sessions, [{ operationId: op.id, deviceId: id, state: 'paired', clientToDevice: 5, deviceToClient: 0 }], 'no connection key');
    assert.deepEqual(body.histories[op.id]!.map((h) => h.status), ['PENDING']);
    const all = (await (await get()).json()) as { sessions: unknown[] };
    assert.deepEqual(all.sessions, []);
    const no = await get('', '');
    assert.equal(no.status, 401);
    assert.equal(no.headers.get('www-authenticate'), 'XBasic realm="Cumulocity"');
    assert.equal((await get('', 'Basic ' + Buffer.from('t1/viewer:pw').toString('base64'))).status, 403);
    assert.equal((await get('', sim.deviceAuthHeader('st-1'))).status, 403);
    client.close();
  });
});
