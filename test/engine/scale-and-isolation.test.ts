import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import type { TunnelHandle } from 'c8y-tunnel';
import { crashWorker } from '#internal/engine/engine';
import { sha256, withTimeout } from '../helpers/net.js';
import { rig } from '../helpers/engine-rig.js';
import { chunkAt } from '../helpers/stream.js';

/** Sends `payload` on the cloud side and resolves once the echo came back whole. */
function echoOnce(ws: WebSocket, payload: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const onMsg = (d: Buffer): void => {
      parts.push(d);
      n += d.length;
      if (n >= payload.length) {
        ws.off('message', onMsg);
        resolve(sha256(parts));
      }
    };
    ws.on('message', onMsg);
    ws.on('close', () => reject(new Error('closed before the echo came back')));
    ws.send(payload);
  });
}

describe('many tunnels', () => {
  it('1,000 concurrent tunnels over 2 workers each echo 64 KiB, and stats() adds up', { timeout: 60_000 }, async (t) => {
    const N = 1000;
    const { engine, cloud, open: openTunnel } = await rig(t, { echo: true, engine: { threads: 2, tunnelsPerWorker: 600 } });
    const byPath = new Map<string, WebSocket>();
    cloud.wss.on('connection', (ws, req) => byPath.set(req.url!, ws));
    const handles: TunnelHandle[] = [];
    for (let i = 0; i < N; i++) {
      handles.push(openTunnel({ url: cloud.url(`/service/remoteaccess/device/key-${i}`), label: `op-${i}` }));
    }
    await withTimeout(Promise.all(handles.map((h) => h.established)), 30_000, `${N} tunnels established`);
    const open = engine.stats();
    assert.equal(open.open, N);
    assert.equal(open.established, N);
    const workers = Object.keys(open.perWorker);
    assert.equal(workers.length, 2, `tunnels spread over 2 workers: ${JSON.stringify(open.perWorker)}`);
    assert.equal(Object.values(open.perWorker).reduce((a, b) => a + b, 0), N);
    const results = await withTimeout(
      Promise.all(
        Array.from({ length: N }, (_, i) => {
          const payload = chunkAt(i, 64 * 1024, 4);
          return echoOnce(byPath.get(`/service/remoteaccess/device/key-${i}`)!, payload).then((h) => assert.equal(h, sha256(payload)));
        }),
      ),
      30_000,
      'all echoes',
    );
    assert.equal(results.length, N);
    for (const ws of byPath.values()) ws.close();
    const summaries = await withTimeout(Promise.all(handles.map((h) => h.closed)), 20_000, 'all closed');
    const st = engine.stats();
    assert.equal(st.open, 0);
    assert.equal(st.closed, N);
    assert.equal(st.bytesUp, summaries.reduce((a, s) => a + s.bytesUp, 0));
    assert.equal(st.bytesUp, N * 64 * 1024);
    assert.equal(st.bytesDown, N * 64 * 1024);
    assert.equal(st.endsByCode.TUN_END_WS_CLOSED, N);
    assert.equal(new Set(summaries.map((s) => s.threadId)).size, 2);
  });
});

describe('containment', () => {
  it('a worker that dies ends only its own tunnels; the pool replaces it', { timeout: 30_000 }, async (t) => {
    const { engine, cloud, open: openTunnel } = await rig(t, { echo: true, engine: { threads: 2 } });
    const byPath = new Map<string, WebSocket>();
    cloud.wss.on('connection', (ws, req) => byPath.set(req.url!, ws));
    const handles = Array.from({ length: 20 }, (_, i) => openTunnel({ url: cloud.url(`/k/${i}`) }));
    await withTimeout(Promise.all(handles.map((h) => h.established)), 10_000, 'established');
    const threads = [...new Set(handles.map((h) => h.threadId!))];
    assert.equal(threads.length, 2);
    const [victim, survivor] = threads as [number, number];
    assert.ok(crashWorker(engine, victim));
    const victims = handles.filter((h) => h.threadId === victim);
    const survivors = handles.filter((h) => h.threadId === survivor);
    const dead = await withTimeout(Promise.all(victims.map((h) => h.closed)), 10_000, 'victims end');
    for (const s of dead) {
      assert.equal(s.code, 'TUN_ERR_WORKER_EXIT');
      assert.equal(s.endedBy, 'worker');
    }
    // The other worker's tunnels still carry bytes.
    for (const h of survivors) {
      const i = handles.indexOf(h);
      const payload = chunkAt(i, 4096, 1);
      assert.equal(await withTimeout(echoOnce(byPath.get(`/k/${i}`)!, payload), 5000, 'survivor echo'), sha256(payload));
    }
    // The pool heals: a replacement worker starts and carries new tunnels.
    let replacement: number | undefined;
    for (let i = 0; i < 50 && replacement === undefined; i++) {
      const h = openTunnel({ url: cloud.url(`/fresh/${i}`) });
      await withTimeout(h.established, 5000, 'fresh tunnel');
      if (h.threadId !== victim && h.threadId !== survivor) replacement = h.threadId;
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(replacement !== undefined, 'a replacement worker carried a new tunnel');
    const st = engine.stats();
    assert.equal(st.workerDeaths, 1);
    assert.equal(st.workersStarted, 3);
    assert.equal(st.failuresByCode.TUN_ERR_WORKER_EXIT, victims.length);
  });
});

describe('capacity', () => {
  it('a tunnel beyond threads x tunnelsPerWorker is refused at once with TUN_ERR_CAPACITY, never queued', { timeout: 20_000 }, async (t) => {
    const { cloud, open: openTunnel } = await rig(t, { echo: true, engine: { threads: 1, tunnelsPerWorker: 2 } });
    const open = [0, 1].map((i) => openTunnel({ url: cloud.url(`/cap/${i}`) }));
    await withTimeout(Promise.all(open.map((h) => h.established)), 5000, 'two tunnels');
    const third = openTunnel({ url: cloud.url('/cap/2') });
    await assert.rejects(withTimeout(third.established, 2000, 'refusal'), { code: 'TUN_ERR_CAPACITY' });
    assert.equal((await third.closed).code, 'TUN_ERR_CAPACITY');
    // A slot that frees up is usable again.
    open[0]!.close();
    await open[0]!.closed;
    const again = openTunnel({ url: cloud.url('/cap/3') });
    await withTimeout(again.established, 5000, 'a freed slot');
  });
});
