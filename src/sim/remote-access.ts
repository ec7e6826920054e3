/**
 * The CRA microservice's two WebSocket endpoints:
 * - client `/service/remoteaccess/client/{deviceId}/configurations/{configId}`: creates a
 *   c8y_RemoteAccessConnect operation with a fresh key and delivers it to the device's agent;
 * - device `/service/remoteaccess/device/{key}`: single-use, valid while the operation waits.
 * Both answer 101 with `Sec-WebSocket-Protocol: binary` whether or not it was offered (unless the
 * lenientSubprotocol fault is on), plus Cumulocity's extra headers. One coarse sweep timer handles
 * operation and idle timeouts for every session.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Authenticator, Principal } from './auth.js';
import { ROLE_REMOTE_ACCESS } from './auth.js';
import type { Delivery } from './delivery.js';
import { CLOUD_HEADERS, refuseUpgrade } from './http-util.js';
import { Session } from './session.js';
import type { Store } from './store.js';
import type { SessionInfo, SimEvents, SimFaults, SimOperation } from './types.js';

const CLIENT_PATH = /^\/service\/remoteaccess\/client\/([^/]+)\/configurations\/([^/]+)\/?$/;
const CLOSED = 3;
const DEVICE_PATH = /^\/service\/remoteaccess\/device\/([^/]+)\/?$/;

/** Settings of the remote access endpoints. */
export interface RemoteAccessOptions {
  operationTimeoutMs: number;
  idleTimeoutMs: number;
  pendingClientBytesLimit: number;
  maxPayload: number;
  /** Finished sessions kept for `sessions()` (the same bound as the final operations kept). */
  historyLimit: number;
}

/** The remote access endpoints and their sessions. */
export class RemoteAccess {
  readonly #wss: WebSocketServer;
  readonly #sessions = new Map<string, Session>();
  readonly #finished: string[] = [];
  readonly #sweep: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    private readonly delivery: Delivery,
    private readonly auth: Authenticator,
    private readonly faults: SimFaults,
    private readonly events: EventEmitter<SimEvents>,
    private readonly opts: RemoteAccessOptions,
  ) {
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      handleProtocols: (protocols) => (this.faults.lenientSubprotocol ? (protocols.has('binary') ? 'binary' : false) : 'binary'),
    });
    this.#wss.on('headers', (headers) => {
      if (!this.faults.lenientSubprotocol && !headers.some((h) => /^sec-websocket-protocol:/i.test(h))) headers.push('Sec-WebSocket-Protocol: binary');
      for (const [k, v] of CLOUD_HEADERS) headers.push(`${k}: ${v}`);
    });
    this.#wss.on('error', () => {});
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(opts.operationTimeoutMs, opts.idleTimeoutMs) / 4)));
    this.#sweep = setInterval(() => this.#sweepOnce(), every);
    this.#sweep.unref();
  }

  /** Handles an upgrade when the path is one of ours; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    const c = CLIENT_PATH.exec(url.pathname);
    if (c) {
      this.#clientUpgrade(req, socket, head, url, c[1]!, c[2]!);
      return true;
    }
    const d = DEVICE_PATH.exec(url.pathname);
    if (d) {
      this.#deviceUpgrade(req, socket, head, d[1]!);
      return true;
    }
    return false;
  }

  #clientUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, deviceId: string, configId: string): void {
    const p = this.auth.fromRequest(req, url);
    if (!p) return refuseUpgrade(socket, 401, 'Invalid credentials!');
    if (!p.roles.includes(ROLE_REMOTE_ACCESS)) return refuseUpgrade(socket, 403, 'Access is denied: remote access role missing');
    const mo = this.store.mo(deviceId);
    if (!mo) return refuseUpgrade(socket, 404, `Device ${deviceId.slice(0, 32)} not found`);
    const cfg = this.store.configuration(deviceId, configId);
    if (!cfg) return refuseUpgrade(socket, 404, `Configuration ${configId.slice(0, 32)} not found for device ${deviceId.slice(0, 32)}`);
    // Cumulocity terminates SSH and VNC in the cloud (the browser gets a terminal or a VNC stream, never
    // the device's bytes); relaying them raw would pretend, so they are refused. TELNET reaches the web
    // UI's terminal as the device's bytes, which answers the option negotiation itself: relayed.
    if (cfg.protocol === 'SSH' || cfg.protocol === 'VNC') {
      return refuseUpgrade(socket, 501, `Protocol ${cfg.protocol} is terminated in the cloud by Cumulocity; c8y-tunnel sim relays only PASSTHROUGH and TELNET configurations`);
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      const { session, op } = this.#open(deviceId, cfg.hostname, cfg.port, false);
      session.attachClient(ws);
      this.delivery.deliver(op);
    });
  }

  #deviceUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, key: string): void {
    const refuse = this.faults.refuseDeviceUpgrade;
    if (refuse) return refuseUpgrade(socket, refuse, `Refused by fault switch (${refuse})`);
    const p: Principal | undefined = this.auth.fromHeader(req.headers.authorization);
    if (!p) return refuseUpgrade(socket, 401, 'Invalid credentials!');
    if (p.kind !== 'device') return refuseUpgrade(socket, 403, 'Access is denied: not a device user');
    const s = this.#sessions.get(key);
    if (!s || !this.#keyValid(s)) return refuseUpgrade(socket, 404, `Connection key ${key.slice(0, 4)}... not found or expired`);
    s.claimed = true;
    this.#wss.handleUpgrade(req, socket, head, (ws) => s.attachDevice(ws));
  }

  /** A key is usable once, while its session waits and its operation is PENDING or EXECUTING. */
  #keyValid(s: Session): boolean {
    if (s.claimed || s.state !== 'waiting') return false;
    if (Date.now() - s.createdAt >= this.opts.operationTimeoutMs) return false;
    const status = this.store.op(s.operationId)?.status;
    return status === 'PENDING' || status === 'EXECUTING';
  }

  #open(deviceId: string, hostname: string, port: number, clientless: boolean): { session: Session; op: SimOperation } {
    const key = randomUUID();
    const op = this.store.createOperation(deviceId, { c8y_RemoteAccessConnect: { hostname, port, connectionKey: key } }, 'Connect to remote access server');
    const session = new Session(key, op.id, deviceId, clientless, this.opts.pendingClientBytesLimit, this.events);
    this.#sessions.set(key, session);
    return { session, op };
  }

  /** An operation plus a client-less session (agent tests, setup benchmark). */
  createOperation(deviceId: string, target: { hostname: string; port: number }): SimOperation {
    const { op } = this.#open(deviceId, target.hostname, target.port, true);
    this.delivery.deliver(op);
    return structuredClone(op);
  }

  #sweepOnce(): void {
    const now = Date.now();
    for (const s of this.#sessions.values()) {
      if (s.state === 'waiting' && !s.claimed) {
        if (now - s.createdAt < this.opts.operationTimeoutMs) continue;
        const op = this.store.op(s.operationId);
        if (op && (op.status === 'PENDING' || op.status === 'EXECUTING')) {
          this.store.setStatus(op.id, 'FAILED', `Device did not connect within ${Math.round(this.opts.operationTimeoutMs / 1000)} s (remoteaccess.operation.timeout)`);
        }
        s.close(1011, 'device did not connect in time');
        this.#retire(s);
      } else if (s.state === 'paired') {
        const total = s.clientToDevice + s.deviceToClient;
        if (total !== s.lastTotal) {
          s.lastTotal = total;
          s.lastActive = now;
        } else if (now - s.lastActive >= this.opts.idleTimeoutMs) {
          s.close(1000, 'idle timeout');
        }
      } else if (s.state === 'closed' && !s.retired) {
        this.#retire(s);
      }
    }
  }

  /** Keeps a bounded number of finished sessions for `sessions()`. */
  #retire(s: Session): void {
    if (s.state !== 'closed' || s.retired) return;
    s.retired = true;
    // Closed legs are dropped so a kept session is only its counters.
    if (s.client?.readyState === CLOSED) s.client = undefined;
    if (s.device?.readyState === CLOSED) s.device = undefined;
    this.#finished.push(s.key);
    while (this.#finished.length > this.opts.historyLimit) this.#sessions.delete(this.#finished.shift()!);
  }

  /** Live and finished sessions. */
  sessions(): SessionInfo[] {
    return [...this.#sessions.values()].map((s) => s.info());
  }

  /** Closes a session's legs with 1000. */
  closeSession(key: string): boolean {
    const s = this.#sessions.get(key);
    if (!s || s.state === 'closed') return false;
    s.close(1000);
    return true;
  }

  /** Drops the device leg with no close frame. */
  dropDeviceLeg(key: string): boolean {
    return this.#sessions.get(key)?.dropDevice() ?? false;
  }

  /** Terminates every leg and stops the sweep. */
  close(): void {
    clearInterval(this.#sweep);
    for (const s of this.#sessions.values()) {
      for (const ws of [s.client, s.device] as Array<WebSocket | undefined>) ws?.terminate();
    }
    this.#wss.close();
  }
}
