import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { createEngine, TunnelError } from 'c8y-tunnel';
import { connectProxy } from '../helpers/connect-proxy.js';
import { closeServer, echoServer, listen0, randomBytesSeeded, sha256, tcpTarget, withTimeout } from '../helpers/net.js';
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

/**
 * A ws or wss cloud that does the opening handshake by hand and then writes exactly the bytes a test gives
 * it: a 64 KiB write arrives as one full plain read, or (wss) as four full 16 KiB TLS pieces, the cases the
 * engine holds for the rest of their burst. `opened` is the first connection's socket, once answered.
 */
async function rawCloud(t: { after(fn: () => unknown): void }, secure: boolean): Promise<{ port: number; opened: Promise<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  let onOpen!: (s: net.Socket) => void;
  const opened = new Promise<net.Socket>((r) => (onOpen = r));
  const onConn = (s: net.Socket): void => {
    sockets.add(s);
    s.on('error', () => {});
    let head = '';
    const onHead = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onHead);
      const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: binary\r\n\r\n`);
      onOpen(s);
    };
    s.on('data', onHead);
  };
  const server = secure ? tls.createServer({ cert: fixture('server.pem'), key: fixture('server.key') }, onConn) : net.createServer(onConn);
  const port = await listen0(server);
  t.after(() => closeServer(server, sockets));
  return { port, opened };
}

/** A server (unmasked) binary frame. */
function frame(payload: Buffer, opcode = 2): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 0xff]) : Buffer.from([0x80 | opcode, 127, 0, 0, 0, 0, 0, 0, 0, 0]);
  if (n >= 65536) head.writeUInt32BE(n, 6);
  return Buffer.concat([head, payload]);
}

describe('bursts of full cloud reads toward the target', () => {
  // Direct, the cloud socket is read through onread into the thread's buffer (256 KiB, TLS pieces of
  // 16 KiB); through a proxy, through 'data' (Node's 64 KiB reads, the same TLS pieces).
  const cases = [
    [true, 0, false],
    [true, 1, false],
    [false, 0, false],
    [false, 1, false],
    [true, 1, true],
    [false, 1, true],
  ] as const;
  for (const [secure, threads, viaProxy] of cases) {
    it(`${secure ? 'wss' : 'ws'}${viaProxy ? ' through a proxy' : ''}: a burst that ends on a full read is written in the same turn, then a burst with the close frame lands before the target's end (threads: ${threads})`, { timeout: 20_000 }, async (t) => {
      // 65,532 payload bytes + a 4-byte header: exactly 64 KiB on the wire, four full TLS pieces, or one
      // full plain read of Node's (through the proxy), and no short one after them, so only the
      // check-phase flush can deliver it. Plain and direct, it is one short read of the 256 KiB buffer,
      // written at once.
      const first = randomBytesSeeded(65_532, 3);
      const rest = [randomBytesSeeded(70_000, 4), randomBytesSeeded(16_384, 5), randomBytesSeeded(100, 6)];
      const { port: cloudPort, opened } = await rawCloud(t, secure);
      const got: Buffer[] = [];
      let gotBytes = 0;
      let firstDone!: () => void;
      const firstIn = new Promise<void>((r) => (firstDone = r));
      let targetEnded!: () => void;
      const ended = new Promise<void>((r) => (targetEnded = r));
      const target = await tcpTarget(t, (s) => {
        s.on('data', (d: Buffer) => {
          got.push(d);
          gotBytes += d.length;
          if (gotBytes >= first.length) firstDone();
        });
        s.on('end', () => targetEnded());
      });
      const engine = createEngine({ threads });
      t.after(() => engine.close({ graceMs: 200 }));
      const proxy = viaProxy ? await connectProxy() : null;
      if (proxy) t.after(() => proxy.close());
      const h = engine.open({
        host: '127.0.0.1',
        port: target.port,
        url: `${secure ? 'wss' : 'ws'}://localhost:${cloudPort}/service/remoteaccess/device/k`,
        tls: { ca: [fixture('ca.pem')] },
        ...(proxy ? { proxy: proxy.url } : {}),
      });
      await withTimeout(h.established, 5000, 'established');
      const cloud = await withTimeout(opened, 5000, 'cloud open');
      // Written once the answer is through, so that it starts a TLS record of its own.
      cloud.write(frame(first));
      // Nothing more is sent until the whole first burst has reached the target.
      await withTimeout(firstIn, 5000, 'the burst that ends on a full TLS piece reached the target');
      assert.equal(gotBytes, first.length);
      // Data then the close frame in one write: every byte goes before the target's end.
      cloud.write(Buffer.concat([...rest.map((b) => frame(b)), frame(Buffer.from([0x03, 0xe8]), 8)]));
      await withTimeout(ended, 5000, "the target's end");
      assert.equal(sha256(got), sha256([first, ...rest]));
      const s = await withTimeout(h.closed, 5000, 'closed');
      assert.equal(s.code, 'TUN_END_WS_CLOSED');
      assert.equal(s.bytesDown, first.length + 70_000 + 16_384 + 100);
      if (proxy) assert.ok(proxy.carried.down >= s.bytesDown, 'the bytes came through the proxy');
    });
  }

  it("wss, a stalled target: the cloud is paused, and the tunnel holds at most the socket's 16 KiB, one burst and one TLS read toward it", { timeout: 30_000 }, async (t) => {
    const SIZE = 16 * 1024 * 1024;
    const payload = randomBytesSeeded(SIZE, 7);
    const { port: cloudPort, opened } = await rawCloud(t, true);
    let target: net.Socket | null = null;
    const got: Buffer[] = [];
    let gotBytes = 0;
    let all!: () => void;
    const allIn = new Promise<void>((r) => (all = r));
    const tgt = await tcpTarget(t, (s) => {
      target = s;
      s.pause();
      s.on('data', (d: Buffer) => {
        got.push(d);
        gotBytes += d.length;
        if (gotBytes >= SIZE) all();
      });
    });
    const engine = createEngine({ threads: 0 });
    t.after(() => engine.close({ graceMs: 200 }));
    const h = engine.open({ host: '127.0.0.1', port: tgt.port, url: `wss://localhost:${cloudPort}/service/remoteaccess/device/k`, tls: { ca: [fixture('ca.pem')] } });
    await withTimeout(h.established, 5000, 'established');
    const cloud = await withTimeout(opened, 5000, 'cloud open');
    for (let off = 0; off < SIZE; off += 64 * 1024) cloud.write(frame(payload.subarray(off, off + 64 * 1024)));
    // No event says that nothing more moves: the target stays stalled for a while, as in data-plane.test.ts.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(engine.stats().bytesDown < SIZE, 'the stalled target held the cloud back');
    target!.resume();
    await withTimeout(allIn, 20_000, '16 MiB at the target');
    assert.equal(sha256(got), sha256([payload]));
    cloud.write(frame(Buffer.from([0x03, 0xe8]), 8));
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesDown, SIZE);
    // docs/architecture.md, "Memory bound per tunnel": over wss, the TLS layer still hands on what it had
    // decrypted from its last socket read (at most 64 KiB) when the cloud is paused.
    assert.ok((s.peakBufferedDown ?? 0) <= (16 + 256 + 64) * 1024, `held ${s.peakBufferedDown} bytes toward the target`);
  });
});
