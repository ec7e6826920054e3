import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { sendOwned } from 'c8y-tunnel/internal/engine/mask';
import { cloudLikeWss, withTimeout } from '../helpers/net.js';

/** A buffer that owns its whole ArrayBuffer, like a chunk read from a TCP socket. */
function owned(n: number): Buffer {
  const b = Buffer.allocUnsafeSlow(n);
  randomBytes(n).copy(b);
  return b;
}

async function pair(zeroMask: boolean): Promise<{ client: WebSocket; received: Buffer[]; close(): Promise<void> }> {
  const cloud = await cloudLikeWss();
  const opts: WebSocket.ClientOptions = { perMessageDeflate: false };
  if (zeroMask) opts.generateMask = (m: Buffer) => void m.fill(0);
  const client = new WebSocket(cloud.url(), ['binary'], opts);
  client.on('error', () => {});
  const server = await withTimeout(cloud.next(), 5000, 'server side');
  const received: Buffer[] = [];
  server.on('message', (d: Buffer) => received.push(d));
  await withTimeout(new Promise((r) => client.once('open', r)), 5000, 'open');
  return {
    client,
    received,
    close: async () => {
      client.terminate();
      await cloud.close();
    },
  };
}

describe('sendOwned (in-place masking)', () => {
  it('delivers every size exactly, masking owned chunks where they are and leaving others untouched', { timeout: 20_000 }, async (t) => {
    const p = await pair(false);
    t.after(() => p.close());
    const sizes = [1, 125, 1023, 1024, 65_535, 65_536, 200_000];
    const sent: Buffer[] = [];
    const inPlace: boolean[] = [];
    for (const n of sizes) {
      const b = owned(n);
      const copy = Buffer.from(b);
      sent.push(copy);
      sendOwned(p.client, b);
      inPlace.push(!b.equals(copy));
    }
    // A view into a larger buffer is not the tunnel's alone: it must go out through ws's copy.
    const big = owned(8192);
    const view = big.subarray(100, 4196);
    const viewCopy = Buffer.from(view);
    const bigCopy = Buffer.from(big);
    sent.push(viewCopy);
    await withTimeout(new Promise<void>((r) => sendOwned(p.client, view, () => r())), 5000, 'send callback');
    await withTimeout(
      (async () => {
        while (p.received.length < sent.length) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'all frames',
    );
    assert.deepEqual(
      p.received.map((b) => b.length),
      sent.map((b) => b.length),
    );
    p.received.forEach((b, i) => assert.ok(b.equals(sent[i]!), `frame ${i} (${sent[i]!.length} bytes) differs`));
    assert.deepEqual(inPlace, [false, false, false, true, true, true, true], 'owned chunks of 1 KiB and more are masked in place');
    assert.ok(big.equals(bigCopy), 'a shared buffer is never written');
  });

  it('leaves the zero-mask path to ws (by reference, unchanged)', { timeout: 20_000 }, async (t) => {
    const p = await pair(true);
    t.after(() => p.close());
    const b = owned(100_000);
    const copy = Buffer.from(b);
    sendOwned(p.client, b);
    await withTimeout(
      (async () => {
        while (p.received.length < 1) await new Promise((r) => setTimeout(r, 5));
      })(),
      5000,
      'frame',
    );
    assert.ok(b.equals(copy), 'not masked in place');
    assert.ok(p.received[0]!.equals(copy));
  });
});
