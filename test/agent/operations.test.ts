import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { createEngine } from 'c8y-tunnel';
import { Operations, type OpStatus } from '#internal/agent/operations';
import { parsePolicy } from '#internal/agent/policy';
import { statusLine } from '#internal/cumulocity/templates';
import { closeServer, echoServer, listen0, waitFor } from '../helpers/net.js';
import { capturingLogger } from '../helpers/agent-rig.js';

/** A WebSocket server answering like Cumulocity, that holds back upgrades for keys starting with "slow" until released. */
async function cloud(): Promise<{ base: string; held(): number; release(): void; close(): Promise<void> }> {
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'binary' });
  wss.on('connection', (ws) => ws.on('error', () => {}));
  let held: Array<() => void> = [];
  const server = http.createServer();
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const go = (): void => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    if ((req.url ?? '').includes('/device/slow')) held.push(go);
    else go();
  });
  const port = await listen0(server);
  return {
    base: `ws://127.0.0.1:${port}`,
    held: () => held.length,
    release() {
      const h = held;
      held = [];
      for (const go of h) go();
    },
    async close() {
      for (const c of wss.clients) c.terminate();
      await closeServer(server);
    },
  };
}

async function setup(t: import('node:test').TestContext, dedupeWindowMs = 10_000, maxSessions = 100) {
  const echo = await echoServer();
  const c = await cloud();
  const engine = createEngine({ threads: 0 });
  const lines: string[] = [];
  const ops = new Operations({
    engine,
    sink: { report: (ref: { serial: string; id?: string }, status: OpStatus, reason?: string) => lines.push(statusLine(ref, status, reason)) },
    log: capturingLogger().logger,
    policy: parsePolicy(['*']),
    maxSessions,
    wsBase: c.base,
    authorization: () => 'Basic eA==',
    specDefaults: {},
    dedupeWindowMs,
    events: new EventEmitter(),
  });
  t.after(async () => {
    await engine.close({ graceMs: 200 });
    await c.close();
    await echo.close();
  });
  const req = (key: string, id?: string) => ({ serial: 'd1', host: '127.0.0.1', port: echo.port, key, via: id === undefined ? ('530' as const) : ('json' as const), ...(id === undefined ? {} : { id }) });
  return { ops, lines, req, cloud: c };
}

describe('operations: status sequencing', () => {
  it('by name, a younger tunnel that comes up first waits for the older one before its 503', { timeout: 10_000 }, async (t) => {
    const { ops, lines, req, cloud: c } = await setup(t);
    ops.handle(req('slow-a'));
    ops.handle(req('fast-b'));
    assert.deepEqual(lines, ['501,c8y_RemoteAccessConnect', '501,c8y_RemoteAccessConnect']);
    await waitFor(() => ops.stats().successful === 1, 5000, 'b up');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(lines.length, 2, 'no 503 before the older operation is final');
    c.release();
    await waitFor(() => lines.length === 4, 5000, 'both final');
    assert.deepEqual(lines.slice(2), ['503,c8y_RemoteAccessConnect', '503,c8y_RemoteAccessConnect']);
  });

  it('by id, statuses go out as soon as they are known, and a duplicate by key is dropped', { timeout: 10_000 }, async (t) => {
    const { ops, lines, req, cloud: c } = await setup(t);
    ops.handle(req('slow-a', '1'));
    ops.handle(req('fast-b', '2'));
    ops.handle(req('fast-b'));
    await waitFor(() => lines.includes('506,2'), 5000, 'b SUCCESSFUL');
    assert.deepEqual(lines, ['504,1', '504,2', '506,2']);
    assert.equal(ops.stats().duplicates, 1);
    c.release();
    await waitFor(() => lines.includes('506,1'), 5000, 'a SUCCESSFUL');
  });

  it('after a 530 and its JSON twin, a 530 holds its statuses until its twin gives the id', { timeout: 10_000 }, async (t) => {
    const { ops, lines, req } = await setup(t);
    ops.handle(req('fast-a'));
    ops.handle(req('fast-a', '10')); // the twin: from now on the agent expects twins
    await waitFor(() => lines.length === 2, 5000, 'a final');
    assert.deepEqual(lines, ['501,c8y_RemoteAccessConnect', '506,10']);
    ops.handle(req('fast-b'));
    await waitFor(() => ops.stats().successful === 2, 5000, 'b up');
    assert.equal(lines.length, 2, 'held while the twin may still come');
    ops.handle(req('fast-b', '11'));
    assert.deepEqual(lines.slice(2), ['504,11', '506,11']);
  });

  it('stops holding 530s once three holds in a row expired without a twin', { timeout: 10_000 }, async (t) => {
    const { ops, lines, req } = await setup(t, 20);
    ops.handle(req('fast-a'));
    ops.handle(req('fast-a', '10'));
    await waitFor(() => lines.includes('506,10'), 5000, 'a final');
    for (const k of ['fast-b', 'fast-c', 'fast-d']) {
      const before = lines.length;
      ops.handle(req(k));
      assert.equal(lines.length, before, `${k} is held`);
      await waitFor(() => lines.length === before + 2, 5000, `${k} released by name`);
      assert.deepEqual(lines.slice(before), ['501,c8y_RemoteAccessConnect', '503,c8y_RemoteAccessConnect']);
    }
    const before = lines.length;
    ops.handle(req('fast-e'));
    assert.deepEqual(lines.slice(before), ['501,c8y_RemoteAccessConnect'], 'reported by name at once');
  });
});

describe('operations: bounded under a flood', () => {
  it('behind a stalled by-name operation, 30,000 refused ones: at most 10,000 keys remembered, linear CPU, every status still in order', { timeout: 60_000 }, async (t) => {
    const { ops, lines, req, cloud: c } = await setup(t, 0, 1);
    ops.handle(req('slow-head'));
    await waitFor(() => c.held() === 1, 5000, 'the head upgrade held');
    const cpu0 = process.cpuUsage();
    // The one session slot is taken: every later operation is FAILED at once, its status queued behind the head.
    const N = 30_000;
    for (let i = 0; i < N; i++) ops.handle(req(`k${i}`));
    const cpu = process.cpuUsage(cpu0);
    assert.ok(ops.stats().remembered <= 10_000, `remembered ${ops.stats().remembered} keys`);
    assert.equal(ops.stats().failed, N);
    const cpuSec = (cpu.user + cpu.system) / 1e6;
    // The old walk of the whole key map per operation cost 14.5 s for 48,886; linear is well under 2 s.
    assert.ok(cpuSec < 5, `30,000 operations cost ${cpuSec.toFixed(2)} CPU-s`);
    c.release();
    await waitFor(() => lines.filter((l) => l.startsWith('502,')).length === N, 20_000, 'every FAILED sent');
    assert.equal(lines.filter((l) => l.startsWith('503,')).length, 1);
    assert.ok(lines.indexOf('503,c8y_RemoteAccessConnect') < lines.findIndex((l) => l.startsWith('502,')), 'the head final first');
  });
});
