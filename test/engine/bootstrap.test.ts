import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine } from 'c8y-tunnel';
import { cloudLikeWss, closeServer, listen0, withTimeout } from '../helpers/net.js';
import { Sink, pumpTcp } from '../helpers/stream.js';

describe('bootstrap queue', () => {
  it('delivers a banner the target wrote before the WebSocket was open, first and in order', { timeout: 20_000 }, async (t) => {
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian\r\n');
    const target = net.createServer((s) => {
      s.on('error', () => {});
      s.write(banner);
      s.on('data', (d) => s.write(d));
    });
    const tport = await listen0(target);
    // The upgrade is answered only after the banner has surely arrived at the agent.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const cloud = await cloudLikeWss({});
    cloud.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean) => void) => void gate.then(() => cb(true));
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 500 });
      await cloud.close();
      await closeServer(target);
    });
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url() });
    await new Promise((r) => setTimeout(r, 200));
    release();
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    const first = await withTimeout(new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d))), 5000, 'banner');
    assert.equal(first.toString(), banner.toString());
    await withTimeout(h.established, 5000, 'established');
    ws.send(Buffer.from('hello'));
    const echo = await withTimeout(new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d))), 5000, 'echo');
    assert.equal(echo.toString(), 'hello');
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.peakBootstrapBytes, banner.length);
  });

  it('holds a flood from the target up to the bound, pauses it, and loses nothing once the WebSocket opens', { timeout: 30_000 }, async (t) => {
    const TOTAL = 8 * 1024 * 1024;
    const LIMIT = 100 * 1024; // not a multiple of the read size, so the split path runs
    let sent: Promise<string> = Promise.resolve('');
    const target = net.createServer((s) => {
      s.on('error', () => {});
      sent = pumpTcp(s, TOTAL, 3);
    });
    const tport = await listen0(target);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const cloud = await cloudLikeWss({});
    cloud.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean) => void) => void gate.then(() => cb(true));
    const engine = createEngine({ threads: 1 });
    t.after(async () => {
      await engine.close({ graceMs: 500 });
      await cloud.close();
      await closeServer(target);
    });
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url(), bootstrapLimit: LIMIT });
    // Let the target flood for a while with the upgrade unanswered.
    await new Promise((r) => setTimeout(r, 500));
    release();
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    const sink = new Sink(TOTAL);
    ws.on('message', sink.push);
    const got = await withTimeout(sink.done, 20_000, 'all flooded bytes');
    assert.equal(got, await sent);
    ws.close();
    const s = await withTimeout(h.closed, 5000, 'closed');
    assert.equal(s.bytesUp, TOTAL);
    assert.ok(s.peakBootstrapBytes <= LIMIT, `held ${s.peakBootstrapBytes} > bound ${LIMIT}`);
    assert.equal(s.peakBootstrapBytes, LIMIT, 'the queue filled up to the bound');
  });

  it('holds cloud bytes that arrive before the target accepted, and delivers them in order', { timeout: 20_000 }, async (t) => {
    // Loopback TCP connects within microseconds, so whether these bytes beat the TCP leg depends on timing;
    // when they do, the WebSocket side of the queue carries them. Either way the order must hold.
    const received: Buffer[] = [];
    const target = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => received.push(d));
    });
    const tport = await listen0(target);
    const cloud = await cloudLikeWss();
    const engine = createEngine({ threads: 0 });
    t.after(async () => {
      await engine.close({ graceMs: 500 });
      await cloud.close();
      await closeServer(target);
    });
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url() });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    // Sent as soon as the cloud side is open: may arrive before or after the TCP leg is up.
    for (let i = 0; i < 100; i++) ws.send(Buffer.from(`m${String(i).padStart(3, '0')};`));
    await withTimeout(h.established, 5000, 'established');
    const expected = Array.from({ length: 100 }, (_, i) => `m${String(i).padStart(3, '0')};`).join('');
    const deadline = Date.now() + 5000;
    while (Buffer.concat(received).length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(Buffer.concat(received).toString(), expected);
  });
});
