/**
 * The five engine defects of issue 10, each as a test that fails on the engine before the data-plane
 * rewrite. Written against the public API only (createEngine, open, stats, close, the handle's promises),
 * so that they hold for any engine.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { WebSocket } from 'ws';
import { createEngine, TunnelError, type TunnelSummary } from 'c8y-tunnel';
import { connectProxy } from '../helpers/connect-proxy.js';
import { cloudLikeWss, closeServer, echoServer, listen0, withTimeout } from '../helpers/net.js';
import { rig, type Rig } from '../helpers/engine-rig.js';
import { chunkAt } from '../helpers/stream.js';
import { tlsFixture, wssWithCert } from '../helpers/tls.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- 1. shutdown memory ----

/** The tunnel's high-water mark in these tests. */
const HWM = 256 * KiB;
/** The largest single socket read the engine may do (the big shared reads stay within 1 MiB). */
const ONE_READ = 1 * MiB;
/** What the cloud offers: far more than the bound, so an engine that queues it all fails plainly. */
const FLOOD = 48 * MiB;
/** The tunnel's close grace. */
const GRACE_MS = 2000;

/**
 * The cloud sends 64 KiB messages as fast as the tunnel takes them (its own send queue kept near 1 MiB)
 * until `total` or until it sees the agent's close (readyState leaves OPEN). `stalled` resolves the first
 * time the cloud has to wait: the kernel's buffers are full, so the tunnel has stopped reading the cloud.
 */
function flood(ws: WebSocket, total: number): { stalled: Promise<void>; done: Promise<number> } {
  let sent = 0;
  let i = 0;
  let onStall!: () => void;
  const stalled = new Promise<void>((r) => (onStall = r));
  const done = new Promise<number>((resolve) => {
    const go = (): void => {
      while (sent < total && ws.readyState === ws.OPEN) {
        const c = chunkAt(i++, 64 * KiB, 3);
        sent += c.length;
        if (ws.bufferedAmount > MiB) {
          onStall();
          ws.send(c, () => go());
          return;
        }
        ws.send(c);
      }
      resolve(sent);
    };
    go();
  });
  return { stalled, done };
}

type How = 'engine.close' | 'handle.close' | 'idle timeout';

async function closeWhileBackpressured(t: TestContext, threads: number, how: How): Promise<void> {
  // The target never reads: everything the tunnel accepts from the cloud after this queues toward it.
  const r: Rig = await rig(t, { threads, onTarget: (s) => s.pause() });
  const h = r.open({ highWaterMark: HWM, closeGraceMs: GRACE_MS, idleTimeoutMs: how === 'idle timeout' ? 1000 : 0 });
  const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
  await withTimeout(h.established, 5000, 'established');
  const cloudSawClose = new Promise<number>((res) => ws.on('close', (code) => res(code)));
  const f = flood(ws, FLOOD);
  await withTimeout(f.stalled, 10_000, 'the tunnel to stop reading the cloud (backpressure)');
  if (how === 'engine.close') await withTimeout(r.engine.close({ graceMs: GRACE_MS }), 10_000, 'engine.close');
  else if (how === 'handle.close') h.close('operator');
  // The idle timeout fires by itself: a backpressured tunnel moves no byte.
  const s: TunnelSummary = await withTimeout(h.closed, 15_000, 'summary');
  const sent = await withTimeout(f.done, 5000, 'the cloud to stop sending');
  const peak = s.peakBufferedDown ?? -1;
  assert.ok(peak >= 0, 'the summary reports the peak queued toward the target');
  assert.ok(
    peak <= HWM + ONE_READ,
    `${how}: the tunnel queued ${(peak / MiB).toFixed(1)} MiB toward a target that does not read (bound: high-water mark ${HWM / KiB} KiB + one read ${ONE_READ / KiB} KiB)`,
  );
  assert.equal(s.wsCloseCode, 1000, `${how}: the tunnel read the cloud's close reply (not ended by its own terminate at the grace)`);
  assert.equal(await withTimeout(cloudSawClose, 5000, 'cloud close'), 1000, `${how}: the close handshake completed on the cloud's side`);
  assert.equal(s.bytesDown + (s.bytesDiscarded ?? 0), sent, `${how}: every byte the cloud sent before its close is accounted for`);
}

describe('defect 1: shutdown keeps the bound toward a backpressured target', () => {
  for (const how of ['engine.close', 'handle.close', 'idle timeout'] as const) {
    it(`${how} while the target stops reading and the cloud keeps sending`, { timeout: 40_000 }, (t) => closeWhileBackpressured(t, 1, how));
  }
  it('handle.close on the main thread (threads: 0)', { timeout: 40_000 }, (t) => closeWhileBackpressured(t, 0, 'handle.close'));
});

// ---- 2. engine.close() is idempotent ----

describe('defect 2: a second engine.close() waits for the first', () => {
  for (const threads of [1, 0]) {
    it(`resolves only once the engine is closed, with the same promise (threads ${threads})`, { timeout: 20_000 }, async (t) => {
      // Neither end reads: only the grace can end the tunnel.
      const r = await rig(t, { threads, onTarget: (s) => s.pause() });
      const h = r.open();
      const ws = await withTimeout(r.cloud.next(), 5000, 'device WebSocket');
      ws.pause();
      await withTimeout(h.established, 5000, 'established');
      let ended = false;
      void h.closed.then(() => (ended = true));
      const first = r.engine.close({ graceMs: 1000 });
      const second = r.engine.close({ graceMs: 1000 });
      await withTimeout(second, 10_000, 'second close');
      assert.ok(ended, 'the second close() resolved while a tunnel was still open');
      assert.equal(r.engine.stats().open, 0);
      await withTimeout(first, 10_000, 'first close');
      assert.equal(second, first, 'both calls return the one close promise');
    });
  }
});

// ---- 3. no invented close code ----

describe('defect 3: a set-up failure reports no WebSocket close code the cloud never sent', () => {
  it('the cloud refuses the upgrade (HTTP 403)', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    const cloud = await cloudLikeWss({ verify: () => 403 });
    const e = createEngine({ threads: 1 });
    t.after(async () => {
      await e.close({ graceMs: 200 });
      await cloud.close();
      await echo.close();
    });
    const s = await withTimeout(e.open({ host: '127.0.0.1', port: echo.port, url: cloud.url() }).closed, 10_000, 'summary');
    assert.equal(s.code, 'TUN_ERR_WS_HTTP_STATUS');
    assert.equal(s.wsCloseCode, undefined, `reported wsCloseCode ${s.wsCloseCode}`);
  });

  it('the target refuses while the cloud accepts', { timeout: 20_000 }, async (t) => {
    const dead = net.createServer();
    const port = await listen0(dead);
    await closeServer(dead);
    const cloud = await cloudLikeWss();
    const e = createEngine({ threads: 1 });
    t.after(async () => {
      await e.close({ graceMs: 200 });
      await cloud.close();
    });
    const s = await withTimeout(e.open({ host: '127.0.0.1', port, url: cloud.url() }).closed, 10_000, 'summary');
    assert.equal(s.code, 'TUN_ERR_TCP_REFUSED');
    assert.equal(s.wsCloseCode, undefined, `reported wsCloseCode ${s.wsCloseCode}`);
  });
});

// ---- 4. engine.close() during set-up ----

describe("defect 4: engine.close() during set-up ends the tunnel with endedBy 'engine'", () => {
  for (const threads of [1, 0]) {
    it(`the cloud holds the upgrade when the engine closes (threads ${threads})`, { timeout: 20_000 }, async (t) => {
      const r = await rig(t, { threads, echo: true });
      let release!: () => void;
      const gate = new Promise<void>((res) => (release = res));
      let arrived!: () => void;
      const upgradeSeen = new Promise<void>((res) => (arrived = res));
      r.cloud.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean) => void) => {
        arrived();
        void gate.then(() => cb(true));
      };
      const h = r.open();
      let s: TunnelSummary;
      try {
        await withTimeout(upgradeSeen, 5000, 'the upgrade request at the cloud');
        await withTimeout(r.engine.close({ graceMs: 500 }), 5000, 'engine.close');
        s = await withTimeout(h.closed, 5000, 'summary');
      } finally {
        // The cloud's server cannot close while it holds an upgrade (it no longer reads that socket).
        release();
      }
      assert.equal(s.endedBy, 'engine', `endedBy ${s.endedBy} (${s.code})`);
      assert.equal(s.code, 'TUN_ERR_ENGINE_CLOSED');
      // What the agent maps to "agent is shutting down".
      await assert.rejects(h.established, (err: unknown) => err instanceof TunnelError && err.code === 'TUN_ERR_ENGINE_CLOSED');
    });
  }
});

// ---- 5. one TLS classification ----

const fixture = (f: string): string => readFileSync(tlsFixture(f), 'utf8');

describe('defect 5: an untrusted cloud certificate is always TUN_ERR_WS_TLS', () => {
  for (const via of ['direct', 'CONNECT proxy'] as const) {
    it(`a certificate not valid for a server (${via})`, { timeout: 20_000 }, async (t) => {
      const echo = await echoServer();
      // From the test CA but for TLS clients only (INVALID_PURPOSE): untrusted as a server certificate,
      // with a verification code outside the common few.
      const srv = await wssWithCert('client-only.pem', 'client-only.key');
      const proxy = await connectProxy();
      const e = createEngine({ threads: 1 });
      t.after(async () => {
        await e.close({ graceMs: 200 });
        await proxy.close();
        await srv.close();
        await echo.close();
      });
      const h = e.open({
        host: '127.0.0.1',
        port: echo.port,
        url: `wss://localhost:${srv.port}/service/remoteaccess/device/k`,
        tls: { ca: [fixture('ca.pem')] },
        ...(via === 'CONNECT proxy' ? { proxy: proxy.url } : {}),
      });
      const s = await withTimeout(h.closed, 10_000, 'summary');
      assert.equal(s.established, false);
      assert.equal(s.code, 'TUN_ERR_WS_TLS', `classified as ${s.code}: ${s.message}`);
      await assert.rejects(h.established, (err: unknown) => err instanceof TunnelError && err.code === 'TUN_ERR_WS_TLS');
    });
  }
});
