/**
 * The emulator's MQTT side: an in-process aedes broker on a plain TCP port, with Cumulocity's rules on
 * top. Devices never see each other's traffic although they use the same topic names: nothing is
 * routed between clients (authorizeForward drops every routed packet); the emulator writes downstream
 * messages (`s/ds`, `s/e`, `s/dat`, `devicecontrol/notifications`) straight to the one client of the
 * target device, and only when that client subscribed to the topic.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { AuthenticateError, Client, AedesPublishPacket, PublishPacket } from 'aedes';
import type { Authenticator } from './auth.js';

/** The origin marker of packets the emulator itself writes to a client. */
const SIM_ORIGIN = '$c8y-sim';

/** What the broker hands to the SmartREST logic. */
export interface BrokerHooks {
  /** A device published; `payload` is at most the cap (larger ones are answered on s/e here). */
  onPublish(serial: string, topic: string, payload: Buffer, clientId: string): void;
  /** A device subscribed to topics. */
  onSubscribe(serial: string, topics: string[]): void;
  /** Device bootstrap (optional): whether these are the bootstrap user's credentials. */
  isBootstrap?(username: string, password: string): boolean;
  /** A bootstrap client published on `s/ucr`: the line to answer on `s/dcr`, or undefined while not accepted. */
  onBootstrapRequest?(serial: string): string | undefined;
}

/** Parses `[d:]serial[:xid]`; undefined when malformed. */
export function serialFromClientId(id: string): string | undefined {
  const parts = id.split(':');
  if (parts.length === 1) return parts[0] || undefined;
  if (parts.length === 2 || parts.length === 3) return parts[0] === 'd' && parts[1] ? parts[1] : undefined;
  return undefined;
}

/** MQTT topic filter matching (`+`, `#`). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function authError(code: 2 | 4 | 5, message: string): AuthenticateError {
  const e = new Error(message) as AuthenticateError;
  e.returnCode = code;
  return e;
}

/** The broker plus its TCP listener. */
export class SimBroker {
  aedes!: Aedes;
  port = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  /** serial -> the connected client of that device. */
  readonly #bySerial = new Map<string, Client>();
  readonly #serialOf = new WeakMap<Client, string>();
  /** Clients logged in as the bootstrap user: they may only ask for credentials on `s/ucr`. */
  readonly #bootstrap = new WeakSet<Client>();

  constructor(
    private readonly auth: Authenticator,
    private readonly hooks: BrokerHooks,
    readonly maxPayload: number,
  ) {
    this.#server = net.createServer((socket) => {
      this.#sockets.add(socket);
      // Small SmartREST lines must not wait for Nagle + delayed ACK (about 40 ms per round trip).
      socket.setNoDelay(true);
      socket.on('error', () => {});
      socket.on('close', () => this.#sockets.delete(socket));
      this.aedes.handle(socket);
    });
    this.#server.on('error', () => {});
  }

  /** Creates the broker and listens. */
  async start(host: string, port: number): Promise<number> {
    this.aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => this.#authorizePublish(client, packet, cb),
      authorizeSubscribe: (_client, sub, cb) => cb(null, sub.topic.startsWith('$SYS') ? null : sub),
      authorizeForward: (_client, packet) => ((packet as { clientId?: string }).clientId === SIM_ORIGIN ? packet : null),
    });
    this.aedes.on('clientDisconnect', (client) => this.#onGone(client));
    this.aedes.on('subscribe', (subs, client) => {
      const serial = this.#serialOf.get(client);
      if (serial !== undefined) this.hooks.onSubscribe(serial, subs.map((s) => s.topic));
    });
    (this.aedes as unknown as NodeJS.EventEmitter).on('error', () => {});
    await this.#listen(host, port);
    return this.port;
  }

  #listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onErr = (err: Error): void => reject(err);
      this.#server.once('error', onErr);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onErr);
        this.port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, ok: boolean | null) => void): void {
    const serial = serialFromClientId(client.id);
    if (serial === undefined) return done(authError(2, 'client id rejected'), null);
    const p = username !== undefined && password !== undefined ? this.auth.checkPassword(username, password.toString('utf8')) : undefined;
    if (!p && username !== undefined && password !== undefined && this.hooks.isBootstrap?.(username, password.toString('utf8'))) {
      // Not registered by serial: a bootstrap connection never replaces or receives a device's traffic.
      this.#bootstrap.add(client);
      return done(null, true);
    }
    if (!p) return done(authError(4, 'bad user name or password'), null);
    // A device user may only speak for its own serial (the admin user may speak for any).
    if (p.kind === 'device' && p.serial !== serial) return done(authError(5, 'not authorized'), null);
    this.#serialOf.set(client, serial);
    // Registered before CONNACK, so replies to publishes pipelined behind CONNECT are not lost.
    const old = this.#bySerial.get(serial);
    this.#bySerial.set(serial, client);
    // Uniqueness by identifier: `d:x` and `x` are the same device; the newer connection wins.
    if (old && old !== client && !old.closed) old.close();
    done(null, true);
  }

  #onGone(client: Client): void {
    const serial = this.#serialOf.get(client);
    if (serial !== undefined && this.#bySerial.get(serial) === client) this.#bySerial.delete(serial);
  }

  #authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void): void {
    if (client && this.#bootstrap.has(client)) {
      // Asked only while subscribed to s/dcr: issued credentials are handed out once and must not be lost.
      const serial = serialFromClientId(client.id);
      const asks = packet.topic === 's/ucr' && serial !== undefined && this.#qos(client, 's/dcr') !== undefined;
      const line = asks ? this.hooks.onBootstrapRequest?.(serial) : undefined;
      if (line !== undefined) this.#write(client, 's/dcr', line);
      return cb(null);
    }
    const serial = client ? this.#serialOf.get(client) : undefined;
    if (client && serial !== undefined) {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      try {
        this.hooks.onPublish(serial, packet.topic, payload, client.id);
      } catch {
        // the SmartREST logic answers on s/e itself; nothing may reach the broker
      }
    }
    cb(null);
  }

  /** Whether the device's client is connected and subscribed to a filter matching `topic`. */
  subscribedQos(serial: string, topic: string): number | undefined {
    return this.#qos(this.#bySerial.get(serial), topic);
  }

  #qos(client: Client | undefined, topic: string): number | undefined {
    if (!client || client.closed) return undefined;
    const subs = (client as unknown as { subscriptions?: Record<string, { qos?: number }> }).subscriptions ?? {};
    let best: number | undefined;
    for (const [filter, s] of Object.entries(subs)) {
      if (topicMatches(filter, topic)) best = Math.max(best ?? 0, s.qos ?? 0);
    }
    return best;
  }

  /** Whether a client of this device is connected. */
  isConnected(serial: string): boolean {
    const c = this.#bySerial.get(serial);
    return c !== undefined && !c.closed;
  }

  /** Writes a message to the device's client if it subscribed; returns whether it did. */
  deliver(serial: string, topic: string, payload: string | Buffer): boolean {
    const client = this.#bySerial.get(serial);
    return client !== undefined && this.#write(client, topic, payload);
  }

  /** Writes a message to one client if it subscribed to a matching filter. */
  #write(client: Client, topic: string, payload: string | Buffer): boolean {
    const qos = this.#qos(client, topic);
    if (qos === undefined) return false;
    const packet = { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: Math.min(qos, 1), retain: false, dup: false, clientId: SIM_ORIGIN } as unknown as AedesPublishPacket;
    client.publish(packet, () => {});
    return true;
  }

  /** Drops every client and stops listening; listens again on the same port after `downMs`. */
  async restart(host: string, downMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
    this.#bySerial.clear();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.#listen(host, this.port);
  }

  /** Closes the listener, every client and the broker. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}
