/**
 * Fault 11: SIGTERM while sessions are busy. The agent process gets SIGTERM while three sessions move
 * bytes both ways; it must close them within --grace-ms and exit 0. Draining means: each side holds an
 * exact prefix of what the other sent (nothing corrupted or reordered), every byte the agent forwarded
 * before its close arrived, the client leg closes with 1000 and the target gets EOF (not a reset).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startSim } from 'c8y-tunnel/sim';
import { closeServer, listen0, waitFor, withTimeout } from '../helpers/net.js';
import { chunkAt } from '../helpers/stream.js';
import { statuses } from '../helpers/agent-rig.js';
import { assertNoSecrets, JWT_PATTERN } from '../helpers/fault-rig.js';
import { exitWithin, simEnv, spawnAgent } from '../helpers/agent-proc.js';

const CHUNK = 16 * 1024;

/** sha256 of the first `n` bytes of the chunkAt(·, CHUNK, seed) stream. */
function prefixHash(n: number, seed: number): string {
  const h = createHash('sha256');
  for (let i = 0, left = n; left > 0; i++) {
    const c = chunkAt(i, CHUNK, seed);
    h.update(left >= c.length ? c : c.subarray(0, left));
    left -= c.length;
  }
  return h.digest('hex');
}

/** One side's view: what it received (hashed) and whether it saw an orderly end. */
class Side {
  readonly hash = createHash('sha256');
  received = 0;
  push = (d: Buffer): void => {
    this.hash.update(d);
    this.received += d.length;
  };
}

describe('faults: SIGTERM', () => {
  it('11. SIGTERM while three sessions are busy: they drain and close within the grace, exit 0, nothing corrupted', { timeout: 30_000 }, async (t) => {
    const sim = await startSim({ quiet: true, password: 'Adm1n-pw-7f3a9c', devicePassword: 'Dev1ce-pw-5e2b8d' });
    t.after(() => sim.close());
    const targets: Array<{ side: Side; ended: boolean; reset: boolean; closed: Promise<void> }> = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      const seed = 100 + targets.length;
      const me = { side: new Side(), ended: false, reset: false, closed: new Promise<void>((r) => s.once('close', () => r())) };
      targets.push(me);
      s.on('error', (e: NodeJS.ErrnoException) => (me.reset ||= e.code === 'ECONNRESET'));
      s.on('close', () => sockets.delete(s));
      s.on('data', me.side.push);
      s.on('end', () => {
        me.ended = true;
        s.end();
      });
      // Stream to the client until the socket stops being writable.
      let i = 0;
      const go = (): void => {
        while (s.writable && !me.ended) if (!s.write(chunkAt(i++, CHUNK, seed))) return void s.once('drain', go);
      };
      go();
    });
    const port = await listen0(server);
    t.after(() => closeServer(server, sockets));
    const serial = 'sigterm-1';
    const { id: deviceId } = await sim.createDevice(serial);
    const { id: configId } = await sim.createConfiguration(deviceId, { name: 'stream', hostname: '127.0.0.1', port });
    const p = spawnAgent(['--grace-ms', '3000', '--log-format', 'json', '--log-level', 'info'], simEnv(sim, serial));
    t.after(() => p.kill('SIGKILL'));
    await waitFor(() => (sim.supportedOperations(serial) ?? []).length > 0, 10_000, 'agent connected');

    const clients: Array<{ ws: WebSocket; side: Side; sent: number; closeCode: Promise<number> }> = [];
    for (let k = 0; k < 3; k++) {
      const ws = new WebSocket(`${sim.wsUrl}/service/remoteaccess/client/${deviceId}/configurations/${configId}`, 'binary', { headers: { Authorization: sim.adminAuthHeader() }, perMessageDeflate: false });
      ws.on('error', () => {});
      await withTimeout(new Promise((r) => ws.once('open', r)), 5000, 'client open');
      const c = { ws, side: new Side(), sent: 0, closeCode: new Promise<number>((r) => ws.once('close', (code) => r(code))) };
      ws.on('message', c.side.push);
      clients.push(c);
      // Send continuously (the seed pairs the client with its target by order of connection).
      let i = 0;
      const pump = (): void => {
        while (ws.readyState === ws.OPEN && ws.bufferedAmount < 512 * 1024) {
          const b = chunkAt(i++, CHUNK, 200 + k);
          c.sent += b.length;
          ws.send(b);
        }
        if (ws.readyState === ws.OPEN) setTimeout(pump, 2);
      };
      pump();
      await waitFor(() => targets.length === k + 1 && c.side.received > 256 * 1024, 5000, `session ${k} busy`);
    }
    const ops = sim.listOperations({ deviceId });
    for (const op of ops) await sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);

    const sent = Date.now();
    p.kill('SIGTERM');
    const exit = await exitWithin(p, 8000, 'agent exit');
    assert.equal(exit.code, 0, p.err().slice(-2000));
    assert.ok(exit.at - sent < 3000 + 1500, `exit took ${exit.at - sent} ms (grace 3000)`);
    const codes = await withTimeout(Promise.all(clients.map((c) => c.closeCode)), 5000, 'client legs closed');
    await withTimeout(Promise.all(targets.map((x) => x.closed)), 5000, 'target sockets closed');

    const closedLogs = p.json().filter((l) => l.msg === 'tunnel closed');
    assert.equal(closedLogs.length, 3, 'three "tunnel closed" lines');
    for (let k = 0; k < 3; k++) {
      const c = clients[k]!;
      const tg = targets[k]!;
      assert.equal(codes[k], 1000, `client ${k} closed with ${codes[k]}, not an orderly 1000`);
      assert.ok(tg.ended && !tg.reset, `target ${k} got an orderly EOF (ended=${tg.ended}, reset=${tg.reset})`);
      // Exact prefixes both ways: nothing lost in the middle, nothing corrupted.
      assert.equal(c.side.hash.digest('hex'), prefixHash(c.side.received, 100 + k), `client ${k} holds a prefix of its target's stream`);
      assert.equal(tg.side.hash.digest('hex'), prefixHash(tg.side.received, 200 + k), `target ${k} holds a prefix of its client's stream`);
      assert.ok(c.side.received > 256 * 1024 && tg.side.received > 0);
    }
    // The agent counts what it read; what the cloud still sent after the agent's close frame is read and
    // dropped (the session ended with TUN_END_LOCAL), so the target never holds more than that count.
    const downs = closedLogs.map((l) => Number(l.down)).sort((a, b) => a - b);
    const got = targets.map((x) => x.side.received).sort((a, b) => a - b);
    for (let k = 0; k < 3; k++) assert.ok(got[k]! <= downs[k]!, `target got ${got[k]}, agent read ${downs[k]}`);
    for (const l of closedLogs) assert.equal(l.code, 'TUN_END_LOCAL');
    for (const op of ops) assert.deepEqual(statuses(sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    const lines = `${p.out()}\n${p.err()}`.split('\n');
    assert.ok(lines.some((l) => l.includes('"msg":"agent stopped"')));
    assertNoSecrets(lines, ['Dev1ce-pw-5e2b8d', ...ops.map((o) => o.c8y_RemoteAccessConnect.connectionKey)]);
    assert.ok(!lines.some((l) => JWT_PATTERN.test(l)));
  });
});
