/**
 * In-place frames over TLS (tunnel.ts fromTarget, docs/architecture.md): a target read is masked where
 * it lies in the thread's shared read buffer and written to the TLS socket when nothing is queued there,
 * because Node's TLS stream encrypts such a write before write() returns. The first test pins that
 * contract of Node's (it fails if a Node line ever keeps a reference to the plaintext); the second runs
 * the engine's path against `ws` as the cloud, with a reader that stalls and resumes so that both the
 * in-place frames and the queued (copied) ones carry bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import type net from 'node:net';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { createEngine } from 'c8y-tunnel';
import { listen0, randomBytesSeeded, tcpTarget, withTimeout } from '../helpers/net.js';
import { Sink, pumpTcp } from '../helpers/stream.js';
import { tlsFixture } from '../helpers/tls.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const fixture = (f: string): Buffer => readFileSync(tlsFixture(f));

describe('in-place frames over TLS', () => {
  it("Node's TLS socket has encrypted a write by the time write() returns, when nothing was queued", { timeout: 30_000 }, async (t) => {
    const ROUNDS = 64;
    const SIZE = 256 * KiB;
    let onServer!: (s: tls.TLSSocket) => void;
    const accepted = new Promise<tls.TLSSocket>((r) => (onServer = r));
    const srv = tls.createServer({ cert: fixture('server.pem'), key: fixture('server.key') }, (s) => onServer(s));
    const port = await listen0(srv);
    const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem') });
    t.after(() => {
      client.destroy();
      srv.close();
    });
    await withTimeout(new Promise((r) => client.once('secureConnect', r)), 5000, 'TLS up');
    const server = await withTimeout(accepted, 5000, 'accepted');
    t.after(() => server.destroy());
    const expected = createHash('sha256');
    const sink = new Sink(ROUNDS * SIZE);
    server.on('data', (d: Buffer) => {
      sink.push(d);
      // A slow reader now and then, so that encrypted bytes wait in Node and in the kernel.
      if (sink.received % (4 * MiB) < d.length) {
        server.pause();
        setTimeout(() => server.resume(), 20);
      }
    });
    const buf = Buffer.allocUnsafe(SIZE);
    for (let i = 0; i < ROUNDS; i++) {
      if (client.writableLength > 0) await new Promise((r) => client.once('drain', r));
      assert.equal(client.writableLength, 0);
      randomBytesSeeded(SIZE, i + 1).copy(buf);
      expected.update(buf);
      client.write(buf);
      buf.fill(0xee); // what the next read would do to a shared buffer
      // Let the write complete (or not) before the next round, as the next socket read would.
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes at the server'), expected.digest('hex'));
  });

  it('device to cloud over wss: every byte arrives intact through in-place and queued frames, against ws as the cloud', { timeout: 30_000 }, async (t) => {
    const TOTAL = 48 * MiB;
    const srv = https.createServer({ cert: fixture('server.pem'), key: fixture('server.key') });
    const wss = new WebSocketServer({ server: srv, handleProtocols: () => 'binary' });
    const port = await listen0(srv);
    t.after(() => {
      for (const c of wss.clients) c.terminate();
      srv.close();
    });
    const sink = new Sink(TOTAL);
    wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (d: Buffer) => {
        sink.push(d);
        // The cloud stalls every 8 MiB, long enough for the kernel buffers between it and the agent to fill
        // (they may grow to tens of MiB): the agent's TLS socket then queues, and its frames are copied.
        if (sink.received % (8 * MiB) < d.length) {
          ws.pause();
          setTimeout(() => ws.resume(), 250);
        }
      });
    });
    // The target writes 64 KiB at a time, as fast as its socket takes them.
    let sent: Promise<string> = Promise.resolve('');
    const tgt = await tcpTarget(t, (s: net.Socket) => (sent = pumpTcp(s, TOTAL, 77)));
    const engine = createEngine({ threads: 1 });
    t.after(() => engine.close({ graceMs: 200 }));
    const h = engine.open({ host: '127.0.0.1', port: tgt.port, url: `wss://localhost:${port}/service/remoteaccess/device/k`, tls: { ca: [fixture('ca.pem').toString()] } });
    await withTimeout(h.established, 5000, 'established');
    assert.equal(await withTimeout(sink.done, 25_000, '48 MiB at the cloud'), await sent);
    h.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesUp, TOTAL);
  });
});
