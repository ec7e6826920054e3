import assert from 'node:assert/strict';
import dns from 'node:dns';
import { describe, it } from 'node:test';
import { waitFor, withTimeout } from '../helpers/net.js';
import { gateUpgrades, rig } from '../helpers/engine-rig.js';
import { Sink, pumpTcp } from '../helpers/stream.js';

/** Holds every lookup of 'localhost' (on this thread) until the returned function is called; undone after the test. */
function holdLocalhostLookup(t: { after(fn: () => unknown): void }): () => void {
  const lookup = dns.lookup;
  let resolveName!: () => void;
  const named = new Promise<void>((res) => (resolveName = res));
  (dns as { lookup: unknown }).lookup = (host: string, ...a: unknown[]) => {
    const go = (): void => (lookup as (...x: unknown[]) => void)(host, ...a);
    if (host === 'localhost') void named.then(go);
    else go();
  };
  t.after(() => {
    dns.lookup = lookup;
    resolveName();
  });
  return resolveName;
}

const nextMessage = (ws: import('ws').WebSocket): Promise<Buffer> => withTimeout(new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d))), 5000, 'message');

describe('bootstrap queue', () => {
  it('delivers a banner the target wrote before the WebSocket was open, first and in order', { timeout: 20_000 }, async (t) => {
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian\r\n');
    const r = await rig(t, {
      engine: { statsIntervalMs: 20 },
      onTarget: (s) => {
        s.write(banner);
        s.on('data', (d) => s.write(d));
      },
    });
    // The upgrade is answered only once the engine has read the banner (its live count says so).
    const release = gateUpgrades(r);
    const h = r.open();
    await waitFor(() => r.engine.stats().bytesUp === banner.length, 5000, 'the banner read by the engine');
    release();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    assert.equal((await nextMessage(ws)).toString(), banner.toString());
    await withTimeout(h.established, 5000, 'established');
    ws.send(Buffer.from('hello'));
    assert.equal((await nextMessage(ws)).toString(), 'hello');
    ws.close();
    assert.equal((await withTimeout(h.closed, 5000, 'closed')).peakBootstrapBytes, banner.length);
  });

  it('holds a flood from the target up to the bound, pauses it, and loses nothing once the WebSocket opens', { timeout: 30_000 }, async (t) => {
    const TOTAL = 8 * 1024 * 1024;
    const LIMIT = 100 * 1024; // not a multiple of the read size, so the split path runs
    let sent: Promise<string> = Promise.resolve('');
    const r = await rig(t, { engine: { statsIntervalMs: 20 }, onTarget: (s) => (sent = pumpTcp(s, TOTAL, 3)) });
    const release = gateUpgrades(r);
    const h = r.open({ bootstrapLimit: LIMIT });
    // The upgrade stays unanswered until the engine holds a full queue (its live count reaches the bound).
    await waitFor(() => r.engine.stats().bytesUp >= LIMIT, 10_000, 'a full bootstrap queue');
    release();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const sink = new Sink(TOTAL);
    ws.on('message', sink.push);
    assert.equal(await withTimeout(sink.done, 20_000, 'all flooded bytes'), await sent);
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesUp, TOTAL);
    assert.ok(s.peakBootstrapBytes <= LIMIT, `held ${s.peakBootstrapBytes} > bound ${LIMIT}`);
    assert.equal(s.peakBootstrapBytes, LIMIT, 'the queue filled up to the bound');
  });

  it('holds cloud bytes that arrive before the target accepted, and delivers them in order', { timeout: 20_000 }, async (t) => {
    // The TCP leg cannot connect before its name is resolved: hold the lookup of 'localhost' (the engine
    // runs on this thread with threads: 0) until the cloud's bytes are known to sit in the queue.
    const resolveName = holdLocalhostLookup(t);
    const received: Buffer[] = [];
    const r = await rig(t, { threads: 0, onTarget: (s) => s.on('data', (d: Buffer) => received.push(d)) });
    const h = r.open({ host: 'localhost' });
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const expected = Array.from({ length: 100 }, (_, i) => `m${String(i).padStart(3, '0')};`).join('');
    // Two batches, the second sent once the first is held: at least two cloud reads, into the one read
    // buffer of the thread, so what the queue holds must be a copy of each.
    for (let i = 0; i < 100; i++) {
      ws.send(Buffer.from(`m${String(i).padStart(3, '0')};`));
      if (i === 49) await waitFor(() => r.engine.stats().bytesDown === expected.length / 2, 5000, 'the first batch held by the engine');
    }
    await waitFor(() => r.engine.stats().bytesDown === expected.length, 5000, 'the cloud bytes held by the engine');
    resolveName();
    await withTimeout(h.established, 5000, 'established');
    await waitFor(() => Buffer.concat(received).length >= expected.length, 5000, 'the held bytes at the target');
    assert.equal(Buffer.concat(received).toString(), expected);
    ws.close();
    assert.equal((await withTimeout(h.closed, 5000, 'closed')).peakBootstrapBytes, expected.length, 'the WebSocket side of the queue held them all');
  });

  it('holds a flood from the cloud up to the bound, pauses it, and loses nothing once the target accepts', { timeout: 30_000 }, async (t) => {
    const TOTAL = 4 * 1024 * 1024;
    const LIMIT = 100 * 1024;
    // The target cannot be connected before 'localhost' is resolved: the lookup is held (as above).
    const resolveName = holdLocalhostLookup(t);
    const received: Buffer[] = [];
    let got = 0;
    let all!: () => void;
    const allIn = new Promise<void>((res) => (all = res));
    const r = await rig(t, {
      threads: 0,
      onTarget: (s) =>
        s.on('data', (d: Buffer) => {
          received.push(d);
          got += d.length;
          if (got >= TOTAL) all();
        }),
    });
    const h = r.open({ host: 'localhost', bootstrapLimit: LIMIT });
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    const payload = Buffer.alloc(TOTAL);
    for (let i = 0; i < TOTAL; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
    for (let off = 0; off < TOTAL; off += 16 * 1024) ws.send(payload.subarray(off, off + 16 * 1024));
    // The queue is full (every cloud read is cut to the room left), and the cloud is paused.
    await waitFor(() => r.engine.stats().bytesDown >= LIMIT, 10_000, 'a full bootstrap queue');
    resolveName();
    await withTimeout(h.established, 5000, 'established');
    await withTimeout(allIn, 20_000, 'all flooded bytes at the target');
    assert.ok(Buffer.concat(received).equals(payload), 'bytes in order and intact');
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesDown, TOTAL);
    assert.ok(s.peakBootstrapBytes <= LIMIT, `held ${s.peakBootstrapBytes} > bound ${LIMIT}`);
  });
});
