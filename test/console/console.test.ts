/**
 * The emulator's browser console in a real chromium: login, a device appearing when its agent starts, an
 * endpoint added to an echo service, a terminal session through the real agent and engine, the
 * operation's status, the session's end, markup in device names, a wrong password, logout.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { closedPort } from '../helpers/agent-rig.js';
import { listen0, waitFor } from '../helpers/net.js';
import { closeBrowser, consoleSim, echo, logIn, openPage, SKIP, startAgent, T, terminalText } from '../helpers/browser.js';

/** Only the page's own files and the login call may be requested before the user logs in. */
const PUBLIC = /^(GET \/|GET \/apps\/console\/[\w./-]*|POST \/tenant\/oauth\?tenant_id=\w+)$/;

describe('console in a browser', { skip: SKIP }, () => {
  after(closeBrowser);

  it('log in, watch the device appear, add an echo endpoint, type through the agent, see SUCCESSFUL, close and see the session end', T, async (t) => {
    const sim = await consoleSim(t);
    const port = await echo(t);
    const w = await openPage(t, sim);
    const { page } = w;

    const page200 = await page.goto(`${sim.httpUrl}/`);
    assert.equal(new URL(page.url()).pathname, '/apps/console/', '/ redirects to the console');
    const csp = page200?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    await page.waitForSelector('#login-form');
    assert.deepEqual(w.requests.filter((r) => !PUBLIC.test(r)), [], 'nothing authenticated before login');

    await logIn(w, sim);
    await page.waitForSelector('#app-view:not([hidden])');
    assert.equal(await page.textContent('#who'), sim.user);
    await page.waitForSelector('#no-devices:not([hidden])');

    // The agent registers its device itself (SmartREST 100): it shows up, connected, without a reload.
    const agent = await startAgent(t, sim, 'console-dev');
    const row = page.locator('#device-rows tr', { hasText: 'console-dev' });
    await row.locator('.pill.on').waitFor();
    const id = (await row.getAttribute('data-id'))!;
    await row.click();
    await page.waitForSelector('#detail:not([hidden])');
    await page.locator('#d-serial', { hasText: 'console-dev' }).waitFor();
    await page.locator('#d-ops', { hasText: 'c8y_RemoteAccessConnect' }).waitFor();

    // Add an endpoint through the configurations API, with the UI's passthrough body.
    const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/service/remoteaccess/devices/${id}/configurations`));
    await page.fill('#cfg-name', 'echo');
    await page.fill('#cfg-host', '127.0.0.1');
    await page.fill('#cfg-port', String(port));
    await page.click('#cfg-save');
    assert.deepEqual((await posted).postDataJSON(), { id: '', name: 'echo', hostname: '127.0.0.1', port, protocol: 'PASSTHROUGH', credentialsType: 'NONE' });
    const cfgRow = page.locator('#cfg-rows tr', { hasText: 'echo' });
    await cfgRow.locator('button.connect').waitFor();

    // The terminal: the client WebSocket with ?XSRF-TOKEN= and the cookie, no headers.
    const socket = page.waitForEvent('websocket');
    await cfgRow.locator('button.connect').click();
    const ws = await socket;
    const wsUrl = new URL(ws.url());
    assert.match(wsUrl.pathname, new RegExp(`^/service/remoteaccess/client/${id}/configurations/\\w+$`));
    assert.ok(wsUrl.searchParams.get('XSRF-TOKEN'), 'XSRF token in the query');
    assert.equal(wsUrl.searchParams.get('token'), null);
    await page.waitForSelector('#term-state.on');
    const paired = sim.sessions().find((s) => s.deviceId === id && s.state !== 'closed');
    assert.ok(paired, 'a session is open');
    await page.click('#terminal');
    await page.keyboard.type('hello through the tunnel');
    await page.keyboard.press('Enter');
    await page.locator('#terminal .xterm-rows', { hasText: 'hello through the tunnel' }).waitFor();
    assert.match(await terminalText(page), /hello through the tunnel/);

    // The operation went to SUCCESSFUL, with its history, live.
    const opRow = page.locator(`#op-rows tr[data-id="${paired.operationId}"]`);
    await opRow.and(page.locator('[data-status="SUCCESSFUL"]')).waitFor();
    assert.match((await opRow.locator('.history').textContent()) ?? '', /PENDING.*EXECUTING.*SUCCESSFUL/);
    assert.equal(sim.getOperation(paired.operationId)?.status, 'SUCCESSFUL');
    const sessionRow = page.locator(`#session-rows tr[data-operation="${paired.operationId}"]`);
    await sessionRow.and(page.locator('[data-state="paired"]')).waitFor();
    // "hello through the tunnel\r\n" both ways.
    await sessionRow.locator('td', { hasText: '26 B' }).first().waitFor();

    // Closing the terminal closes the session: both legs, in the emulator and on the page.
    const ended = new Promise<void>((resolve) => sim.events.on('session:closed', (s: { operationId: string }) => s.operationId === paired.operationId && resolve()));
    await page.click('#term-close');
    await ended;
    await sessionRow.and(page.locator('[data-state="closed"]')).waitFor();
    await page.locator('#term-state', { hasText: 'closed' }).waitFor();
    assert.equal(sim.sessions().find((s) => s.operationId === paired.operationId)?.state, 'closed');
    await waitFor(() => agent.stats().engine.open === 0, 10_000, "the agent's tunnel to close");

    assert.deepEqual(w.dialogs, []);
    assert.deepEqual(w.errors, [], 'no console errors (a CSP violation would be one)');
  });

  it('edits an endpoint to TELNET and deletes it, with the UI bodies', T, async (t) => {
    const sim = await consoleSim(t);
    const { id } = await sim.createDevice('cfg-dev', { name: 'cfg device' });
    await sim.createConfiguration(id, { name: 'old', hostname: '127.0.0.1', port: 22 });
    const w = await openPage(t, sim);
    const { page } = w;
    await logIn(w, sim);
    await page.locator('#device-rows tr', { hasText: 'cfg device' }).click();
    const cfgRow = page.locator('#cfg-rows tr', { hasText: 'old' });
    await cfgRow.locator('button.edit').click();
    await page.fill('#cfg-name', 'router telnet');
    await page.selectOption('#cfg-protocol', 'TELNET');
    await page.fill('#cfg-port', '23');
    const put = page.waitForRequest((r) => r.method() === 'PUT');
    await page.click('#cfg-save');
    const cfgId = new URL((await put).url()).pathname.split('/').pop()!;
    assert.deepEqual((await put).postDataJSON(), { id: cfgId, name: 'router telnet', hostname: '127.0.0.1', port: 23, protocol: 'TELNET', credentialsType: 'NONE' });
    await page.locator('#cfg-rows tr', { hasText: 'router telnet' }).locator('.tag', { hasText: 'TELNET' }).waitFor();
    const r = await fetch(`${sim.httpUrl}/service/remoteaccess/devices/${id}/configurations/${cfgId}`, { headers: { authorization: sim.adminAuthHeader() } });
    assert.equal(((await r.json()) as { port: number }).port, 23);

    const del = page.waitForRequest((req) => req.method() === 'DELETE');
    await page.locator('#cfg-rows tr', { hasText: 'router telnet' }).locator('button.delete').click();
    assert.ok((await del).url().endsWith(`/configurations/${cfgId}`));
    await page.locator('#cfg-rows td', { hasText: 'No endpoints' }).waitFor();
    assert.deepEqual(w.errors, []);
  });

  it('renders markup in device and endpoint names as text, and no script runs', T, async (t) => {
    const sim = await consoleSim(t);
    const evil = '<img src=x onerror=alert(1)>';
    const { id } = await sim.createDevice('xss-dev', { name: evil });
    await sim.createConfiguration(id, { name: '<script>alert(2)</script>', hostname: '127.0.0.1', port: 22 });
    const w = await openPage(t, sim);
    const { page } = w;
    await logIn(w, sim);
    const row = page.locator(`#device-rows tr[data-id="${id}"]`);
    await row.waitFor();
    assert.equal(await row.locator('td.name').textContent(), evil);
    await row.click();
    await page.locator('#cfg-rows td.name').waitFor();
    assert.equal(await page.textContent('#d-name'), evil);
    assert.equal(await page.locator('#cfg-rows td.name').textContent(), '<script>alert(2)</script>');
    assert.equal(await page.locator('img').count(), 0, 'no element was made from the name');
    assert.equal(await page.locator('#cfg-rows script').count(), 0);
    // Two more polls: still nothing fired.
    const polls = w.requests.filter((r) => r.includes('/sim/console/state')).length;
    await waitFor(() => w.requests.filter((r) => r.includes('/sim/console/state')).length >= polls + 2, 10_000, 'two more polls');
    assert.deepEqual(w.dialogs, []);
    assert.deepEqual(w.errors, []);
  });

  it('a wrong password gets a message at once: no password dialog, no hang, no cookie', T, async (t) => {
    const sim = await consoleSim(t);
    const w = await openPage(t, sim);
    const { page } = w;
    const answered = page.waitForResponse((r) => r.url().includes('/tenant/oauth'));
    const started = Date.now();
    await logIn(w, sim, 'not-the-password');
    const res = await answered;
    assert.equal(res.status(), 401);
    assert.equal(res.headers()['www-authenticate'], 'XBasic realm="Cumulocity"', 'UseXBasic: true gets no Basic challenge');
    await page.locator('#login-error', { hasText: 'Wrong tenant, user or password' }).waitFor();
    assert.ok(Date.now() - started < 10_000, 'answered without hanging');
    assert.equal(await page.isVisible('#app-view'), false);
    assert.deepEqual(await w.context.cookies(), []);
    assert.deepEqual(w.dialogs, []);
    assert.deepEqual(w.requests.filter((r) => !PUBLIC.test(r)), [], 'nothing authenticated was tried');
  });

  it('logout ends the token and clears the cookies; a reload asks to log in again', T, async (t) => {
    const sim = await consoleSim(t);
    const w = await openPage(t, sim);
    const { page, context } = w;
    await logIn(w, sim);
    await page.waitForSelector('#app-view:not([hidden])');
    const cookie = (await context.cookies()).find((c) => c.name === 'authorization');
    const xsrf = (await context.cookies()).find((c) => c.name === 'XSRF-TOKEN');
    assert.ok(cookie?.httpOnly, 'the token cookie is HttpOnly');
    assert.ok(xsrf && !xsrf.httpOnly, 'the XSRF cookie is readable by the page');
    // A reload keeps the session (the XSRF cookie is there).
    await page.reload();
    await page.waitForSelector('#app-view:not([hidden])');

    await page.click('#logout');
    await page.waitForSelector('#login-view:not([hidden])');
    assert.deepEqual((await context.cookies()).map((c) => c.name), []);
    const r = await fetch(`${sim.httpUrl}/user/currentUser`, { headers: { cookie: `authorization=${cookie.value}; XSRF-TOKEN=${xsrf.value}`, 'x-xsrf-token': xsrf.value } });
    assert.equal(r.status, 401, 'the logged-out token is refused');
    const before = w.requests.length;
    await page.reload();
    await page.waitForSelector('#login-view:not([hidden])');
    assert.deepEqual(w.requests.slice(before).filter((x) => !PUBLIC.test(x)), []);
    assert.deepEqual(w.dialogs, []);
  });

  it('the page can open the client WebSocket with ?token= too (Basic and JWT), as the UI does after a Basic or Bearer login', T, async (t) => {
    const sim = await consoleSim(t);
    const { id } = await sim.createDevice('tok-dev');
    const { id: configId } = await sim.createConfiguration(id, { name: 'x', hostname: '127.0.0.1', port: 22 });
    const w = await openPage(t, sim);
    await w.page.goto(`${sim.httpUrl}/apps/console/`);
    const base = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
    const { token } = sim.issueToken();
    const basic = Buffer.from(`${sim.tenant}/${sim.user}:${sim.password}`).toString('base64');
    const tryOpen = (url: string): Promise<string> =>
      w.page.evaluate(
        `new Promise((resolve) => { const ws = new WebSocket(${JSON.stringify(url)}, 'binary'); ws.onopen = () => { resolve('open ' + ws.protocol); ws.close(); }; ws.onclose = (e) => resolve('closed ' + e.code); })`,
      ) as Promise<string>;
    assert.equal(await tryOpen(`${base}?token=${encodeURIComponent(basic)}`), 'open binary');
    assert.equal(await tryOpen(`${base}?token=${token}`), 'open binary');
    assert.equal(await tryOpen(`${base}?token=${encodeURIComponent(Buffer.from('t1/admin:wrong').toString('base64'))}`), 'closed 1006');
    assert.equal(await tryOpen(`${base}?XSRF-TOKEN=whatever`), 'closed 1006', 'no cookie, no session');
    assert.deepEqual(w.dialogs, []);
  });

  it('TELNET: answers the option negotiation (WONT/DONT), keeps IAC off the screen, and types through', T, async (t) => {
    const sim = await consoleSim(t);
    // A telnet server: IAC DO ECHO, IAC WILL SUPPRESS-GO-AHEAD, a prompt; then it echoes lines upper-cased.
    const replies: number[] = [];
    const lines: string[] = [];
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.write(Buffer.from([255, 253, 1, 255, 251, 3]));
      s.write('router login: ');
      let text = '';
      s.on('data', (d: Buffer) => {
        for (const b of d) {
          if (b >= 240 || replies.length % 3 !== 0) replies.push(b);
          else text += String.fromCharCode(b);
        }
        const nl = text.indexOf('\r\n');
        if (nl >= 0) {
          lines.push(text.slice(0, nl));
          s.write(`\r\nhello ${text.slice(0, nl).toUpperCase()}\r\n`);
          text = text.slice(nl + 2);
        }
      });
    });
    const port = await listen0(server);
    t.after(() => server.close());
    await startAgent(t, sim, 'telnet-dev');
    const w = await openPage(t, sim);
    const { page } = w;
    await logIn(w, sim);
    await page.locator('#device-rows tr', { hasText: 'telnet-dev' }).click();
    await page.fill('#cfg-name', 'router');
    await page.selectOption('#cfg-protocol', 'TELNET');
    await page.fill('#cfg-port', String(port));
    await page.click('#cfg-save');
    await page.locator('#cfg-rows tr', { hasText: 'router' }).locator('button.connect').click();
    await page.locator('#terminal .xterm-rows', { hasText: 'router login:' }).waitFor();
    await waitFor(() => replies.length >= 6, 10_000, 'the negotiation answers');
    assert.deepEqual(replies.slice(0, 6), [255, 252, 1, 255, 254, 3], 'WONT ECHO, DONT SUPPRESS-GO-AHEAD');
    await page.click('#terminal');
    await page.keyboard.type('admin');
    await page.keyboard.press('Enter');
    await page.locator('#terminal .xterm-rows', { hasText: 'hello ADMIN' }).waitFor();
    assert.deepEqual(lines, ['admin']);
    assert.doesNotMatch(await terminalText(page), /\uFFFD|\u00FF/, 'no IAC bytes on the screen');
    await page.click('#term-close');
    await page.locator('#session-rows tr[data-state="closed"]').waitFor();
    assert.deepEqual(w.errors, []);
  });

  it('child devices are listed and open; a FAILED operation shows its reason', T, async (t) => {
    const sim = await consoleSim(t);
    await startAgent(t, sim, 'gw-parent');
    await sim.createDevice('plc-7', { name: 'PLC 7', parentSerial: 'gw-parent' });
    const parentId = (await sim.createDevice('gw-parent')).id;
    await sim.createConfiguration(parentId, { name: 'nothing there', hostname: '127.0.0.1', port: await closedPort() });
    const w = await openPage(t, sim);
    const { page } = w;
    await logIn(w, sim);
    const parent = page.locator(`#device-rows tr[data-id="${parentId}"]`);
    await parent.locator('td.num', { hasText: '1' }).waitFor();
    await parent.click();
    const child = page.locator('#d-children button', { hasText: 'PLC 7' });
    await child.waitFor();

    await page.locator('#cfg-rows tr', { hasText: 'nothing there' }).locator('button.connect').click();
    const failed = page.locator('#op-rows tr[data-status="FAILED"]');
    await failed.waitFor();
    assert.match((await failed.textContent()) ?? '', /refused/i, 'the agent\'s reason is shown');
    assert.match((await failed.locator('.history').textContent()) ?? '', /PENDING.*FAILED/);
    await page.click('#term-close');

    await child.click();
    await page.locator('#d-name', { hasText: 'PLC 7' }).waitFor();
    assert.equal(await page.textContent('#d-serial'), 'plc-7');
    // The child's agent is its parent's, which is connected.
    await page.locator('#d-agent .pill.on').waitFor();
    assert.deepEqual(w.errors, []);
  });
});
