import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine, TunnelError } from 'c8y-tunnel';
import { connectProxy } from '../helpers/connect-proxy.js';
import { closeServer, echoServer, listen0, withTimeout } from '../helpers/net.js';
import { tlsFixture, wssWithCert } from '../helpers/tls.js';

const fixture = (f: string): string => readFileSync(tlsFixture(f), 'utf8');

/** A wss echo server with a certificate from the test CA, answering `binary` like Cumulocity. */
const wssServer = (): Promise<{ port: number; close(): Promise<void> }> => wssWithCert('server.pem', 'server.key', { echo: true });

async function failure(p: Promise<unknown>): Promise<TunnelError> {
  try {
    await withTimeout(p, 10_000, 'settle');
  } catch (err) {
    assert.ok(err instanceof TunnelError);
    return err;
  }
  assert.fail('expected a failure');
}

describe('TLS', () => {
  it('verifies the cloud certificate by default, and an added CA makes it pass', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const srv = await wssServer();
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await srv.close();
      await echo.close();
    });
    const url = `wss://localhost:${srv.port}/service/remoteaccess/device/k`;
    const bad = engine.open({ host: '127.0.0.1', port: echo.port, url });
    const err = await failure(bad.established);
    assert.equal(err.code, 'TUN_ERR_WS_TLS');
    assert.match(err.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    const good = engine.open({ host: '127.0.0.1', port: echo.port, url, tls: { ca: [fixture('ca.pem')] } });
    await withTimeout(good.established, 5000, 'established with the CA');
    good.close();
    assert.equal((await good.closed).code, 'TUN_END_LOCAL');
  });

  it('refuses a certificate for another name even with the right CA', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const srv = await wssServer();
    const engine = createEngine({ threads: 0 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await srv.close();
      await echo.close();
    });
    const h = engine.open({ host: '127.0.0.1', port: echo.port, url: `wss://127.0.0.2:${srv.port}/x`, tls: { ca: [fixture('ca.pem')] } });
    const err = await failure(h.established);
    assert.ok(err.code === 'TUN_ERR_WS_TLS' || err.code === 'TUN_ERR_WS_CONNECT', err.code);
  });
});

describe('HTTP CONNECT proxy for the WebSocket leg', () => {
  it('tunnels through a proxy with Basic proxy auth', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const srv = await wssServer();
    const proxy = await connectProxy({ requireAuth: 'pu:pp' });
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await proxy.close();
      await srv.close();
      await echo.close();
    });
    const h = engine.open({
      host: '127.0.0.1',
      port: echo.port,
      url: `wss://localhost:${srv.port}/service/remoteaccess/device/k`,
      tls: { ca: [fixture('ca.pem')] },
      proxy: `http://pu:pp@127.0.0.1:${proxy.port}`,
    });
    await withTimeout(h.established, 5000, 'established through the proxy');
    assert.match(proxy.requests[0]!, new RegExp(`^CONNECT localhost:${srv.port} HTTP/1.1`));
    h.close();
    await h.closed;
  });

  it('a refused CONNECT fails with TUN_ERR_PROXY and the proxy status, not as a cloud refusal', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const proxy = await connectProxy({ refuse: 403 });
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await proxy.close();
      await echo.close();
    });
    const h = engine.open({ host: '127.0.0.1', port: echo.port, url: 'wss://cloud.invalid/service/remoteaccess/device/k', proxy: `http://127.0.0.1:${proxy.port}` });
    const err = await failure(h.established);
    assert.equal(err.code, 'TUN_ERR_PROXY');
    assert.equal(err.status, 403);
    assert.equal(err.message, 'proxy refused CONNECT: HTTP 403');
  });

  it('a proxy that is down fails with TUN_ERR_PROXY', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const dead = net.createServer();
    const port = await listen0(dead);
    await closeServer(dead);
    const engine = createEngine({ threads: 0 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await echo.close();
    });
    const h = engine.open({ host: '127.0.0.1', port: echo.port, url: 'ws://cloud.invalid/x', proxy: `http://127.0.0.1:${port}` });
    const err = await failure(h.established);
    assert.equal(err.code, 'TUN_ERR_PROXY');
    assert.match(err.message, /ECONNREFUSED/);
  });
});
