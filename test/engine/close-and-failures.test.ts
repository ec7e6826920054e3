import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { createEngine, TunnelError, type Engine } from 'c8y-tunnel';
import { cloudLikeWss, closeServer, collect, echoServer, listen0, withTimeout } from '../helpers/net.js';
import { rig } from '../helpers/engine-rig.js';

async function rejection(p: Promise<unknown>): Promise<TunnelError> {
  try {
    await withTimeout(p, 10_000, 'established to settle');
  } catch (err) {
    assert.ok(err instanceof TunnelError, `expected a TunnelError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the tunnel to fail');
}

describe('close propagation', () => {
  it('target closes: the cloud gets close 1000 after the last bytes', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { onTarget: (s) => s.end('bye from target') });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const parts: Buffer[] = [];
    ws.on('message', (d: Buffer) => parts.push(d));
    const code = await withTimeout(new Promise<number>((r) => ws.on('close', (c) => r(c))), 5000, 'cloud close');
    assert.equal(code, 1000);
    assert.equal(Buffer.concat(parts).toString(), 'bye from target');
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.endedBy, 'tcp');
    assert.equal(s.code, 'TUN_END_TCP_EOF');
  });

  it('cloud closes: the target gets the last bytes, then end of stream', { timeout: 20_000 }, async (t) => {
    let got!: Promise<Buffer>;
    const r = await rig(t, { onTarget: (s) => (got = collect(s)) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    ws.send(Buffer.from('last words'));
    ws.close(1000);
    assert.equal((await withTimeout(got, 5000, 'target end')).toString(), 'last words');
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.endedBy, 'ws');
    assert.equal(s.wsCloseCode, 1000);
  });

  it('close() from the API ends both legs', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { echo: true, threads: 1 });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    h.close('operator ended it');
    assert.equal(await withTimeout(new Promise<number>((r) => ws.on('close', (c) => r(c))), 5000, 'cloud close'), 1000);
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.endedBy, 'local');
    assert.equal(s.code, 'TUN_END_LOCAL');
  });
});

describe('idle timeout', () => {
  it('a tunnel with no traffic for idleTimeoutMs ends with TUN_END_IDLE', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { echo: true, threads: 1 });
    const h = r.open({ idleTimeoutMs: 300 });
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    ws.send(Buffer.from('x'));
    const s = await withTimeout(h.closed, 5000, 'idle end');
    assert.equal(s.code, 'TUN_END_IDLE');
    assert.equal(s.bytesDown, 1);
  });
});

describe('connect failures end with distinct codes', () => {
  let engine: Engine;
  it('a refused target port', { timeout: 20_000 }, async (t) => {
    const dead = net.createServer();
    const port = await listen0(dead);
    await closeServer(dead);
    const cloud = await cloudLikeWss();
    engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await cloud.close();
    });
    const h = engine.open({ host: '127.0.0.1', port, url: cloud.url() });
    const err = await rejection(h.established);
    assert.equal(err.code, 'TUN_ERR_TCP_REFUSED');
    assert.match(err.message, /^target 127\.0\.0\.1:\d+ refused connection \(ECONNREFUSED\)$/);
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.code, 'TUN_ERR_TCP_REFUSED');
    assert.equal(s.established, false);
    assert.equal(engine.stats().failuresByCode.TUN_ERR_TCP_REFUSED, 1);
  });

  for (const status of [401, 403, 404, 503]) {
    it(`the cloud answers the upgrade ${status}`, { timeout: 20_000 }, async (t) => {
      const echo = await echoServer();
      const cloud = await cloudLikeWss({ verify: () => status });
      const e = createEngine({ threads: 1 });
      t.after(async () => {
        await e.close({ graceMs: 200 });
        await cloud.close();
        await echo.close();
      });
      const h = e.open({ host: '127.0.0.1', port: echo.port, url: cloud.url() });
      const err = await rejection(h.established);
      assert.equal(err.code, 'TUN_ERR_WS_HTTP_STATUS');
      assert.equal(err.status, status);
      assert.equal(err.message, `cloud refused WebSocket: HTTP ${status}`);
      await withTimeout(h.closed, 5000, 'closed');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(echo.sockets.size, 0, 'the target connection is closed too');
    });
  }

  it('an upgrade that never answers times out', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    const port = await listen0(silent);
    const e = createEngine({ threads: 1 });
    t.after(async () => {
      await e.close({ graceMs: 200 });
      await closeServer(silent, sockets);
      await echo.close();
    });
    const h = e.open({ host: '127.0.0.1', port: echo.port, url: `ws://127.0.0.1:${port}/service/remoteaccess/device/k`, wsConnectTimeoutMs: 300 });
    const err = await rejection(h.established);
    assert.equal(err.code, 'TUN_ERR_WS_TIMEOUT');
  });

  it('an invalid spec is refused with a code, not a throw', { timeout: 5000 }, async (t) => {
    const e = createEngine({ threads: 0 });
    t.after(() => e.close());
    for (const bad of [{ port: 0 }, { port: 65536 }, { host: 'bad\nhost' }, { url: 'http://x/' }, { coalesceMs: -1 }, { coalesceMs: 1001 }, { coalesceMs: Number.NaN }]) {
      const h = e.open({ host: '127.0.0.1', port: 22, url: 'ws://127.0.0.1:1/', ...bad });
      assert.equal((await rejection(h.established)).code, 'TUN_ERR_INVALID_SPEC');
    }
  });
});

describe('frames the cloud should not send', () => {
  it('text frames are forwarded as bytes and counted', { timeout: 20_000 }, async (t) => {
    let got!: Promise<Buffer>;
    const r = await rig(t, { threads: 0, onTarget: (s) => (got = collect(s)) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    ws.send('text ', { binary: false });
    ws.send(Buffer.from('binary'));
    ws.close();
    assert.equal((await withTimeout(got, 5000, 'target end')).toString(), 'text binary');
    assert.equal((await h.closed).textFrames, 1);
  });

  it('a message above maxPayload ends the tunnel with TUN_ERR_WS_PAYLOAD_TOO_BIG (close 1009)', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { echo: true, threads: 1 });
    const h = r.open({ maxPayload: 64 * 1024 });
    const ws: WebSocket = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    const closed = new Promise<number>((r) => ws.on('close', (c) => r(c)));
    ws.send(Buffer.alloc(64 * 1024 + 1));
    assert.equal(await withTimeout(closed, 5000, 'cloud close'), 1009);
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.code, 'TUN_ERR_WS_PAYLOAD_TOO_BIG');
    assert.equal(s.endedBy, 'ws');
  });
});

describe('engine.close', () => {
  it('closes busy tunnels within the grace, on workers and on the main thread', { timeout: 20_000 }, async (t) => {
    for (const threads of [1, 0]) {
      // A target that never reads and a cloud that never reads: nothing can flush, so only the grace ends it.
      const r = await rig(t, { threads, onTarget: (s) => s.pause() });
      const handles = [r.open(), r.open()];
      const wss = await Promise.all([r.cloud.next(), r.cloud.next()]);
      for (const ws of wss) ws.pause();
      await withTimeout(Promise.all(handles.map((h) => h.established)), 5000, 'established');
      const t0 = Date.now();
      await r.engine.close({ graceMs: 600 });
      const took = Date.now() - t0;
      assert.ok(took < 600 + 250, `close took ${took} ms with a 600 ms grace (threads ${threads})`);
      const summaries = await withTimeout(Promise.all(handles.map((h) => h.closed)), 2000, 'summaries');
      for (const s of summaries) assert.ok(s.code === 'TUN_END_LOCAL' || s.code === 'TUN_ERR_ENGINE_CLOSED', s.code);
    }
  });
});

describe('abrupt ends', () => {
  it('the cloud dropping the connection without a close frame ends with TUN_ERR_WS_DROPPED', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { echo: true });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    ws.terminate();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.code, 'TUN_ERR_WS_DROPPED');
    assert.equal(s.wsCloseCode, 1006);
  });

  it('our own close keeps delivering what the cloud already sent until the cloud answers the close', { timeout: 20_000 }, async (t) => {
    let got!: Promise<Buffer>;
    const r = await rig(t, { onTarget: (s) => (got = collect(s)) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    // The cloud keeps sending after we close; the close frame crosses these bytes on the wire.
    const payload = Buffer.alloc(4 * 1024 * 1024, 7);
    for (let i = 0; i < 16; i++) ws.send(payload.subarray(i * 262144, (i + 1) * 262144));
    h.close('operator');
    const s = await withTimeout(h.closed, 5000, 'closed');
    const received = (await withTimeout(got, 5000, 'target end')).length;
    assert.equal(received, s.bytesDown, 'every byte counted as delivered reached the target');
    assert.equal(s.bytesDown + (s.bytesDiscarded ?? 0), payload.length, 'nothing unaccounted');
  });
});
