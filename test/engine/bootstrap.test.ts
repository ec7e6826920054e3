import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withTimeout } from '../helpers/net.js';
import { gateUpgrades, rig } from '../helpers/rig.js';
import { Sink, pumpTcp } from '../helpers/stream.js';

const nextMessage = (ws: import('ws').WebSocket): Promise<Buffer> => withTimeout(new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d))), 5000, 'message');

describe('bootstrap queue', () => {
  it('delivers a banner the target wrote before the WebSocket was open, first and in order', { timeout: 20_000 }, async (t) => {
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian\r\n');
    const r = await rig(t, {
      onTarget: (s) => {
        s.write(banner);
        s.on('data', (d) => s.write(d));
      },
    });
    // The upgrade is answered only after the banner has surely arrived at the agent.
    const release = gateUpgrades(r);
    const h = r.open();
    await new Promise((res) => setTimeout(res, 200));
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
    const r = await rig(t, { onTarget: (s) => (sent = pumpTcp(s, TOTAL, 3)) });
    const release = gateUpgrades(r);
    const h = r.open({ bootstrapLimit: LIMIT });
    // Let the target flood for a while with the upgrade unanswered.
    await new Promise((res) => setTimeout(res, 500));
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
    const received: Buffer[] = [];
    const r = await rig(t, { threads: 0, onTarget: (s) => s.on('data', (d: Buffer) => received.push(d)) });
    const h = r.open();
    const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
    // Loopback TCP connects within microseconds, so whether these bytes beat the TCP leg depends on timing;
    // when they do, the WebSocket side of the queue carries them. Either way the order must hold.
    for (let i = 0; i < 100; i++) ws.send(Buffer.from(`m${String(i).padStart(3, '0')};`));
    await withTimeout(h.established, 5000, 'established');
    const expected = Array.from({ length: 100 }, (_, i) => `m${String(i).padStart(3, '0')};`).join('');
    const deadline = Date.now() + 5000;
    while (Buffer.concat(received).length < expected.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    assert.equal(Buffer.concat(received).toString(), expected);
  });
});
