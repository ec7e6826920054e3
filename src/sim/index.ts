/**
 * The Cumulocity cloud emulator: MQTT (aedes + SmartREST 2.0 static templates), REST, and the Cloud
 * Remote Access WebSocket endpoints, in-process. `startSim()` is what tests, benchmarks, the demo and
 * `c8y-tunnel sim` use. docs/sim.md describes the behaviour and every place the emulator had to guess.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { formatLine, MAX_SMARTREST_PAYLOAD } from '../cumulocity/smartrest.js';
import { SimError } from '../errors.js';
import { ADMIN_ROLES, Authenticator, basicHeader } from './auth.js';
import { SimBroker } from './broker.js';
import { createConsole } from './console/index.js';
import { Delivery } from './delivery.js';
import { createExtras } from './extras.js';
import type { DeviceCredentials } from './registration.js';
import { refuseUpgrade } from './http-util.js';
import { JwtIssuer } from './jwt.js';
import { RemoteAccess } from './remote-access.js';
import { validateConfiguration } from './rest-configurations.js';
import { Rest } from './rest.js';
import { createSmartRestHandler } from './smartrest-handler.js';
import { Store } from './store.js';
import type { OperationStatus, Sim, SimEvents, SimFaults, SimOperation, SimOptions } from './types.js';

export type { Sim, SimOptions, SimOperation, SimFaults, SessionInfo, StatusChange, SimConfiguration, OperationStatus, SimEvents } from './types.js';

/** The `70,<tenant>,<user>,<password>` answer on `s/dcr` to issued credentials. */
function bootstrapLine(c: DeviceCredentials | undefined): string | undefined {
  return c ? formatLine(['70', c.tenantId, c.username, c.password]) + '\n' : undefined;
}

/** Defaults of every option (docs/sim.md quotes them). */
export const SIM_DEFAULTS = {
  host: '127.0.0.1',
  httpPort: 0,
  mqttPort: 0,
  tenant: 't1',
  user: 'admin',
  password: 'admin',
  devicePassword: 'device',
  bootstrapPassword: 'bootstrap',
  operationTimeoutMs: 30_000,
  jwtLifetimeSec: 3600,
  idleTimeoutMs: 3_600_000,
  pendingClientBytesLimit: 1024 * 1024,
  maxPayload: 16 * 1024 * 1024,
  historyLimit: 10_000,
} as const;

function checkOptions(o: SimOptions): Required<Omit<SimOptions, 'users' | 'quiet'>> {
  const r = { ...SIM_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as Required<Omit<SimOptions, 'users' | 'quiet'>>;
  const bad = (name: string, why: string): never => {
    throw new SimError('SIM_ERR_CONFIG', `options.${name} ${why}`);
  };
  for (const k of ['httpPort', 'mqttPort'] as const) if (!Number.isInteger(r[k]) || r[k] < 0 || r[k] > 65535) bad(k, 'must be an integer 0-65535');
  for (const k of ['operationTimeoutMs', 'jwtLifetimeSec', 'idleTimeoutMs', 'pendingClientBytesLimit', 'maxPayload', 'historyLimit'] as const) {
    if (!Number.isFinite(r[k]) || r[k] <= 0) bad(k, 'must be a positive number');
  }
  for (const k of ['host', 'tenant', 'user', 'password', 'devicePassword', 'bootstrapPassword'] as const) if (typeof r[k] !== 'string' || r[k] === '') bad(k, 'must be a non-empty string');
  if (/[/:\s]/.test(r.tenant)) bad('tenant', 'must not contain "/", ":" or whitespace');
  if (/[/:\s]/.test(r.user) || r.user.startsWith('device_')) bad('user', 'must not contain "/", ":" or whitespace, nor start with device_');
  return r;
}

/** Starts an emulator; ports default to 0 (free ports). */
export async function startSim(options: SimOptions = {}): Promise<Sim> {
  const o = checkOptions(options);
  const events = new EventEmitter<SimEvents>();
  events.setMaxListeners(0);
  const faults: SimFaults = { deliveryDelayMs: 0, refuseDeviceUpgrade: 0, lenientSubprotocol: false, duplicateDelivery: false };
  const jwt = new JwtIssuer(o.tenant, o.jwtLifetimeSec);
  const auth = new Authenticator(o.tenant, o.devicePassword, jwt);
  auth.users.set(o.user, { password: o.password, roles: [...ADMIN_ROLES] });
  for (const u of options.users ?? []) auth.users.set(u.user, { password: u.password, roles: u.roles ?? [] });

  const store = new Store(o.historyLimit);
  store.events.on('operation', (op: SimOperation) => events.emit('operation', op));
  store.events.on('status', (op: SimOperation, status: OperationStatus) => events.emit('status', op, status));
  // waitForOperationStatus callers by operation id: a status change wakes only its own waiters, not every waiter.
  const waiters = new Map<string, Set<(op: SimOperation) => void>>();
  store.events.on('status', (op: SimOperation) => {
    for (const w of waiters.get(op.id) ?? []) w(op);
  });
  // The broker and the SmartREST handler refer to each other; the handler is built once both exist.
  const ref: { hooks?: ReturnType<typeof createSmartRestHandler> } = {};
  const broker = new SimBroker(
    auth,
    {
      onPublish: (...a) => ref.hooks?.onPublish(...a),
      onSubscribe: (...a) => ref.hooks?.onSubscribe(...a),
      isBootstrap: (user, pw) => extras.registration.isBootstrap(user, pw),
      onBootstrapRequest: (serial) => bootstrapLine(extras.registration.poll(serial)),
    },
    MAX_SMARTREST_PAYLOAD,
  );
  const delivery = new Delivery(store, broker, faults);
  ref.hooks = createSmartRestHandler({ store, broker, delivery, jwt, tenant: o.tenant, devicePassword: o.devicePassword, events });
  const ra = new RemoteAccess(store, delivery, auth, faults, events, o);
  const rest = new Rest(store, auth, delivery);
  const extras = createExtras(rest.ctx, { bootstrapPassword: o.bootstrapPassword });

  const sockets = new Set<Socket>();
  const browserConsole = createConsole({ auth, store, isConnected: (serial) => broker.isConnected(serial), sessions: () => ra.sessions(), history: (id) => store.history(id) });
  const server = http.createServer((req, res) => {
    if (!browserConsole(req, res)) rest.handle(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://sim');
    if (!ra.handleUpgrade(req, socket, head, url) && !extras.realtime.handleUpgrade(req, socket, head, url)) refuseUpgrade(socket, 404, 'Not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.httpPort, o.host, () => resolve());
  });
  server.removeAllListeners('error');
  server.on('error', () => {});
  try {
    await broker.start(o.host, o.mqttPort);
  } catch (err) {
    server.close();
    throw new SimError('SIM_ERR_CONFIG', `cannot listen for MQTT on ${o.host}:${o.mqttPort}: ${(err as Error).message}`, { cause: err });
  }
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  const httpPort = (server.address() as AddressInfo).port;
  const httpUrl = `http://${host}:${httpPort}`;
  store.baseUrl = httpUrl;
  let closed: Promise<void> | undefined;

  const copy = (op: SimOperation | undefined): SimOperation | undefined => (op ? structuredClone(op) : undefined);

  const sim: Sim = {
    httpUrl,
    wsUrl: `ws://${host}:${httpPort}`,
    mqttUrl: `mqtt://${host}:${broker.port}`,
    tenant: o.tenant,
    user: o.user,
    password: o.password,
    devicePassword: o.devicePassword,
    bootstrapPassword: o.bootstrapPassword,
    events,
    faults,
    adminAuthHeader: () => basicHeader(`${o.tenant}/${o.user}`, o.password),
    deviceAuthHeader: (serial) => basicHeader(`${o.tenant}/device_${serial}`, o.devicePassword),
    async createDevice(serial, opts = {}) {
      if (typeof serial !== 'string' || serial === '' || serial.includes(':')) throw new SimError('SIM_ERR_CONFIG', 'serial must be a non-empty string without ":"');
      let parentId: string | undefined;
      if (opts.parentSerial !== undefined) {
        parentId = store.findExternal('c8y_Serial', opts.parentSerial);
        if (parentId === undefined) throw new SimError('SIM_ERR_CONFIG', `parent device ${opts.parentSerial} does not exist`);
      }
      const { mo } = store.ensureDevice(serial, { name: opts.name ?? serial, type: parentId ? 'c8y_MQTTChildDevice' : 'c8y_MQTTDevice', parentId, agent: !parentId });
      return { id: mo.id };
    },
    async createConfiguration(deviceId, cfg) {
      if (!store.mo(deviceId)) throw new SimError('SIM_ERR_CONFIG', `device ${deviceId} does not exist`);
      try {
        return { id: store.addConfiguration(deviceId, validateConfiguration(cfg as unknown as Record<string, unknown>)).id };
      } catch (err) {
        throw new SimError('SIM_ERR_CONFIG', (err as Error).message, { cause: err });
      }
    },
    async createRemoteAccessOperation(deviceId, target) {
      if (!store.mo(deviceId)) throw new SimError('SIM_ERR_CONFIG', `device ${deviceId} does not exist`);
      return ra.createOperation(deviceId, target);
    },
    getOperation: (id) => copy(store.op(id)),
    listOperations: (filter) => store.operations(filter).map((op) => structuredClone(op)),
    operationHistory: (id) => store.history(id),
    waitForOperationStatus(id, status, timeoutMs = 10_000) {
      const want = new Set(Array.isArray(status) ? status : [status]);
      return new Promise<SimOperation>((resolve, reject) => {
        const now = store.op(id);
        if (now && want.has(now.status)) return resolve(structuredClone(now));
        const onStatus = (op: SimOperation): void => {
          if (!want.has(op.status)) return;
          cleanup();
          resolve(op);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`operation ${id} did not reach ${[...want].join('/')} within ${timeoutMs} ms (now ${store.op(id)?.status ?? 'missing'})`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          const set = waiters.get(id);
          set?.delete(onStatus);
          if (set?.size === 0) waiters.delete(id);
        };
        let set = waiters.get(id);
        if (!set) waiters.set(id, (set = new Set()));
        set.add(onStatus);
      });
    },
    supportedOperations(serial) {
      const id = store.findExternal('c8y_Serial', serial);
      const ops = id === undefined ? undefined : store.mo(id)?.c8y_SupportedOperations;
      return Array.isArray(ops) ? [...(ops as string[])] : undefined;
    },
    managedObject: (id) => store.managedObject(id),
    sessions: () => ra.sessions(),
    closeSession: (key) => ra.closeSession(key),
    dropDeviceLeg: (key) => ra.dropDeviceLeg(key),
    restartMqtt: (downMs = 0) => broker.restart(o.host, downMs),
    issueToken(user = o.user) {
      const { token, claims } = jwt.issue(user);
      return { token, xsrfToken: claims.xsrfToken };
    },
    close() {
      closed ??= (async () => {
        delivery.close();
        ra.close();
        extras.close();
        await Promise.all([
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            for (const s of sockets) s.destroy();
          }),
          broker.close(),
        ]);
        events.removeAllListeners();
      })();
      return closed;
    },
  };
  return sim;
}
