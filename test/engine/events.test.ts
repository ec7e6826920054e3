// The tunnel diagnostics channels: open, up, fail and end of real tunnels on both hosts, published on the
// main thread, and nothing published (no message built) while a channel has no subscriber.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import net from 'node:net';
import { describe, it } from 'node:test';
import { threadId as mainThreadId } from 'node:worker_threads';
import { createEngine, TUNNEL_CHANNELS, type Engine, type TunnelEndEvent, type TunnelFailEvent, type TunnelOpenEvent, type TunnelUpEvent } from 'c8y-tunnel';
import { tunnelChannels } from '#internal/engine/events';
import { closeServer, cloudLikeWss, echoServer, listen0, withTimeout } from '../helpers/net.js';

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen0(s);
  await closeServer(s);
  return port;
}

type Seen = { channel: keyof typeof TUNNEL_CHANNELS; msg: TunnelOpenEvent | TunnelUpEvent | TunnelFailEvent | TunnelEndEvent; thread: number };

/** Subscribes to every tunnel channel; keeps the messages of `engine` (and the thread each came on). */
function watch(engine: Engine): { seen: Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const subs = (Object.keys(TUNNEL_CHANNELS) as Array<keyof typeof TUNNEL_CHANNELS>).map((channel) => {
    const fn = (m: unknown): void => {
      const msg = m as Seen['msg'];
      if (msg.engine === engine) seen.push({ channel, msg, thread: mainThreadId });
    };
    diagnostics.subscribe(TUNNEL_CHANNELS[channel], fn);
    return () => diagnostics.unsubscribe(TUNNEL_CHANNELS[channel], fn);
  });
  return { seen, stop: () => subs.forEach((u) => u()) };
}

async function lifecycle(threads: number): Promise<void> {
  const echo = await echoServer();
  const cloud = await cloudLikeWss();
  const engine = createEngine({ threads });
  const w = watch(engine);
  try {
    const h = engine.open({ host: '127.0.0.1', port: echo.port, url: cloud.url(), label: 'op-1' });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    await withTimeout(h.established, 5000, 'established');
    const back = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(d)));
    ws.send(Buffer.from('ping'));
    assert.equal(String(await withTimeout(back, 5000, 'echo')), 'ping');
    h.close('done');
    const summary = await withTimeout(h.closed, 10_000, 'closed');
    assert.deepEqual(w.seen.map((s) => s.channel), ['open', 'up', 'end']);
    const [open, up, end] = w.seen.map((s) => s.msg) as [TunnelOpenEvent, TunnelUpEvent, TunnelEndEvent];
    assert.deepEqual({ id: open.id, label: open.label, host: open.host, port: open.port }, { id: h.id, label: 'op-1', host: '127.0.0.1', port: echo.port });
    assert.equal(up.id, h.id);
    assert.equal(up.label, 'op-1');
    assert.equal(up.threadId, h.threadId);
    assert.ok(up.setupMs > 0 && up.setupMs < 5000, `setupMs ${up.setupMs}`);
    assert.equal(end.summary, summary, 'end carries the very summary `closed` resolves to');
    assert.equal(end.threadId, summary.threadId);
    assert.equal(end.summary.code, 'TUN_END_LOCAL');
    assert.equal(end.summary.bytesUp, 4);
    // Published on the main thread, also when a worker carried the tunnel.
    assert.ok(w.seen.every((s) => s.thread === mainThreadId));
    if (threads > 0) assert.notEqual(h.threadId, mainThreadId);
  } finally {
    w.stop();
    await engine.close({ graceMs: 1000 });
    await cloud.close();
    await echo.close();
  }
}

describe('tunnel diagnostics channels', () => {
  it('main-thread host: open, up, end of a real tunnel', { timeout: 30_000 }, () => lifecycle(0));
  it('Piscina host: open, up, end, published on the main thread', { timeout: 30_000 }, () => lifecycle(1));

  it('a refused target: open, fail (the error `established` rejects with), end', { timeout: 30_000 }, async () => {
    const cloud = await cloudLikeWss();
    const engine = createEngine({ threads: 1 });
    const w = watch(engine);
    try {
      const h = engine.open({ host: '127.0.0.1', port: await closedPort(), url: cloud.url() });
      const err = await h.established.then(
        () => assert.fail('established'),
        (e: unknown) => e,
      );
      await withTimeout(h.closed, 10_000, 'closed');
      assert.deepEqual(w.seen.map((s) => s.channel), ['open', 'fail', 'end']);
      const fail = w.seen[1]!.msg as TunnelFailEvent;
      assert.equal(fail.error, err);
      assert.equal(fail.error.code, 'TUN_ERR_TCP_REFUSED');
      assert.equal((w.seen[2]!.msg as TunnelEndEvent).summary.code, 'TUN_ERR_TCP_REFUSED');
    } finally {
      w.stop();
      await engine.close({ graceMs: 1000 });
      await cloud.close();
    }
  });

  it('a refused spec: open, fail, end in the same turn as open()', { timeout: 10_000 }, async () => {
    const engine = createEngine({ threads: 0 });
    const w = watch(engine);
    try {
      engine.open({ host: '127.0.0.1', port: 0, url: 'ws://127.0.0.1:1/' });
      assert.deepEqual(w.seen.map((s) => s.channel), ['open', 'fail', 'end']);
      assert.equal((w.seen[1]!.msg as TunnelFailEvent).error.code, 'TUN_ERR_INVALID_SPEC');
    } finally {
      w.stop();
      await engine.close({ graceMs: 0 });
    }
  });

  it('with no subscriber, a tunnel publishes nothing (no message is built)', { timeout: 30_000 }, async () => {
    const echo = await echoServer();
    const cloud = await cloudLikeWss();
    const engine = createEngine({ threads: 0 });
    const published: string[] = [];
    // Spy on publish() itself: every message object is built as its argument, so no call means no message.
    const originals = Object.entries(tunnelChannels).map(([name, ch]) => {
      const publish = ch.publish.bind(ch);
      ch.publish = (m: unknown) => {
        published.push(name);
        publish(m);
      };
      return () => delete (ch as { publish?: unknown }).publish;
    });
    try {
      for (const ch of Object.values(tunnelChannels)) assert.equal(ch.hasSubscribers, false);
      const h = engine.open({ host: '127.0.0.1', port: echo.port, url: cloud.url() });
      await withTimeout(cloud.next(), 5000, 'device WebSocket');
      await withTimeout(h.established, 5000, 'established');
      h.close('done');
      await withTimeout(h.closed, 10_000, 'closed');
      assert.deepEqual(published, []);
      // The spy does see messages once someone listens (the test can fail).
      const fn = (): void => {};
      diagnostics.subscribe(TUNNEL_CHANNELS.end, fn);
      const h2 = engine.open({ host: '127.0.0.1', port: echo.port, url: cloud.url() });
      await withTimeout(cloud.next(), 5000, 'device WebSocket');
      h2.close('done');
      await withTimeout(h2.closed, 10_000, 'closed');
      diagnostics.unsubscribe(TUNNEL_CHANNELS.end, fn);
      assert.deepEqual(published, ['end']);
    } finally {
      originals.forEach((undo) => undo());
      await engine.close({ graceMs: 1000 });
      await cloud.close();
      await echo.close();
    }
  });
});
