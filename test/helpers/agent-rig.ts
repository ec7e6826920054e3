/** End-to-end rig for agent tests: the real emulator, the real agent (library), real TCP targets and clients. */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { createAgent, type Agent, type AgentOptions } from 'c8y-tunnel';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { connectProxy, type ConnectProxy } from './connect-proxy.js';
import { closeServer, listen0, withTimeout } from './net.js';

/** A pino logger that keeps its JSON lines in memory. */
export function capturingLogger(level = 'debug'): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/** A sim, one device on it, and (once started) an agent for it. */
export interface Rig {
  sim: Sim;
  serial: string;
  deviceId: string;
  agent: Agent;
  logs: string[];
  close(): Promise<void>;
}

/** Starts a sim and an agent for device `serial`; `overrides` go to createAgent. */
export async function startRig(overrides: Partial<AgentOptions> = {}, opts: { serial?: string; start?: boolean; sim?: Sim } = {}): Promise<Rig> {
  const sim = opts.sim ?? (await startSim({ quiet: true }));
  const serial = opts.serial ?? `dev-${Math.random().toString(36).slice(2, 8)}`;
  const { id: deviceId } = await sim.createDevice(serial);
  const { logger, lines } = capturingLogger();
  const agent = createAgent({
    host: sim.httpUrl,
    mqttUrl: sim.mqttUrl,
    tenant: sim.tenant,
    user: `device_${serial}`,
    password: sim.devicePassword,
    deviceId: serial,
    threads: 1,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    logger,
    ...overrides,
  });
  const rig: Rig = {
    sim,
    serial,
    deviceId,
    agent,
    logs: lines,
    async close() {
      await agent.stop({ graceMs: 1000 }).catch(() => {});
      if (!opts.sim) await sim.close();
    },
  };
  if (opts.start !== false) {
    try {
      await withTimeout(agent.start(), 10_000, 'agent start');
    } catch (err) {
      await rig.close();
      throw err;
    }
  }
  return rig;
}

/** The user's side: a client WebSocket to a configuration, offering `binary`. */
export function openClient(sim: Sim, deviceId: string, configId: string): Promise<WebSocket> {
  const ws = new WebSocket(`${sim.wsUrl}/service/remoteaccess/client/${deviceId}/configurations/${configId}`, 'binary', {
    headers: { Authorization: sim.adminAuthHeader() },
    perMessageDeflate: false,
  });
  ws.on('error', () => {});
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`client upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Sends `data` through the client WebSocket in chunks and collects `expect` bytes coming back. */
export async function roundTrip(ws: WebSocket, data: Buffer, chunk = 16 * 1024): Promise<Buffer> {
  const got: Buffer[] = [];
  let n = 0;
  const done = new Promise<void>((resolve, reject) => {
    ws.on('message', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= data.length) resolve();
    });
    ws.once('close', () => reject(new Error(`client closed after ${n} of ${data.length} bytes`)));
  });
  for (let i = 0; i < data.length; i += chunk) ws.send(data.subarray(i, i + chunk));
  await withTimeout(done, 15_000, 'echo round trip');
  return Buffer.concat(got);
}

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen0(s);
  await closeServer(s);
  return port;
}

/** Statuses of an operation's history, e.g. ['PENDING', 'EXECUTING', 'SUCCESSFUL']. */
export function statuses(sim: Sim, opId: string): string[] {
  return sim.operationHistory(opId).map((h) => h.status);
}

/** An HTTP CONNECT proxy whose CONNECTs can be held back (the cloud is the real emulator behind it). */
export const holdingProxy = (): Promise<ConnectProxy> => connectProxy();
