import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { createEngine, maskKind } from 'c8y-tunnel';
import { expectedMaskKind } from '../helpers/mask.js';
import { cloudLikeWss, closeServer, listen0, withTimeout } from '../helpers/net.js';
import { Sink, pumpTcp, pumpWs } from '../helpers/stream.js';

const SIZE = 64 * 1024 * 1024;

async function duplex(threads: number): Promise<void> {
  // Target: sends SIZE bytes (A) and hashes what it receives (B).
  const targetSink = new Sink(SIZE);
  let targetSent: Promise<string> = Promise.resolve('');
  const sockets = new Set<net.Socket>();
  const target = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('data', targetSink.push);
    targetSent = pumpTcp(s, SIZE, 11);
  });
  const tport = await listen0(target);
  const cloud = await cloudLikeWss();
  const engine = createEngine({ threads });
  try {
    const h = engine.open({ host: '127.0.0.1', port: tport, url: cloud.url() });
    const ws = await withTimeout(cloud.next(), 5000, 'device WebSocket');
    const cloudSink = new Sink(SIZE);
    ws.on('message', cloudSink.push);
    await withTimeout(h.established, 5000, 'established');
    const cloudSent = await pumpWs(ws, SIZE, 22);
    const [gotAtTarget, gotAtCloud] = await withTimeout(Promise.all([targetSink.done, cloudSink.done]), 60_000, '64 MiB each way');
    assert.equal(gotAtTarget, cloudSent, 'cloud to target bytes differ');
    assert.equal(gotAtCloud, await targetSent, 'target to cloud bytes differ');
    ws.close(1000);
    const s = await withTimeout(h.closed, 10_000, 'closed');
    assert.equal(s.bytesUp, SIZE);
    assert.equal(s.bytesDown, SIZE);
    assert.equal(s.endedBy, 'ws');
    assert.equal(s.code, 'TUN_END_WS_CLOSED');
    assert.equal(s.established, true);
    if (threads === 0) assert.equal(s.threadId, 0);
    else assert.ok(s.threadId > 0, 'carried by a worker thread');
    const st = engine.stats();
    assert.equal(st.bytesUp, SIZE);
    assert.equal(st.bytesDown, SIZE);
    assert.equal(st.open, 0);
    // Where bufferutil's binding exists (linux-x64 has a prebuild) the engine must use it; where it does
    // not (linux-arm64), bufferutil's JavaScript fallback loads and must not be reported as the addon.
    const kind = expectedMaskKind();
    assert.equal(maskKind(), kind, 'the mask the kernel reports');
    assert.equal(st.bufferutil, kind === 'native', `bufferutil reported ${st.bufferutil}, expected mask ${kind}`);
    assert.equal(st.mask, kind);
  } finally {
    await engine.close({ graceMs: 1000 });
    await cloud.close();
    await closeServer(target, sockets);
  }
}

describe('64 MiB both ways through one tunnel, sha256 equal', () => {
  it('on a worker thread', { timeout: 90_000 }, () => duplex(1));
  it('on the main thread (threads: 0)', { timeout: 90_000 }, () => duplex(0));
});
