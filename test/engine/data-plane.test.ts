import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine } from 'c8y-tunnel';
import { closeServer, echoServer, listen0, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { rig, type Rig } from '../helpers/engine-rig.js';
import { Sink, pumpTcp, pumpWs } from '../helpers/stream.js';
import { pooledFrameBuffers } from '#internal/engine/frame-pool';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A raw upgrade server: answers the handshake as `answer` says, then hands the socket to `then`. */
async function rawCloud(
  then: (s: net.Socket) => void,
  answer: (key: string) => string[] = (key) => [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')}`,
  ],
  opts: { delayMs?: number; first?: Buffer } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer();
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const reply = (): void => {
      // The answer and the first frames in one write: they reach the client as the upgrade's `head`.
      socket.write(Buffer.concat([Buffer.from(`${answer(String(req.headers['sec-websocket-key'])).join('\r\n')}\r\n\r\n`), opts.first ?? Buffer.alloc(0)]));
      then(socket);
    };
    if (opts.delayMs) setTimeout(reply, opts.delayMs);
    else reply();
  });
  const port = await listen0(server);
  return { url: `ws://127.0.0.1:${port}/service/remoteaccess/device/k`, close: () => closeServer(server, sockets) };
}

/** Reads the client's frames off a raw socket (unmasking), calling `on` per frame. */
function clientFrames(s: net.Socket, on: (opcode: number, payload: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      if (buf.length < at + 4 + len) return;
      const key = buf.subarray(at, at + 4);
      const p = Buffer.from(buf.subarray(at + 4, at + 4 + len));
      for (let i = 0; i < p.length; i++) p[i]! ^= key[i & 3]!;
      on(buf[0]! & 0x0f, p);
      buf = buf.subarray(at + 4 + len);
    }
  });
}

describe('data plane: the WebSocket as a byte stream', () => {
  it('a single 64 MiB frame from the cloud streams through while the tunnel holds a bounded amount', { timeout: 60_000 }, async (t) => {
    const SIZE = 64 * MiB;
    const sink = new Sink(SIZE);
    let target!: net.Socket;
    const r = await rig(t, {
      onTarget: (s) => {
        target = s;
        s.pause(); // stalled at first: the frame is in flight while nothing can leave
        s.on('data', sink.push);
      },
    });
    const h = r.open({ maxPayload: 128 * MiB });
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    const frame = Buffer.allocUnsafe(SIZE);
    for (let i = 0; i < SIZE; i += 4) frame.writeUInt32LE((i * 2654435761) >>> 0, i);
    ws.send(frame, { binary: true });
    await new Promise((res) => setTimeout(res, 500));
    target.resume();
    assert.equal(await withTimeout(sink.done, 40_000, '64 MiB at the target'), sha256(frame));
    ws.close();
    const s = await withTimeout(h.closed, 10_000, 'closed');
    assert.equal(s.bytesDown, SIZE);
    // The target's writable buffer (16 KiB high-water mark) plus one burst of cloud reads (at most the
    // tunnel's high-water mark, 256 KiB by default): not the frame.
    assert.ok((s.peakBufferedDown ?? 0) <= 16 * KiB + 256 * KiB, `held ${s.peakBufferedDown} bytes toward the target`);
  });

  it('big device-to-cloud frames are built into reused buffers, and a buffer is reused only once its write completed (bytes intact under backpressure)', { timeout: 60_000 }, async (t) => {
    const SIZE = 32 * MiB;
    let targetSent: Promise<string> = Promise.resolve('');
    // Main thread (threads: 0), so the pool this test reads is the engine's.
    const r = await rig(t, { threads: 0, onTarget: (s) => (targetSent = pumpTcp(s, SIZE, 7, 256 * KiB)) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const sink = new Sink(SIZE);
    // The cloud reads in bursts: every 2 MiB it stalls for 20 ms, long enough for the kernel's buffers to
    // fill and frames to queue in the engine, so frames are in flight while the target is read into new ones.
    let seen = 0;
    ws.on('message', (d: Buffer) => {
      sink.push(d);
      seen += d.length;
      if (seen >= 2 * MiB) {
        seen = 0;
        ws.pause();
        setTimeout(() => ws.resume(), 20);
      }
    });
    await withTimeout(h.established, 5000, 'established');
    assert.equal(await withTimeout(sink.done, 40_000, 'target to cloud'), await targetSent);
    const pooled = pooledFrameBuffers();
    assert.ok(pooled > 0 && pooled <= 16, `${pooled} frame buffers back in the pool`);
    ws.close();
    await withTimeout(h.closed, 5000, 'closed');
  });

  it('small messages of random sizes (empty ones and pings among them) reach the target intact: payload moved together in place', { timeout: 60_000 }, async (t) => {
    const SIZE = 8 * MiB;
    const targetSink = new Sink(SIZE);
    const r = await rig(t, { threads: 0, onTarget: (s) => s.on('data', targetSink.push) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    const hash = createHash('sha256');
    let seed = 12345;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let sent = 0; sent < SIZE; ) {
      const n = Math.min(SIZE - sent, rnd(8) === 0 ? 0 : 1 + rnd(rnd(4) === 0 ? 20_000 : 2_000));
      const m = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) m[i] = rnd(256);
      hash.update(m);
      sent += n;
      if (rnd(16) === 0) ws.ping(Buffer.from('p'));
      // Over 1 MiB queued: wait until this message is out (ws has no drain event).
      if (ws.bufferedAmount > MiB) await new Promise<void>((res, rej) => ws.send(m, { binary: true }, (err) => (err ? rej(err) : res())));
      else ws.send(m, { binary: true });
    }
    assert.equal(await withTimeout(targetSink.done, 30_000, 'cloud to target'), hash.digest('hex'));
    ws.close();
    await withTimeout(h.closed, 5000, 'closed');
  });

  it('with the JS mask kernel forced (C8Y_TUNNEL_MASK=js) 16 MiB each way arrive intact', { timeout: 60_000 }, async (t) => {
    const SIZE = 16 * MiB;
    const before = process.env.C8Y_TUNNEL_MASK;
    process.env.C8Y_TUNNEL_MASK = 'js';
    const targetSink = new Sink(SIZE);
    let targetSent: Promise<string> = Promise.resolve('');
    let r: Rig;
    try {
      // A worker reads the environment when it starts: this engine's worker masks in JS.
      r = await rig(t, {
        threads: 1,
        onTarget: (s) => {
          s.on('data', targetSink.push);
          targetSent = pumpTcp(s, SIZE, 5, 1000);
        },
      });
    } finally {
      if (before === undefined) delete process.env.C8Y_TUNNEL_MASK;
      else process.env.C8Y_TUNNEL_MASK = before;
    }
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const cloudSink = new Sink(SIZE);
    ws.on('message', cloudSink.push);
    await withTimeout(h.established, 5000, 'established');
    const cloudSent = await pumpWs(ws, SIZE, 6, 1000);
    assert.equal(await withTimeout(targetSink.done, 30_000, 'cloud to target'), cloudSent);
    assert.equal(await withTimeout(cloudSink.done, 30_000, 'target to cloud'), await targetSent);
    assert.equal(r.engine.stats().mask, 'js');
    ws.close();
    await withTimeout(h.closed, 5000, 'closed');
  });

  it('answers a ping with a pong of the same payload, and echoes the close code the cloud sent', { timeout: 20_000 }, async (t) => {
    const r = await rig(t, { echo: true });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    const pong = new Promise<Buffer>((res) => ws.once('pong', res));
    ws.ping(Buffer.from('are you there'));
    assert.equal((await withTimeout(pong, 5000, 'pong')).toString(), 'are you there');
    const closed = new Promise<number>((res) => ws.once('close', (c) => res(c)));
    ws.close(4001, 'session revoked');
    assert.equal(await withTimeout(closed, 5000, 'cloud close'), 4001, 'the code is echoed');
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.code, 'TUN_END_WS_CLOSED');
    assert.equal(s.wsCloseCode, 4001);
    assert.equal(s.message, 'session revoked');
  });

  it('a masked frame from the cloud fails the tunnel with TUN_ERR_WS_PROTOCOL and close 1002', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    let closeCode: number | undefined;
    const gotClose = new Promise<void>((res) => {
      void rawCloud((s) => {
        // Masked, which only a client may send (RFC 6455 section 5.1).
        setTimeout(() => s.write(Buffer.from('8185 37fa213d 7f9f4d5158'.replace(/ /g, ''), 'hex')), 100);
        clientFrames(s, (op, p) => {
          if (op === 8) {
            closeCode = p.readUInt16BE(0);
            res();
          }
        });
      }).then((c) => {
        cloud = c;
        h = engine.open({ host: '127.0.0.1', port: echo.port, url: c.url });
      });
    });
    let cloud!: { url: string; close(): Promise<void> };
    const engine = createEngine({ threads: 0 });
    let h!: ReturnType<typeof engine.open>;
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await cloud.close();
      await echo.close();
    });
    await withTimeout(gotClose, 5000, 'close frame at the cloud');
    assert.equal(closeCode, 1002);
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.code, 'TUN_ERR_WS_PROTOCOL');
    assert.equal(s.endedBy, 'ws');
  });

  it('cloud bytes in the upgrade answer (head) never mix with target bytes held meanwhile', { timeout: 20_000 }, async (t) => {
    const banner = Buffer.alloc(40_000, 0x42);
    const got: Buffer[] = [];
    const targetGot = new Promise<string>((res) => {
      void (async () => {
        const sockets = new Set<net.Socket>();
        const target = net.createServer((s) => {
          sockets.add(s);
          s.on('error', () => {});
          s.write(banner);
          s.once('data', (d: Buffer) => res(d.toString()));
        });
        const port = await listen0(target);
        t.after(() => closeServer(target, sockets));
        const frames: Buffer[] = [];
        const cloud = await rawCloud(
          (s) => clientFrames(s, (op, p) => op === 2 && frames.push(p) && got.push(p)),
          undefined,
          { delayMs: 300, first: Buffer.from([0x82, 0x05, ...Buffer.from('hello')]) },
        );
        t.after(() => cloud.close());
        const engine = createEngine({ threads: 0 });
        t.after(() => engine.close({ graceMs: 200 }));
        engine.open({ host: '127.0.0.1', port, url: cloud.url });
      })();
    });
    assert.equal(await withTimeout(targetGot, 5000, 'head bytes at the target'), 'hello');
    await waitFor(() => Buffer.concat(got).length >= banner.length, 5000, 'banner at the cloud');
    assert.ok(Buffer.concat(got).equals(banner));
  });

  it('a 101 with a wrong Sec-WebSocket-Accept is a handshake error; one without a subprotocol is tolerated', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const bad = await rawCloud(
      () => {},
      () => ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk='],
    );
    const frames: string[] = [];
    const lenient = await rawCloud((s) => {
      s.write(Buffer.from([0x82, 0x03, 0x61, 0x62, 0x63])); // "abc", binary
      clientFrames(s, (op, p) => frames.push(`${op}:${p.toString()}`));
    });
    const engine = createEngine({ threads: 0 });
    t.after(async () => {
      await engine.close({ graceMs: 200 });
      await bad.close();
      await lenient.close();
      await echo.close();
    });
    const h1 = engine.open({ host: '127.0.0.1', port: echo.port, url: bad.url });
    await assert.rejects(h1.established, (e: { code?: string }) => e.code === 'TUN_ERR_WS_PROTOCOL');
    const s1 = await h1.closed;
    assert.equal(s1.wsCloseCode, undefined, 'no close code the cloud never sent');
    const h2 = engine.open({ host: '127.0.0.1', port: echo.port, url: lenient.url });
    await withTimeout(h2.established, 5000, 'established without a subprotocol in the answer');
    await waitFor(() => frames.includes('2:abc'), 5000, 'echo through the tunnel');
    h2.close();
    await h2.closed;
  });
});
