/** Helpers for the emulator's tests: a started sim, MQTT device clients with a message inbox, WebSocket legs. */
import type { TestContext } from 'node:test';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { startSim, type Sim, type SimOptions } from 'c8y-tunnel/sim';
import { withTimeout } from './net.js';

/** A sim closed after the test. */
export async function testSim(t: TestContext, opts: SimOptions = {}): Promise<Sim> {
  const sim = await startSim({ quiet: true, ...opts });
  t.after(() => sim.close());
  return sim;
}

/** An MQTT client that records every message it receives. */
export interface Device {
  client: MqttClient;
  serial: string;
  messages: Array<{ topic: string; payload: string }>;
  /** Resolves with the next (or an already received, not yet taken) message on `topic` matching `pred`. */
  next(topic: string, pred?: (payload: string) => boolean, ms?: number): Promise<string>;
  publish(topic: string, payload: string): Promise<void>;
}

/** Connects a device as `<tenant>/device_<serial>` with client id `d:<serial>` and subscribes. */
export async function connectDevice(
  t: TestContext,
  sim: Sim,
  serial: string,
  opts: { subscribe?: string[]; clientId?: string; username?: string; password?: string; register?: boolean } = {},
): Promise<Device> {
  const client = await withTimeout(
    mqtt.connectAsync(sim.mqttUrl, {
      clientId: opts.clientId ?? `d:${serial}`,
      username: opts.username ?? `${sim.tenant}/device_${serial}`,
      password: opts.password ?? sim.devicePassword,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    }),
    5000,
    `MQTT connect of ${serial}`,
  );
  client.on('error', () => {});
  t.after(() => client.endAsync(true).catch(() => {}));
  const messages: Array<{ topic: string; payload: string }> = [];
  const taken = new Set<number>();
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload) => {
    messages.push({ topic, payload: payload.toString('utf8') });
    for (const w of waiters.splice(0)) w();
  });
  const find = (topic: string, pred: (p: string) => boolean): string | undefined => {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (!taken.has(i) && m.topic === topic && pred(m.payload)) {
        taken.add(i);
        return m.payload;
      }
    }
    return undefined;
  };
  const dev: Device = {
    client,
    serial,
    messages,
    next(topic, pred = () => true, ms = 5000) {
      return withTimeout(
        new Promise<string>((resolve) => {
          const check = (): void => {
            const hit = find(topic, pred);
            if (hit !== undefined) resolve(hit);
            else waiters.push(check);
          };
          check();
        }),
        ms,
        `message on ${topic} for ${serial}`,
      );
    },
    async publish(topic, payload) {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
  };
  if (opts.register !== false) {
    await dev.publish('s/us', '100');
  }
  const subs = opts.subscribe ?? ['s/ds', 's/e'];
  if (subs.length) await client.subscribeAsync(subs, { qos: 1 });
  return dev;
}

/** The managed object id of a serial, over REST. */
export async function deviceId(sim: Sim, serial: string): Promise<string> {
  const r = await fetch(`${sim.httpUrl}/identity/externalIds/c8y_Serial/${serial}`, { headers: { authorization: sim.adminAuthHeader() } });
  if (r.status !== 200) throw new Error(`no device ${serial}: HTTP ${r.status}`);
  return ((await r.json()) as { managedObject: { id: string } }).managedObject.id;
}

const inboxes = new WeakMap<WebSocket, Buffer[]>();
const closeCodes = new WeakMap<WebSocket, number>();

/** Messages that arrived while nobody else listened (for example right after 'open'); taking them empties the list. */
export function takeEarly(ws: WebSocket): Buffer[] {
  const inbox = inboxes.get(ws) ?? [];
  inboxes.set(ws, []);
  return inbox;
}

/**
 * Opens a WebSocket and resolves once open; rejects with the HTTP status of a refused upgrade.
 * Messages and the close code are recorded from the start, so nothing is lost between 'open' and the
 * caller's listeners.
 */
export function openWs(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WebSocket> {
  return withTimeout(
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url, opts.protocols ?? ['binary'], { headers: opts.headers, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
      inboxes.set(ws, []);
      ws.on('message', (d: Buffer) => {
        if (ws.listenerCount('message') === 1) inboxes.get(ws)!.push(d);
      });
      ws.once('close', (code) => closeCodes.set(ws, code));
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        const err = Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, headers: res.headers });
        res.resume();
        ws.on('error', () => {});
        reject(err);
      });
      ws.once('error', reject);
    }),
    5000,
    `WebSocket ${url}`,
  );
}

/** Resolves with the close code of a WebSocket. */
export function closed(ws: WebSocket, ms = 5000): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve) => {
      const code = closeCodes.get(ws);
      if (code !== undefined) return resolve(code);
      ws.once('close', (c) => resolve(c));
    }),
    ms,
    'WebSocket close',
  );
}

/** The HTTP status of a refused upgrade (fails the test when it opened). */
export async function refusedStatus(url: string, opts: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  try {
    const ws = await openWs(url, opts);
    ws.terminate();
  } catch (err) {
    const e = err as { status?: number; headers?: Record<string, unknown> };
    if (e.status !== undefined) return { status: e.status, headers: e.headers ?? {} };
    throw err;
  }
  throw new Error(`upgrade to ${url} was accepted`);
}

/** A device with a PASSTHROUGH configuration, its agent connected and subscribed to s/ds. */
export async function deviceWithConfig(t: TestContext, sim: Sim, serial: string, subscribe?: string[]): Promise<{ dev: Device; id: string; configId: string }> {
  const dev = await connectDevice(t, sim, serial, { subscribe });
  const id = await deviceId(sim, serial);
  const { id: configId } = await sim.createConfiguration(id, { name: 'ssh', hostname: '127.0.0.1', port: 22 });
  return { dev, id, configId };
}

/** Opens the client leg and returns it with the 530 the agent received. */
export async function openClient(sim: Sim, dev: Device, id: string, configId: string): Promise<{ client: WebSocket; key: string; fields: string[] }> {
  const client = await openWs(`${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`, { headers: { authorization: sim.adminAuthHeader() } });
  client.on('error', () => {});
  const line = await dev.next('s/ds', (p) => p.startsWith('530,'));
  const fields = line.trim().split(',');
  return { client, key: fields[4]!, fields };
}

/** Opens the device leg for a key with device Basic auth. */
export async function openDevice(sim: Sim, serial: string, key: string): Promise<WebSocket> {
  const ws = await openWs(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader(serial) } });
  ws.on('error', () => {});
  return ws;
}

/** Response bodies are checked field by field; a loose type keeps the assertions short. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One REST call (admin Basic auth unless `auth` says otherwise; `null`: none) with a JSON body. */
export async function call(sim: Sim, method: string, path: string, opts: { auth?: string | null; body?: unknown } = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const auth = opts.auth === undefined ? sim.adminAuthHeader() : opts.auth;
  if (auth !== null) headers.authorization = auth;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(sim.httpUrl + path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers };
}
