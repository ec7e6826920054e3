/**
 * `connect` against a hostile or broken tenant (a plain HTTP + WebSocket server on port 0 that answers
 * like Cumulocity where it must and misbehaves where the test says): terminal escapes in names and
 * reasons, bodies without end, a trickling server, a pipe reader that goes away, too many local
 * connections, a session WebSocket that breaks at run time, a device that keeps a session waiting.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { createOperationWatch, resolveTarget } from '#internal/connect/index';
import { closeServer, listen0, waitFor, withTimeout } from '../helpers/net.js';
import { CLI, spawnNode, type Proc } from '../helpers/cli.js';

const T = { timeout: 30_000 };
const ESC_NAME = 'ok\u001b]0;pwned\u0007\u001b[1A\u001b[2Kforged\u009b2J';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

interface Tenant {
  url: string;
  upgrades: number;
  /** What the next session WebSockets do once open. */
  onSession: (ws: WebSocket, raw: Duplex) => void;
  /** Overrides for REST paths. */
  rest: Map<string, (res: http.ServerResponse) => void>;
}

async function tenant(t: { after(fn: () => unknown): void }): Promise<Tenant> {
  const sockets = new Set<net.Socket>();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'binary' });
  const me: Tenant = { url: '', upgrades: 0, onSession: () => {}, rest: new Map() };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const special = me.rest.get(path);
    if (special) return special(res);
    const json = (body: unknown): void => void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (path === '/identity/externalIds/c8y_Serial/dev') return json({ managedObject: { id: '7' } });
    if (path === '/service/remoteaccess/devices/7/configurations') {
      return json([
        { id: '1', name: ESC_NAME, hostname: '127.0.0.1', port: 22, protocol: 'PASSTHROUGH' },
        { id: '2', name: 'plain', hostname: '127.0.0.1', port: 23, protocol: 'PASSTHROUGH' },
      ]);
    }
    if (path === '/devicecontrol/operations') return json({ operations: [] });
    res.writeHead(404).end();
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => {
    me.upgrades++;
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      me.onSession(ws, socket);
    });
  });
  const port = await listen0(server);
  me.url = `http://127.0.0.1:${port}`;
  t.after(() => {
    for (const c of wss.clients) c.terminate();
    return closeServer(server, sockets);
  });
  return me;
}

function connect(t: { after(fn: () => unknown): void }, ten: Tenant, args: string[]): Proc {
  const p = spawnNode(CLI, ['connect', '-d', 'dev', ...args], { C8Y_HOST: ten.url, C8Y_TENANT: 't1', C8Y_USER: 'u', C8Y_PASSWORD: 'Conn-pw-81d2' });
  t.after(() => p.child.kill('SIGKILL'));
  return p;
}

describe('connect: hostile tenant', () => {
  it('25. configuration names and close reasons with terminal escapes reach the terminal neutralised', T, async (t) => {
    const ten = await tenant(t);
    ten.onSession = (ws) => ws.close(1011, 'device did not connect\u001b]0;pwned\u0007\u001b[2K');
    // The unknown-configuration line lists the names the device has (one of them hostile).
    const a = connect(t, ten, ['-c', 'nope', '--stdio']);
    assert.equal(await withTimeout(a.exited, 15_000, 'exit'), 1);
    assert.match(a.stderr(), /CONNECT_ERR_NOT_FOUND: .*it has: ok\?\]0;pwned\?\?\[1A\?\[2Kforged\?2J, plain/);
    // The start line names the configuration; the close reason ends the session.
    const b = connect(t, ten, ['-c', '1', '--listen', '127.0.0.1:0']);
    const port = Number((await b.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    await b.waitFor(/CONNECT_ERR_OFFLINE/, 10_000);
    s.destroy();
    assert.match(b.stderr(), /configuration "ok\?\]0;pwned/);
    for (const text of [a.stderr(), b.stderr()]) assert.ok(!CONTROL.test(text), `a control character reached the terminal: ${JSON.stringify(text)}`);
  });

  it('26. a REST answer without end is cut at the cap, not buffered: one CONNECT_ERR_CONFIG line', T, async (t) => {
    const ten = await tenant(t);
    ten.rest.set('/identity/externalIds/c8y_Serial/dev', (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    const p = connect(t, ten, ['-c', '1', '--stdio']);
    assert.equal(await withTimeout(p.exited, 15_000, 'exit'), 1);
    assert.match(p.stderr(), /CONNECT_ERR_CONFIG: .*larger than 1048576 bytes/);
  });

  it('27. a server that trickles one byte at a time cannot hold a REST look-up past its overall deadline', T, async (t) => {
    const ten = await tenant(t);
    ten.rest.set('/identity/externalIds/c8y_Serial/dev', (res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(timer));
    });
    const t0 = Date.now();
    await assert.rejects(resolveTarget({ baseUrl: ten.url, authorization: 'Basic eA==', timeoutMs: 1000 }, 'dev', '1'), { code: 'CONNECT_ERR_CONFIG', message: /no complete answer within 1 s/ });
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  it('28. --listen survives EPIPE on stderr (its log reader went away): sessions still open', T, async (t) => {
    const ten = await tenant(t);
    const p = connect(t, ten, ['-c', '2', '--listen', '127.0.0.1:0']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    ten.onSession = (ws) => ws.close(1000);
    p.child.stderr.destroy();
    for (let i = 1; i <= 3; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      const closed = new Promise((r) => s.once('close', r));
      // Each session writes lines to the dead pipe; the listener must still take the next connection.
      await waitFor(() => ten.upgrades === i || p.child.exitCode !== null, 10_000, `upgrade ${i}`);
      assert.equal(p.child.exitCode, null, `connect exited (${String(p.child.exitCode)}) after session ${i}`);
      await withTimeout(closed, 10_000, `local connection ${i} closed`);
    }
    assert.equal(p.child.exitCode, null, 'connect still running');
  });

  it('29. --max-sessions: a connection beyond the limit is closed at once, with CONNECT_ERR_LIMIT, and makes no cloud request', T, async (t) => {
    const ten = await tenant(t);
    ten.onSession = () => {}; // the device never answers: sessions stay open
    const p = connect(t, ten, ['-c', '2', '--listen', '127.0.0.1:0', '--max-sessions', '2']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+);.*at most 2 at once/, 10_000))[1]);
    const socks = [];
    for (let i = 0; i < 2; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
      await waitFor(() => ten.upgrades === i + 1, 10_000, `session ${i + 1} up`);
    }
    const third = net.connect(port, '127.0.0.1');
    third.on('error', () => {});
    await withTimeout(new Promise((r) => third.once('close', r)), 5000, 'third connection closed');
    await p.waitFor(/CONNECT_ERR_LIMIT: 2 sessions are open/, 5000);
    assert.equal(ten.upgrades, 2);
    for (const s of socks) s.destroy();
  });

  it('30. a session WebSocket that breaks after it opened is CONNECT_ERR_SESSION (not a configuration error)', T, async (t) => {
    const ten = await tenant(t);
    ten.onSession = (ws, raw) => {
      ws.send(Buffer.from('hi'));
      // A frame with reserved bits set: the client's ws fails the connection with an error.
      setImmediate(() => raw.write(Buffer.from([0xf2, 0x00])));
    };
    const p = connect(t, ten, ['-c', '2', '--stdio']);
    assert.equal(await withTimeout(p.exited, 15_000, 'exit'), 1);
    assert.match(p.stderr(), /c8y-tunnel connect: CONNECT_ERR_SESSION: the session WebSocket failed/);
  });

  it('31. a device that keeps the session waiting gets a line saying so; byte counts read as KiB', T, async (t) => {
    const ten = await tenant(t);
    let release: (ws: WebSocket) => void = () => {};
    ten.onSession = (ws) => release(ws);
    const p = connect(t, ten, ['-c', '2', '--listen', '127.0.0.1:0']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const joined = new Promise<WebSocket>((r) => (release = r));
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    const ws = await withTimeout(joined, 10_000, 'session upgrade');
    await p.waitFor(/session from 127\.0\.0\.1:\d+: waiting for the device to answer/, 10_000);
    ws.on('message', (d: Buffer) => ws.send(d));
    ws.send(Buffer.alloc(2048, 1));
    await p.waitFor(/session from 127\.0\.0\.1:\d+ open/, 5000);
    await new Promise<void>((r) => s.once('data', () => r()));
    s.end(Buffer.alloc(3 * 1024, 2));
    await p.waitFor(/ended by the local side: 3\.0 KiB sent, \d+\.\d KiB received/, 10_000);
  });

  it('32. the operation watch survives a network blip: a failed look is retried, the device\'s FAILED still ends the session', T, async (t) => {
    const ten = await tenant(t);
    let looks = 0;
    ten.rest.set('/devicecontrol/operations', (res) => {
      looks++;
      // Baseline (1st) empty, 2nd a dropped connection, then the device's FAILED.
      if (looks === 1) return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"operations":[]}');
      if (looks === 2) return void res.socket?.destroy();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(
        JSON.stringify({ operations: [{ id: '9', status: 'FAILED', failureReason: 'target refused', creationTime: '2026-01-01T00:00:00Z', c8y_RemoteAccessConnect: { hostname: '127.0.0.1', port: 23 } }] }),
      );
    });
    const w = createOperationWatch({ baseUrl: ten.url, authorization: 'Basic eA==' }, '7', { hostname: '127.0.0.1', port: 23 });
    await w.baseline();
    assert.equal(await w.check(), undefined, 'the blip: nothing known');
    assert.ok(w.enabled(), 'still enabled after a blip');
    assert.deepEqual(await w.check(), { id: '9', status: 'FAILED', failureReason: 'target refused' });
  });
});
