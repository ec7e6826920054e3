/**
 * Fault-suite helpers on top of the agent rig: a bystander session that must keep working through each
 * fault, targets that misbehave (reset mid-stream, never accept), secret scans of the captured logs,
 * and the agent's own 'session:closed' summaries.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { WebSocket } from 'ws';
import type { AgentOptions } from 'c8y-tunnel';
import { startSim, type Sim, type SimOptions } from 'c8y-tunnel/sim';
import { echoServer, randomBytesSeeded, sha256, tcpTarget, waitFor, withTimeout } from './net.js';

export { tcpTarget };
import { openClient, roundTrip, startRig, type Rig } from './agent-rig.js';

/** What the agent emits on 'session:closed'. */
export interface ClosedEvent {
  id?: string;
  key: string;
  code: string;
  bytesUp: number;
  bytesDown: number;
  peakBufferedUp: number;
  peakBufferedDown: number;
}

/** A rig, an echo target with a configuration, a live bystander session, and the agent's session ends. */
export interface FaultRig extends Rig {
  echo: Awaited<ReturnType<typeof echoServer>>;
  echoConfig: string;
  ends: ClosedEvent[];
  /** The bystander: a session opened before the fault; `check()` round-trips fresh bytes through it. */
  bystander: { ws: WebSocket; check(): Promise<void> };
  /** Opens a client session to the echo target. */
  client(configId?: string): Promise<WebSocket>;
}

let seed = 100;

/** Round-trips `n` fresh bytes through an echo session and checks them (sha256). */
export async function echoCheck(ws: WebSocket, n = 64 * 1024): Promise<void> {
  const data = randomBytesSeeded(n, seed++);
  ws.removeAllListeners('message');
  ws.removeAllListeners('close');
  const back = await roundTrip(ws, data);
  assert.equal(back.length, data.length);
  assert.equal(sha256(back), sha256(data), 'echoed bytes differ');
}

/** Starts the rig (agent per `overrides`) with a bystander session already carrying bytes. */
export async function faultRig(t: { after(fn: () => unknown): void }, overrides: Partial<AgentOptions> = {}, opts: { sim?: Sim; simOptions?: SimOptions } = {}): Promise<FaultRig> {
  const echo = await echoServer();
  t.after(() => echo.close());
  // Passwords long and unusual enough that finding them in a log line means a leak.
  const sim = opts.sim ?? (await startSim({ quiet: true, password: 'Adm1n-pw-7f3a9c', devicePassword: 'Dev1ce-pw-5e2b8d', ...opts.simOptions }));
  let rig: Rig;
  try {
    rig = await startRig(overrides, { sim });
  } catch (err) {
    if (!opts.sim) await sim.close();
    throw err;
  }
  t.after(async () => {
    await rig.close();
    if (!opts.sim) await sim.close();
  });
  t.after(() => assertNoSecrets(rig.logs, secretsOf(rig)));
  const ends: ClosedEvent[] = [];
  rig.agent.events.on('session:closed', (e: ClosedEvent) => ends.push(e));
  const { id: echoConfig } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
  const client = async (configId = echoConfig): Promise<WebSocket> => {
    const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 10_000, 'client open');
    t.after(() => ws.terminate());
    return ws;
  };
  const ws = await client();
  await echoCheck(ws);
  return { ...rig, echo, echoConfig, ends, client, bystander: { ws, check: () => echoCheck(ws) } };
}

/** The secrets a rig knows: the device password and every connection key the sim handed out. */
export function secretsOf(rig: Rig): string[] {
  return [rig.sim.devicePassword, rig.sim.password, ...rig.sim.listOperations({ deviceId: rig.deviceId }).map((o) => o.c8y_RemoteAccessConnect?.connectionKey)].filter(
    (s): s is string => typeof s === 'string' && s.length >= 5,
  );
}

/** A JWT as it would appear: three base64url parts, the first a JSON header. */
export const JWT_PATTERN = /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+/;

/** Fails when any log line holds one of the secrets (whole) or something shaped like a JWT. */
export function assertNoSecrets(lines: readonly string[], secrets: readonly string[]): void {
  for (const line of lines) {
    for (const s of secrets) assert.ok(!line.includes(s), `a secret (${s.slice(0, 4)}...) appears in a log line: ${line.slice(0, 300)}`);
    assert.ok(!JWT_PATTERN.test(line), `a JWT appears in a log line: ${line.slice(0, 300)}`);
  }
}

/** The latest operation of the rig's device. */
export function lastOp(rig: Rig): NonNullable<ReturnType<Sim['getOperation']>> {
  const ops = rig.sim.listOperations({ deviceId: rig.deviceId });
  const op = ops.reduce((a, b) => (Number(b.id) > Number(a.id) ? b : a));
  return op;
}

/** Waits for the agent's 'session:closed' of the operation with this key prefix (4 characters are logged). */
export async function closedFor(ends: ClosedEvent[], key: string, ms = 10_000): Promise<ClosedEvent> {
  const prefix = key.slice(0, 4);
  await waitFor(() => ends.some((e) => e.key.startsWith(prefix)), ms, `session:closed for ${prefix}...`);
  return ends.find((e) => e.key.startsWith(prefix))!;
}

/** A target that accepts, sends `prefix` bytes, then resets (RST) once it has read `after` bytes. */
export async function resettingTarget(t: { after(fn: () => unknown): void }, prefix: Buffer, after = 1): Promise<{ port: number; received: () => number }> {
  let got = 0;
  const { port } = await tcpTarget(t, (s) => {
    s.write(prefix);
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= after && !s.destroyed) s.resetAndDestroy();
    });
  });
  return { port, received: () => got };
}

/**
 * A port whose TCP handshake never completes: a listener (backlog 1) in a worker thread whose event loop
 * is blocked, so nothing is accepted; once the accept queue is full the kernel drops further SYNs.
 */
export async function blackholePort(t: { after(fn: () => unknown): void }): Promise<number> {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const s = require('node:net').createServer();
     s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       parentPort.once('message', (sab) => { const a = new Int32Array(sab); while (Atomics.load(a, 0) === 0) Atomics.wait(a, 0, 0, 100); });
     });`,
    { eval: true },
  );
  const port = await withTimeout(new Promise<number>((r) => w.once('message', r)), 5000, 'blackhole listener');
  const flag = new Int32Array(new SharedArrayBuffer(4));
  w.postMessage(flag.buffer);
  await new Promise((r) => setTimeout(r, 50));
  const fillers: net.Socket[] = [];
  t.after(async () => {
    for (const f of fillers) f.destroy();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await w.terminate();
  });
  // Fill the accept queue until a connect stays pending.
  for (let i = 0; i < 8; i++) {
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    fillers.push(c);
    const up = await new Promise<boolean>((r) => {
      c.once('connect', () => r(true));
      setTimeout(() => r(false), 200);
    });
    if (!up) return port;
  }
  throw new Error('could not fill the accept queue of the blackhole listener');
}
