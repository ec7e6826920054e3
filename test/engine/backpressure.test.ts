import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine } from 'c8y-tunnel';
import { cloudLikeWss, closeServer, listen0, withTimeout } from '../helpers/net.js';
import { Sink, chunkAt, pumpTcp } from '../helpers/stream.js';

const KiB = 1024;

describe('backpressure with a stalled reader', () => {
  it('device to cloud: the cloud stops reading, the tunnel pauses the target and holds at most the high-water mark', { timeout: 30_000 }, async (t) => {
    const TOTAL = 48 * 1024 * KiB;
    const HWM = 256 * KiB;
    let sent: Promise<string> = Promise.resolve('');
    const target = net.createServer((s) => {
      s.on('error', () => {});
      sent = pumpTcp(s, TOTAL, 5);
    });
    const tport = await listen0(target);
    const cloud = await cloudLikeWss();
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 500 });
      await cloud.close();
      await closeServer(target);
    });
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url(), highWaterMark: HWM });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    const sink = new Sink(TOTAL);
    ws.on('message', sink.push);
    ws.pause(); // the reader stalls
    await withTimeout(h.established, 5000, 'established');
    await new Promise((r) => setTimeout(r, 1500));
    const stalledAt = sink.received;
    assert.equal(stalledAt, 0, 'nothing is read while paused');
    ws.resume();
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes after resume'), await sent);
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesUp, TOTAL);
    // At most the high-water mark plus the one frame that crossed it (a read is <= 64 KiB).
    assert.ok((s.peakBufferedUp ?? 0) <= HWM + 64 * KiB + 16, `held ${s.peakBufferedUp} bytes toward the cloud`);
  });

  it('cloud to device: the target stops reading, the tunnel pauses the WebSocket and holds a bounded amount', { timeout: 30_000 }, async (t) => {
    const TOTAL = 48 * 1024 * KiB;
    let targetSock!: net.Socket;
    const sink = new Sink(TOTAL);
    const connected = new Promise<void>((resolve) => {
      const target = net.createServer((s) => {
        targetSock = s;
        s.on('error', () => {});
        s.pause(); // the reader stalls from the start
        s.on('data', sink.push);
        resolve();
      });
      t.after(() => closeServer(target));
      void listen0(target).then((port) => (tport = port));
    });
    let tport = 0;
    while (tport === 0) await new Promise((r) => setTimeout(r, 5));
    const cloud = await cloudLikeWss();
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 500 });
      await cloud.close();
    });
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url() });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    await withTimeout(Promise.all([h.established, connected]), 5000, 'established');
    // Flood from the cloud without looking at bufferedAmount: only the tunnel's backpressure (through the
    // kernel's windows) can hold this back.
    let i = 0;
    let sentBytes = 0;
    const hash = (await import('node:crypto')).createHash('sha256');
    const flood = (): void => {
      while (sentBytes < TOTAL && ws.bufferedAmount < 8 * 1024 * KiB) {
        const c = chunkAt(i++, 64 * KiB, 9);
        hash.update(c);
        sentBytes += c.length;
        ws.send(c);
      }
      if (sentBytes < TOTAL) setTimeout(flood, 5);
    };
    flood();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sink.received, 0);
    targetSock.resume();
    const got = await withTimeout(sink.done, 20_000, 'all bytes after resume');
    assert.equal(got, hash.digest('hex'));
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesDown, TOTAL);
    // The socket's writable buffer pauses at 16 KiB; messages already parsed may add up to a few frames.
    assert.ok((s.peakBufferedDown ?? 0) <= 512 * KiB, `held ${s.peakBufferedDown} bytes toward the target`);
  });
});
