import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { withTimeout } from '../helpers/net.js';
import { rig } from '../helpers/engine-rig.js';
import { Sink, chunkAt, pumpTcp } from '../helpers/stream.js';

const KiB = 1024;
const TOTAL = 48 * 1024 * KiB;

describe('backpressure with a stalled reader', () => {
  it('device to cloud: the cloud stops reading, the tunnel pauses the target and holds at most the high-water mark', { timeout: 30_000 }, async (t) => {
    const HWM = 256 * KiB;
    let sent: Promise<string> = Promise.resolve('');
    const r = await rig(t, { onTarget: (s) => (sent = pumpTcp(s, TOTAL, 5)) });
    const h = r.open({ highWaterMark: HWM });
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const sink = new Sink(TOTAL);
    ws.on('message', sink.push);
    ws.pause(); // the reader stalls
    await withTimeout(h.established, 5000, 'established');
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(sink.received, 0, 'nothing is read while paused');
    ws.resume();
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes after resume'), await sent);
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesUp, TOTAL);
    // At most the high-water mark plus the one frame that crossed it (a read is <= 64 KiB).
    assert.ok((s.peakBufferedUp ?? 0) <= HWM + 64 * KiB + 16, `held ${s.peakBufferedUp} bytes toward the cloud`);
  });

  it('cloud to device: the target stops reading, the tunnel pauses the WebSocket and holds a bounded amount', { timeout: 30_000 }, async (t) => {
    const sink = new Sink(TOTAL);
    let targetSock: net.Socket | undefined;
    const r = await rig(t, {
      onTarget: (s) => {
        targetSock = s;
        s.pause(); // the reader stalls from the start
        s.on('data', sink.push);
      },
    });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    // Flood from the cloud, limited only by the cloud's own 8 MiB send buffer: only the tunnel's
    // backpressure (through the kernel's windows) can hold this back.
    let i = 0;
    let sentBytes = 0;
    const hash = createHash('sha256');
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
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal(sink.received, 0);
    targetSock!.resume();
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes after resume'), hash.digest('hex'));
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesDown, TOTAL);
    // The socket's writable buffer pauses at 16 KiB; messages already parsed may add up to a few frames.
    assert.ok((s.peakBufferedDown ?? 0) <= 512 * KiB, `held ${s.peakBufferedDown} bytes toward the target`);
  });
});
