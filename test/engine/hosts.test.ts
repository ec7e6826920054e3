// Both engine hosts (the main thread with threads: 0, the Piscina pool) behind one interface: the engine's
// view of an open tunnel (live byte counts, the thread that carries it) is the same on either.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine } from 'c8y-tunnel';
import { cloudLikeWss, closeServer, listen0, waitFor, withTimeout } from '../helpers/net.js';

const N = 100_000;

async function liveCounts(threads: number): Promise<void> {
  const sockets = new Set<net.Socket>();
  const target = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.write(Buffer.alloc(N, 7));
  });
  const tport = await listen0(target);
  const cloud = await cloudLikeWss();
  const engine = createEngine({ threads, statsIntervalMs: 50 });
  try {
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url() });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    let atCloud = 0;
    ws.on('message', (d: Buffer) => (atCloud += d.length));
    await withTimeout(h.established, 5000, 'established');
    await waitFor(() => atCloud === N, 10_000, 'the target bytes at the cloud');
    ws.send(Buffer.alloc(10, 1));
    // Still open: the counts come from the host (read from the tunnel in-process, or reported by the worker).
    await waitFor(() => engine.stats().bytesUp === N && engine.stats().bytesDown === 10, 10_000, 'live counts in stats()');
    const st = engine.stats();
    assert.equal(st.open, 1);
    assert.ok(h.threadId !== undefined, 'the handle knows its thread');
    assert.equal(threads === 0, h.threadId === 0, `thread ${h.threadId} for threads: ${threads}`);
    assert.deepEqual(st.perWorker, { [String(h.threadId)]: 1 });
    h.close('done');
    const s = await withTimeout(h.closed, 10_000, 'closed');
    assert.equal(s.code, 'TUN_END_LOCAL');
    assert.equal(s.bytesUp, N);
    assert.equal(s.bytesDown, 10);
    const after = engine.stats();
    assert.equal(after.bytesUp, N, 'the summary does not count the live bytes twice');
    assert.equal(after.bytesDown, 10);
    assert.equal(after.open, 0);
  } finally {
    await engine.close({ graceMs: 1000 });
    await cloud.close();
    await closeServer(target, sockets);
  }
}

describe('engine hosts', () => {
  it('main-thread host: stats() counts an open tunnel\'s bytes, once', { timeout: 30_000 }, () => liveCounts(0));
  it('Piscina host: stats() counts an open tunnel\'s bytes, once', { timeout: 30_000 }, () => liveCounts(1));
});
