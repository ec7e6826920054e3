/**
 * Soak: `npm run soak -- --minutes N [--slots 4] [--pause-ms 800] [--max-kib 256] [--fault-rate 0.05]
 * [--mqtt-restart-min 10] [--sample-sec 10] [--out file.json]`.
 *
 * The agent runs as its own child process (this file with `--agent-child`); the emulator, the TCP
 * targets and the client WebSockets run here. Each slot churns sessions one after another: open a client,
 * random bytes both ways (sha256 checked on arrival), close from a random side, check the other side saw
 * the close and the operation is SUCCESSFUL. A few sessions are faults (target reset, device leg dropped,
 * target refused) and the MQTT broker restarts now and then. Every `--sample-sec` the agent's open
 * descriptors and RSS (from /proc) and its heap after a full GC (over IPC) are sampled. It fails on any
 * byte or status error, or when a metric grows: the median of the last third of the samples after the
 * warm-up against the median of the first third, beyond a tolerance; and when the idle agent at the end
 * holds more descriptors than the idle agent at the start.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { createAgent, type Agent, type AgentOptions, type AgentStats } from 'c8y-tunnel';
import { createLogger } from 'c8y-tunnel/internal/agent/log';
import { startSim, type SimOperation } from 'c8y-tunnel/sim';
import { serve, startNode, type Proc, type SelfUsage } from './lib/ipc.js';
import { rssKiB } from './lib/procstat.js';

type Fault = 'none' | 'reset' | 'drop' | 'refused';
interface Sample {
  tSec: number;
  fds: number;
  rssKiB: number;
  heapKiB: number;
  open: number;
  sessions: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rand = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** The agent child: createAgent driven over the bench IPC channel (`usage` and `gc` come with serve()). */
function runChild(): void {
  let agent: Agent | undefined;
  serve({
    async start(cfg: AgentOptions) {
      agent = createAgent({ ...cfg, logger: createLogger({ level: 'warn', format: 'json' }) });
      await agent.start();
      return true;
    },
    stats: (): AgentStats | undefined => agent?.stats(),
    async stop(a: { graceMs?: number }) {
      await agent?.stop({ graceMs: a.graceMs ?? 2000 });
      return true;
    },
  });
}

/** One slot's target: a TCP server whose connections are handed to the slot's current session. */
interface Slot {
  index: number;
  server: net.Server;
  port: number;
  configId: string;
  sockets: Set<net.Socket>;
  onTarget: ((s: net.Socket) => void) | undefined;
  op: SimOperation | undefined;
}

interface Totals {
  sessions: number;
  ok: number;
  faults: Record<Fault, number>;
  bytesUp: number;
  bytesDown: number;
  mqttRestarts: number;
  errors: number;
  firstErrors: string[];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      minutes: { type: 'string', default: '1' },
      slots: { type: 'string', default: '4' },
      'pause-ms': { type: 'string', default: '800' },
      'max-kib': { type: 'string', default: '256' },
      'fault-rate': { type: 'string', default: '0.05' },
      'mqtt-restart-min': { type: 'string', default: '10' },
      'sample-sec': { type: 'string', default: '10' },
      out: { type: 'string' },
    },
  });
  const minutes = Number(values.minutes);
  const slotsN = Number(values.slots);
  const pauseMs = Number(values['pause-ms']);
  const maxBytes = Number(values['max-kib']) * 1024;
  const faultRate = Number(values['fault-rate']);
  const sampleMs = Number(values['sample-sec']) * 1000;
  // Short runs still get one broker restart, in the middle.
  const restartEveryMs = minutes <= Number(values['mqtt-restart-min']) ? (minutes * 60_000) / 2 : Number(values['mqtt-restart-min']) * 60_000;
  const durationMs = minutes * 60_000;

  const sim = await startSim({ quiet: true });
  const serial = 'soak-1';
  const { id: deviceId } = await sim.createDevice(serial);
  const slots: Slot[] = [];
  for (let i = 0; i < slotsN; i++) {
    const sockets = new Set<net.Socket>();
    const slot: Slot = { index: i, server: net.createServer(), port: 0, configId: '', sockets, onTarget: undefined, op: undefined };
    slot.server.on('connection', (s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
      if (slot.onTarget) slot.onTarget(s);
      else s.destroy();
    });
    await new Promise<void>((r) => slot.server.listen(0, '127.0.0.1', r));
    slot.port = (slot.server.address() as net.AddressInfo).port;
    slot.configId = (await sim.createConfiguration(deviceId, { name: `soak-${i}`, hostname: '127.0.0.1', port: slot.port })).id;
    slots.push(slot);
  }
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const closedPort = (closed.address() as net.AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refusedConfig = (await sim.createConfiguration(deviceId, { name: 'soak-refused', hostname: '127.0.0.1', port: closedPort })).id;
  const slotByPort = new Map(slots.map((s) => [s.port, s]));
  let refusedOp: SimOperation | undefined;
  let refusedBusy = false;
  /** Operations a fault may legitimately fail. */
  const faultedOps = new Set<string>();
  sim.events.on('operation', (op: SimOperation) => {
    const port = op.c8y_RemoteAccessConnect?.port;
    if (port === closedPort) refusedOp = op;
    const s = slotByPort.get(port);
    if (s) s.op = op;
  });

  const agent: Proc = await startNode('agent', fileURLToPath(import.meta.url), { args: ['--agent-child'], execArgv: ['--expose-gc'] });
  const cfg: AgentOptions = { host: sim.httpUrl, mqttUrl: sim.mqttUrl, tenant: sim.tenant, user: `device_${serial}`, password: sim.devicePassword, deviceId: serial, threads: 1, reconnectMinMs: 200, reconnectMaxMs: 1000 };
  await agent.call('start', cfg, 30_000);

  const totals: Totals = { sessions: 0, ok: 0, faults: { none: 0, reset: 0, drop: 0, refused: 0 }, bytesUp: 0, bytesDown: 0, mqttRestarts: 0, errors: 0, firstErrors: [] };
  const fail = (msg: string): void => {
    totals.errors++;
    if (totals.firstErrors.length < 20) totals.firstErrors.push(msg);
    process.stderr.write(`soak: ERROR ${msg}\n`);
  };
  const stats = (): Promise<AgentStats> => agent.call<AgentStats>('stats', {}, 10_000);
  const measure = async (t0: number): Promise<Sample> => {
    const rss = rssKiB(agent.pid);
    const fds = fdCount(agent.pid);
    await agent.call('gc', {}, 10_000);
    const u = await agent.call<SelfUsage>('usage', {}, 10_000);
    const st = await stats();
    return { tSec: Math.round((Date.now() - t0) / 1000), fds, rssKiB: rss, heapKiB: Math.round(u.heapUsed / 1024), open: st.engine.open, sessions: totals.sessions };
  };

  const openClient = (configId: string): Promise<WebSocket> => {
    const ws = new WebSocket(`${sim.wsUrl}/service/remoteaccess/client/${deviceId}/configurations/${configId}`, 'binary', { headers: { Authorization: sim.adminAuthHeader() }, perMessageDeflate: false });
    ws.on('error', () => {});
    return deadline(
      new Promise<WebSocket>((resolve, reject) => {
        ws.once('open', () => resolve(ws));
        ws.once('unexpected-response', (_q, res) => reject(new Error(`client upgrade HTTP ${res.statusCode}`)));
        ws.once('close', () => reject(new Error('client closed before open')));
      }),
      15_000,
      'client open',
    ).catch((err: unknown) => {
      ws.terminate();
      throw err;
    });
  };
  const wsClosed = (ws: WebSocket): Promise<number> => (ws.readyState === WebSocket.CLOSED ? Promise.resolve(-1) : new Promise((r) => ws.once('close', (code) => r(code))));
  const sockClosed = (s: net.Socket): Promise<void> => (s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', () => r())));

  /** Sends `data` in 16 KiB frames, keeping ws's buffer under 512 KiB. */
  const sendAll = async (ws: WebSocket, data: Buffer): Promise<void> => {
    for (let i = 0; i < data.length; i += 16 * 1024) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(data.subarray(i, i + 16 * 1024));
      while (ws.bufferedAmount > 512 * 1024 && ws.readyState === WebSocket.OPEN) await sleep(5);
    }
  };

  /** One at a time (the operation is found by its target port). */
  const refused = async (): Promise<void> => {
    refusedBusy = true;
    refusedOp = undefined;
    try {
      const ws = await openClient(refusedConfig);
      // The cloud does not close the client leg when the operation fails (a client watches the status).
      await deadline(
        (async () => {
          while (!refusedOp) await sleep(5);
        })(),
        10_000,
        'refused: operation created',
      );
      const op = refusedOp as unknown as SimOperation;
      const done = await sim.waitForOperationStatus(op.id, ['FAILED', 'SUCCESSFUL'], 15_000);
      ws.close(1000);
      if (done.status !== 'FAILED' || !/refused/i.test(done.failureReason ?? '')) fail(`refused: status ${done.status} reason ${done.failureReason}`);
      await deadline(wsClosed(ws), 10_000, 'refused: client close');
    } finally {
      refusedBusy = false;
    }
  };

  const session = async (slot: Slot, fault: Fault): Promise<void> => {
    const up = Buffer.allocUnsafe(rand(0, maxBytes));
    const down = Buffer.allocUnsafe(rand(0, maxBytes));
    randomFillSync(up);
    randomFillSync(down);
    const target = new Promise<net.Socket>((resolve) => (slot.onTarget = resolve));
    slot.op = undefined;
    const ws = await openClient(slot.configId);
    const wsDone = wsClosed(ws);
    const gotDown: Buffer[] = [];
    let nDown = 0;
    ws.on('message', (d: Buffer) => {
      gotDown.push(d);
      nDown += d.length;
    });
    let sock: net.Socket;
    try {
      sock = await deadline(target, 15_000, 'target connection');
    } finally {
      slot.onTarget = undefined;
    }
    const sockDone = sockClosed(sock);
    const gotUp: Buffer[] = [];
    let nUp = 0;
    sock.on('data', (d: Buffer) => {
      gotUp.push(d);
      nUp += d.length;
    });
    sock.on('end', () => sock.end());
    const op = slot.op as SimOperation | undefined;
    if (fault === 'reset') {
      sock.write(down.subarray(0, down.length >> 1));
      await sleep(rand(0, 20));
      sock.resetAndDestroy();
      // The agent ends the tunnel with TUN_ERR_TCP_RESET (checked in its counters at the end). A reset
      // before the device leg is up FAILs the operation instead, and then the client leg stays open.
      if (op) faultedOps.add(op.id);
      const failed = op ? sim.waitForOperationStatus(op.id, 'FAILED', 15_000).then(() => 'failed' as const) : new Promise<never>(() => {});
      const how = await deadline(Promise.race([wsDone.then(() => 'closed' as const), failed]), 15_000, 'reset: client close or FAILED');
      if (how === 'failed') {
        const reason = sim.getOperation(op!.id)?.failureReason ?? '';
        if (!/reset/i.test(reason)) fail(`reset during set-up: reason ${reason}`);
        ws.close(1000);
        await deadline(wsDone, 10_000, 'reset: client close');
      }
      return;
    }
    if (fault === 'drop') {
      sock.write(down);
      void sendAll(ws, up);
      if (!op) throw new Error('drop: no operation seen');
      // Both legs up first: closing a client whose device leg is not there yet would fail the operation.
      await sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 15_000);
      await sleep(rand(0, 20));
      if (!sim.dropDeviceLeg(op.c8y_RemoteAccessConnect.connectionKey)) fail(`drop: session of operation ${op.id} was not live`);
      await deadline(Promise.all([sockDone, wsDone]), 10_000, 'drop: both legs end');
      return;
    }
    sock.write(down);
    await sendAll(ws, up);
    await deadline(
      (async () => {
        while (nUp < up.length || nDown < down.length) await sleep(5);
      })(),
      20_000,
      `bytes (${nUp}/${up.length} up, ${nDown}/${down.length} down)`,
    );
    if (nUp !== up.length || sha(Buffer.concat(gotUp)) !== sha(up)) fail(`session ${totals.sessions}: upstream bytes differ (${nUp} of ${up.length})`);
    if (nDown !== down.length || sha(Buffer.concat(gotDown)) !== sha(down)) fail(`session ${totals.sessions}: downstream bytes differ (${nDown} of ${down.length})`);
    totals.bytesUp += nUp;
    totals.bytesDown += nDown;
    if (Math.random() < 0.5) {
      ws.close(1000);
      await deadline(sockDone, 10_000, 'client closed: target sees the end');
    } else {
      sock.end();
      await deadline(wsDone, 10_000, 'target ended: client sees the close');
    }
    await deadline(Promise.all([sockDone, wsDone]), 10_000, 'both legs closed');
    if (!op) fail('no operation seen for the session');
    else {
      // Statuses may still be queued in the agent (MQTT restart): wait for the final one.
      const st = (await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 20_000).catch(() => sim.getOperation(op.id)))?.status;
      if (st !== 'SUCCESSFUL') fail(`operation ${op.id} is ${st}, expected SUCCESSFUL: ${JSON.stringify(sim.operationHistory(op.id))}`);
    }
    totals.ok++;
  };

  let stopping = false;
  let paused = false;
  const busy = new Set<number>();
  const runSlot = async (slot: Slot): Promise<void> => {
    while (!stopping) {
      while (paused && !stopping) await sleep(50);
      if (stopping) break;
      const r = Math.random();
      const fault: Fault = r < faultRate / 3 ? 'reset' : r < (2 * faultRate) / 3 ? 'drop' : r < faultRate && !refusedBusy ? 'refused' : 'none';
      busy.add(slot.index);
      totals.sessions++;
      totals.faults[fault]++;
      try {
        await (fault === 'refused' ? refused() : session(slot, fault));
      } catch (err) {
        fail(`slot ${slot.index} (${fault}): ${(err as Error).message}`);
        for (const s of slot.sockets) s.destroy();
      } finally {
        busy.delete(slot.index);
      }
      await sleep(rand(pauseMs / 2, (pauseMs * 3) / 2));
    }
  };

  const t0 = Date.now();
  await sleep(1000);
  const idleStart = await measure(t0);
  const samples: Sample[] = [];
  process.stdout.write(`soak: ${minutes} min, ${slotsN} slots, agent pid ${agent.pid}; idle at start: ${idleStart.fds} fds, RSS ${idleStart.rssKiB} KiB, heap ${idleStart.heapKiB} KiB\n`);
  const sampler = setInterval(() => {
    void measure(t0).then(
      (s) => {
        samples.push(s);
        process.stdout.write(`soak: t=${s.tSec}s sessions=${s.sessions} ok=${totals.ok} errors=${totals.errors} fds=${s.fds} rss=${s.rssKiB}KiB heap=${s.heapKiB}KiB open=${s.open}\n`);
      },
      (err: unknown) => fail(`sample: ${(err as Error).message}`),
    );
  }, sampleMs);
  const restarter = setInterval(() => {
    void (async () => {
      paused = true;
      try {
        totals.mqttRestarts++;
        await sim.restartMqtt(1000);
        await deadline(
          (async () => {
            while (!(await stats()).mqttConnected) await sleep(100);
          })(),
          20_000,
          'agent back on MQTT after the broker restart',
        );
      } catch (err) {
        fail(`mqtt restart: ${(err as Error).message}`);
      } finally {
        paused = false;
      }
    })();
  }, restartEveryMs);
  const running = slots.map((s) => runSlot(s));
  await sleep(durationMs);
  stopping = true;
  clearInterval(sampler);
  clearInterval(restarter);
  await Promise.all(running);
  while (paused) await sleep(50);
  await sleep(2000);
  const idleEnd = await measure(t0);
  const end = await stats();
  if (end.engine.open !== 0) fail(`${end.engine.open} tunnels still open at the end`);
  if (end.operations.active !== 0) fail(`${end.operations.active} operations still active at the end`);
  for (const op of sim.listOperations({ deviceId, status: 'FAILED' })) {
    if (op.c8y_RemoteAccessConnect.port !== closedPort && !faultedOps.has(op.id)) fail(`operation ${op.id} to port ${op.c8y_RemoteAccessConnect.port} FAILED: ${JSON.stringify(sim.operationHistory(op.id))}`);
  }
  const resetsCoded = (end.engine.endsByCode.TUN_ERR_TCP_RESET ?? 0) + (end.engine.failuresByCode.TUN_ERR_TCP_RESET ?? 0);
  if (resetsCoded < totals.faults.reset) fail(`${totals.faults.reset} target resets but only ${resetsCoded} tunnels ended with TUN_ERR_TCP_RESET`);

  // Growth: after the warm-up, last third's median vs first third's median.
  const warmupSec = Math.min(300, (durationMs / 1000) * 0.25);
  const steady = samples.filter((s) => s.tSec >= warmupSec);
  const third = Math.max(1, Math.floor(steady.length / 3));
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const tol = { fds: 4 * slotsN + 4, rssKiB: (m: number) => m * 0.2 + 16 * 1024, heapKiB: (m: number) => m * 0.2 + 4 * 1024 };
  const growth: Record<string, { firstMedian: number; lastMedian: number; allowed: number; ok: boolean }> = {};
  for (const k of ['fds', 'rssKiB', 'heapKiB'] as const) {
    const a = median(first.map((s) => s[k]));
    const b = median(last.map((s) => s[k]));
    const allowed = k === 'fds' ? tol.fds : tol[k](a);
    const ok = steady.length < 3 || b - a <= allowed;
    growth[k] = { firstMedian: a, lastMedian: b, allowed: Math.round(allowed), ok };
    if (!ok) fail(`${k} grew: median ${a} -> ${b} (allowed +${Math.round(allowed)})`);
  }
  if (steady.length < 3) process.stdout.write(`soak: only ${steady.length} samples after the warm-up: no growth verdict\n`);
  if (idleEnd.fds > idleStart.fds + 2) fail(`descriptors left behind: ${idleStart.fds} idle at start, ${idleEnd.fds} idle at the end`);

  await agent.call('stop', { graceMs: 2000 }, 15_000).catch(() => {});
  await agent.stop();
  for (const s of slots) {
    for (const x of s.sockets) x.destroy();
    await new Promise<void>((r) => s.server.close(() => r()));
  }
  await sim.close();

  const elapsedSec = (Date.now() - t0) / 1000;
  const summary = {
    minutes,
    elapsedSec: Math.round(elapsedSec),
    slots: slotsN,
    sessions: totals.sessions,
    sessionsPerSec: Math.round((totals.sessions / elapsedSec) * 100) / 100,
    ok: totals.ok,
    faults: totals.faults,
    mqttRestarts: totals.mqttRestarts,
    bytesUp: totals.bytesUp,
    bytesDown: totals.bytesDown,
    agentEnds: end.engine.endsByCode,
    agentSetupFailures: end.engine.failuresByCode,
    agentOperations: end.operations,
    workerDeaths: end.engine.workerDeaths,
    idleStart,
    idleEnd,
    warmupSec,
    growth,
    samples,
    errors: totals.errors,
    firstErrors: totals.firstErrors,
    pass: totals.errors === 0,
  };
  if (values.out) writeFileSync(values.out, JSON.stringify(summary, null, 2) + '\n');
  const mib = (k: number): string => (k / 1024).toFixed(1);
  process.stdout.write(
    [
      '',
      `soak summary (${summary.elapsedSec} s, ${slotsN} slots)`,
      `  sessions ${summary.sessions} (${summary.sessionsPerSec}/s): ${summary.ok} checked clean, faults reset ${totals.faults.reset}, drop ${totals.faults.drop}, refused ${totals.faults.refused}; MQTT restarts ${totals.mqttRestarts}`,
      `  bytes verified (sha256): ${mib(totals.bytesUp / 1024)} MiB up, ${mib(totals.bytesDown / 1024)} MiB down`,
      `  agent idle start -> end: fds ${idleStart.fds} -> ${idleEnd.fds}, RSS ${mib(idleStart.rssKiB)} -> ${mib(idleEnd.rssKiB)} MiB, heap ${mib(idleStart.heapKiB)} -> ${mib(idleEnd.heapKiB)} MiB`,
      `  agent tunnel ends: ${JSON.stringify(end.engine.endsByCode)}; operations ${JSON.stringify(end.operations)}`,
      ...Object.entries(growth).map(([k, g]) => `  ${k}: first-third median ${g.firstMedian}, last-third median ${g.lastMedian}, allowed +${g.allowed}: ${g.ok ? 'ok' : 'GREW'}`),
      `  errors ${totals.errors}${totals.firstErrors.length ? `: ${totals.firstErrors.slice(0, 5).join(' | ')}` : ''}`,
      `  ${summary.pass ? 'PASS' : 'FAIL'}`,
      '',
    ].join('\n'),
  );
  return summary.pass ? 0 : 1;
}

if (process.argv[2] === '--agent-child') runChild();
else
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
