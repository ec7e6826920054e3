/**
 * The one JSON HTTP client (src/net/http-json.ts) against real servers on port 0: each failure comes back
 * as one HttpJsonError whose kind says what failed, the deadline covers the whole exchange, the body cap
 * stops reading, and a proxy's refused CONNECT is the proxy's (with its status), not the server's answer.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { createJsonClient, HttpJsonError, type JsonClientOptions } from '#internal/net/http-json';
import { connectProxy } from '../helpers/connect-proxy.js';
import { closeServer, listen0, withTimeout } from '../helpers/net.js';
import { tlsFixture } from '../helpers/tls.js';

const T = { timeout: 20_000 };

/** An HTTP(S) server on port 0 whose requests `handle` answers; closed after the test. */
async function server(t: { after(fn: () => unknown): void }, handle: http.RequestListener, secure = false): Promise<string> {
  const sockets = new Set<net.Socket>();
  const srv = secure ? https.createServer({ cert: readFileSync(tlsFixture('server.pem')), key: readFileSync(tlsFixture('server.key')) }, handle) : http.createServer(handle);
  srv.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  srv.on('tlsClientError', () => {});
  const port = await listen0(srv);
  t.after(() => closeServer(srv, sockets));
  return `${secure ? 'https' : 'http'}://127.0.0.1:${port}`;
}

function client(t: { after(fn: () => unknown): void }, o: Partial<JsonClientOptions> = {}): ReturnType<typeof createJsonClient> {
  const c = createJsonClient({ timeoutMs: 5000, maxBodyBytes: 64 * 1024, ...o });
  t.after(() => c.close());
  return c;
}

async function failure(p: Promise<unknown>): Promise<HttpJsonError> {
  const err = await withTimeout(p.then(() => assert.fail('resolved'), (e: unknown) => e), 10_000, 'request settled');
  assert.ok(err instanceof HttpJsonError, `an HttpJsonError, got ${String(err)}`);
  return err;
}

describe('net/http-json', () => {
  it('sends JSON, parses JSON; an empty body is undefined, a body that is not JSON is said so', T, async (t) => {
    const url = await server(t, (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/empty') res.writeHead(204).end();
        else if (req.url === '/html') res.end('<html>');
        else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ got: JSON.parse(body) as unknown, type: req.headers['content-type'] }));
      });
    });
    const c = client(t);
    assert.deepEqual(await c.request({ method: 'POST', url: `${url}/x`, json: { a: 1 } }), { status: 201, body: { got: { a: 1 }, type: 'application/json' }, bodyKind: 'json' });
    assert.deepEqual(await c.request({ method: 'GET', url: `${url}/empty` }), { status: 204, body: undefined, bodyKind: 'empty' });
    assert.deepEqual(await c.request({ method: 'GET', url: `${url}/html` }), { status: 200, body: undefined, bodyKind: 'not-json' });
  });

  it('the deadline covers the whole exchange: a server trickling a byte every 50 ms is cut', T, async (t) => {
    const url = await server(t, (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const t0 = Date.now();
    const err = await failure(client(t, { timeoutMs: 500 }).request({ method: 'GET', url }));
    assert.equal(err.kind, 'deadline');
    assert.equal(err.limit, 500);
    assert.equal(err.message, 'no complete answer within 500 ms');
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  });

  it('a body over the cap stops the read and closes the connection', T, async (t) => {
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const url = await server(t, (_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', closed);
      pump();
    });
    const err = await failure(client(t).request({ method: 'GET', url }));
    assert.equal(err.kind, 'too-large');
    assert.equal(err.message, `response body over ${64 * 1024} bytes`);
    await withTimeout(gone, 5000, 'the server saw the connection close');
  });

  it('an untrusted certificate is kind tls with the OpenSSL code; with the CA the request passes', T, async (t) => {
    const url = await server(t, (_req, res) => res.end('{}'), true);
    const err = await failure(client(t).request({ method: 'GET', url }));
    assert.equal(err.kind, 'tls');
    assert.equal(err.syscode, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const ok = await client(t, { tls: { ca: [readFileSync(tlsFixture('ca.pem'), 'utf8')] } }).request({ method: 'GET', url });
    assert.equal(ok.status, 200);
  });

  it('a refused connection to the server is kind network with its syscode', T, async (t) => {
    const err = await failure(client(t).request({ method: 'GET', url: 'http://127.0.0.1:1/' }));
    assert.deepEqual([err.kind, err.syscode, err.message], ['network', 'ECONNREFUSED', 'ECONNREFUSED']);
  });

  it('through a proxy: CONNECT with Basic proxy auth; a refusal is proxy-refused with its status, a dead proxy proxy-failed', T, async (t) => {
    const url = await server(t, (_req, res) => res.writeHead(403).end('{"cloud":"no"}'));
    const px = await connectProxy({ requireAuth: 'pu:pp' });
    t.after(() => px.close());
    // Through the proxy, the server's own 403 is an answer, not a failure.
    const via = await client(t, { proxy: px.withAuth('pu:pp') }).request({ method: 'GET', url });
    assert.deepEqual(via, { status: 403, body: { cloud: 'no' }, bodyKind: 'json' });
    assert.equal(px.requests[0], `CONNECT 127.0.0.1:${new URL(url).port} HTTP/1.1`);
    // Without the credentials the proxy answers 407; then any refusal: the proxy's status, never the server's.
    const noAuth = await failure(client(t, { proxy: px.url }).request({ method: 'GET', url }));
    assert.equal(noAuth.kind, 'proxy-refused');
    assert.equal(noAuth.status, 407);
    px.refuse(403);
    const refused = await failure(client(t, { proxy: px.withAuth('pu:pp') }).request({ method: 'GET', url }));
    assert.deepEqual([refused.kind, refused.status, refused.message], ['proxy-refused', 403, 'proxy refused CONNECT: HTTP 403']);
    const dead = await failure(client(t, { proxy: 'http://127.0.0.1:1' }).request({ method: 'GET', url }));
    assert.deepEqual([dead.kind, dead.syscode, dead.message], ['proxy-failed', 'ECONNREFUSED', 'proxy 127.0.0.1:1 failed (ECONNREFUSED)']);
  });
});
