/**
 * Read coalescing on the cloud leg (legs.ts restCloud): after a long cloud read that did not fill its
 * buffer, the next read waits `coalesceMs`; short reads never wait, and an end cuts a wait short.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, it, type TestContext } from 'node:test';
import { withTimeout } from '../helpers/net.js';
import { rig } from '../helpers/engine-rig.js';

const KiB = 1024;

/** Bytes that reached the target, and a promise for "at least n". */
class Arrivals {
  total = 0;
  private waits: { n: number; resolve: () => void }[] = [];
  readonly on = (d: Buffer): void => {
    this.total += d.length;
    this.waits = this.waits.filter((w) => (this.total >= w.n ? (w.resolve(), false) : true));
  };
  reach(n: number): Promise<void> {
    if (this.total >= n) return Promise.resolve();
    return new Promise((resolve) => this.waits.push({ n, resolve }));
  }
}

/** One tunnel with `coalesceMs`; the cloud's WebSocket and what reached the target. */
async function tunnel(t: TestContext, coalesceMs: number, extra: { closeGraceMs?: number } = {}) {
  const got = new Arrivals();
  const r = await rig(t, { onTarget: (s: net.Socket) => s.on('data', got.on) });
  const h = r.open({ coalesceMs, ...extra });
  const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
  await withTimeout(h.established, 5000, 'established');
  return { h, ws, got };
}

/** Sends `size` bytes as one message once the last arrived, `count` times; returns the time taken, ms. */
async function oneByOne(ws: import('ws').WebSocket, got: Arrivals, size: number, count: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const want = got.total + size;
    ws.send(Buffer.alloc(size, i));
    await withTimeout(got.reach(want), 5000, `message ${i} at the target`);
  }
  return performance.now() - t0;
}

/** A 32 KiB message (one long read), then 10 bytes sent once it arrived: the gap until those arrive, ms. */
async function gapAfterLongRead(ws: import('ws').WebSocket, got: Arrivals): Promise<number> {
  const want = got.total + 32 * KiB;
  ws.send(Buffer.alloc(32 * KiB, 7));
  await withTimeout(got.reach(want), 5000, '32 KiB at the target');
  const t0 = performance.now();
  ws.send(Buffer.alloc(10, 8));
  await withTimeout(got.reach(want + 10), 5000, '10 bytes at the target');
  return performance.now() - t0;
}

describe('read coalescing on the cloud leg', () => {
  it('short reads never wait, whatever coalesceMs is', { timeout: 20_000 }, async (t) => {
    // With the longest wait (1 s), one wait would take longer than all of them together take.
    const { h, ws, got } = await tunnel(t, 1000);
    const ms = await oneByOne(ws, got, 100, 30);
    const ms4k = await oneByOne(ws, got, 4 * KiB, 30);
    assert.ok(ms + ms4k < 1000, `${ms.toFixed(1)} ms, ${ms4k.toFixed(1)} ms for 30 + 30 messages`);
    ws.close();
    assert.equal((await withTimeout(h.closed, 5000, 'closed')).bytesDown, 30 * 100 + 30 * 4 * KiB);
  });

  it('after a long read that did not fill the buffer, the next read waits coalesceMs', { timeout: 20_000 }, async (t) => {
    const { h, ws, got } = await tunnel(t, 400);
    const gap = await gapAfterLongRead(ws, got);
    assert.ok(gap >= 300, `the 10 bytes arrived ${gap.toFixed(1)} ms after the long read`);
    // Nothing was lost or reordered by the wait.
    ws.close();
    assert.equal((await withTimeout(h.closed, 5000, 'closed')).bytesDown, 32 * KiB + 10);
  });

  it('coalesceMs 0 reads on at once after a long read', { timeout: 20_000 }, async (t) => {
    const { h, ws, got } = await tunnel(t, 0);
    const gap = await gapAfterLongRead(ws, got);
    assert.ok(gap < 300, `the 10 bytes arrived ${gap.toFixed(1)} ms after the long read`);
    ws.close();
    await withTimeout(h.closed, 5000, 'closed');
  });

  it('closing the tunnel cuts a wait short: the cloud close reply is read at once', { timeout: 20_000 }, async (t) => {
    // The longest wait (1 s), and a grace of 30 s: were the wait kept, the cloud's close reply would be
    // read only when it is over.
    const { h, ws, got } = await tunnel(t, 1000, { closeGraceMs: 30_000 });
    const want = got.total + 32 * KiB;
    ws.send(Buffer.alloc(32 * KiB, 1));
    await withTimeout(got.reach(want), 5000, '32 KiB at the target');
    const t0 = performance.now();
    h.close('test');
    const s = await withTimeout(h.closed, 5000, 'closed while the cloud leg rested');
    const ms = performance.now() - t0;
    assert.ok(ms < 800, `closed ${ms.toFixed(1)} ms after close()`);
    assert.equal(s.endedBy, 'local');
    assert.equal(s.wsCloseCode, 1000);
    assert.equal(s.bytesDown, 32 * KiB);
  });
});
