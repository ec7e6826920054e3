/**
 * The MQTT link to Cumulocity (SmartREST 2.0 static templates and JSON notifications).
 *
 * One `mqtt` client per connection attempt (its own reconnect is off): on every connect the agent sends
 * 100, subscribes, sends 114 and 122 (507 once per run, before subscribing), then releases the status
 * outbox. On a drop, unacknowledged statuses go back into the outbox and a new attempt follows after an
 * exponential, jittered delay. Tunnels never depend on this link.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { isTlsVerifyError } from '../net/tls-errors.js';
import { AgentError } from '../errors.js';
import { isDeviceExistsReply, parseDownstream, parseJwtReply, parseOperationJson, validOperationId } from '../cumulocity/inbound.js';
import {
  agentLine,
  deviceCreationLine,
  failExecutingLine,
  offlineAlarmLine,
  PENDING_OPERATIONS_LINE,
  statusLine,
  supportedOperationsLine,
  type OpStatus,
} from '../cumulocity/templates.js';
import { redactKey, redactUrl } from './log.js';
import { RestClient } from './rest-client.js';
import { StatusQueue, type OutboxMessage } from './status-queue.js';
import { announcedOperations, backoffDelay, deliverOperation, TransportBase, type Transport } from './transport.js';

const JSON_TOPIC = 'devicecontrol/notifications';
/** Keys of operations found already final after a reconnect, whose later by-name statuses are dropped. */
const SETTLED_LIMIT = 10_000;

/** The MQTT transport. */
export class MqttTransport extends TransportBase implements Transport {
  private client: MqttClient | undefined;
  private readonly queue = new StatusQueue();
  private attempts = 0;
  private everReady = false;
  private cleanedUp = false;
  private stopping = false;
  private ready = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private startWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private jwtWaiters: Array<{ resolve: (t: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  private jwtRequested = false;
  /** Connection keys whose by-name statuses must no longer go out (see settleUncertain()). */
  private readonly settled = new Set<string>();
  private rest: RestClient | undefined;
  private readonly warned = new WeakSet<MqttClient>();
  /** Connections made so far. */
  connects = 0;


  get connected(): boolean {
    return this.ready;
  }

  pendingStatus(): number {
    return this.queue.size;
  }

  start(): Promise<void> {
    // stop() may come first (a signal while the agent starts): then there is nothing to start.
    if (this.stopping) return Promise.reject(new AgentError('AGENT_ERR_SHUTDOWN', 'agent stopped before MQTT connected'));
    return new Promise((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      this.attempt();
    });
  }

  report(ref: { serial: string; id?: string; key?: string }, status: OpStatus, reason?: string): void {
    const msg: OutboxMessage = { topic: this.upTopic(ref.serial), payload: statusLine(ref, status, reason) };
    if (ref.id === undefined && ref.key !== undefined) {
      if (this.settled.has(ref.key)) {
        this.log.info({ key: redactKey(ref.key), status }, 'status not sent: the cloud already has a final status for this operation');
        return;
      }
      msg.byName = { serial: ref.serial, key: ref.key, status, ...(reason !== undefined ? { reason } : {}) };
    }
    this.queue.push(msg);
  }

  private upTopic(serial: string): string {
    return serial === this.cfg.deviceId ? 's/us' : `s/us/${serial}`;
  }

  private options(): IClientOptions {
    const o: IClientOptions = {
      clientId: `d:${this.cfg.deviceId}`,
      username: `${this.cfg.tenant}/${this.cfg.user}`,
      password: this.cfg.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      keepalive: 60,
      will: { topic: 's/us', payload: Buffer.from(offlineAlarmLine()), qos: 1, retain: false },
      rejectUnauthorized: !this.cfg.insecure,
    };
    if (this.cfg.ca.length > 0) o.ca = this.cfg.ca;
    return o;
  }

  private attempt(): void {
    this.reconnectTimer = undefined;
    if (this.stopping) return;
    const client = connect(this.cfg.mqttUrl, this.options());
    this.client = client;
    client.on('connect', () => {
      // A client stop() gave up on while it was still connecting: mqtt.js may still finish the handshake.
      if (this.client !== client) return void destroyClient(client);
      this.connects++;
      // Statuses are small writes that must not wait for Nagle (40 ms with delayed ACKs).
      (client.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.onConnect(client).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'MQTT start-up sequence failed; reconnecting');
        client.end(true);
      });
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err: Error & { code?: unknown }) => this.onError(client, err));
    client.on('close', () => this.onClose(client));
  }

  private onError(client: MqttClient, err: Error & { code?: unknown }): void {
    if (this.client !== client) return;
    const rc = typeof err.code === 'number' ? err.code : undefined;
    if (rc === 4 || rc === 5) {
      const e = new AgentError('AGENT_ERR_MQTT', `MQTT broker refused the connection: ${rc === 4 ? 'bad user name or password' : 'not authorized'} (CONNACK ${rc})`, { cause: err });
      if (!this.everReady && this.startWaiter) {
        // Wrong credentials at start are a configuration error, not something to retry forever.
        this.startWaiter.reject(e);
        this.startWaiter = undefined;
        this.stopping = true;
        client.end(true);
        return;
      }
      this.log.error({ code: e.code }, e.message);
      return;
    }
    if (!this.everReady && this.startWaiter && typeof err.code === 'string' && isTlsVerifyError(err.code)) {
      // A certificate the agent does not trust will not fix itself: fail the start (see --ca, --insecure).
      this.startWaiter.reject(new AgentError('AGENT_ERR_MQTT', `TLS verification of the MQTT broker failed (${err.code}); add its CA with --ca`, { syscode: err.code, cause: err }));
      this.startWaiter = undefined;
      this.stopping = true;
      client.end(true);
      return;
    }
    // One WARN per connection attempt: over TLS mqtt.js reports the same failure twice.
    if (this.warned.has(client)) return this.log.debug({ err: err.message, code: err.code }, 'MQTT error (again)');
    this.warned.add(client);
    this.log.warn({ err: err.message, code: err.code, url: redactUrl(this.cfg.mqttUrl) }, 'MQTT error');
  }

  private onClose(client: MqttClient): void {
    if (this.client !== client) return;
    const wasReady = this.ready;
    this.ready = false;
    this.queue.detach();
    this.client = undefined;
    client.removeAllListeners('message');
    client.end(true);
    if (wasReady) {
      this.log.warn({ queued: this.queue.size }, 'MQTT disconnected; tunnels keep running, statuses are queued');
      this.events.emit('transport:disconnected');
    }
    if (this.stopping) return;
    const delay = backoffDelay(this.attempts++, this.cfg.reconnectMinMs, this.cfg.reconnectMaxMs);
    this.log.info({ inMs: delay, attempt: this.attempts, url: redactUrl(this.cfg.mqttUrl) }, 'MQTT reconnect scheduled');
    this.reconnectTimer = setTimeout(() => this.attempt(), delay);
  }

  private publish(client: MqttClient, topic: string, payload: string, qos: 0 | 1 = 1): Promise<void> {
    return new Promise((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * One start-up step with a deadline: a broker that never acks it (a lost PUBACK or SUBACK on a link
   * that otherwise looks healthy) must not wedge the agent; the timeout fails onConnect, which
   * reconnects. `what` names the step in the log.
   */
  private step<T>(what: string, p: Promise<T>): Promise<T> {
    const ms = this.cfg.mqttAckTimeoutMs;
    this.log.debug({ step: what }, 'MQTT start-up: waiting');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new AgentError('AGENT_ERR_MQTT', `start-up step timed out: ${what} not answered within ${ms} ms`)), ms);
    });
    return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
  }

  private async onConnect(client: MqttClient): Promise<void> {
    const first = !this.everReady;
    await this.step('PUBACK of 100 (device creation)', this.publish(client, 's/us', deviceCreationLine(this.cfg.deviceId)));
    if (first && !this.cleanedUp) {
      // Before subscribing, so it can never fail an operation of this run.
      await this.step('PUBACK of 507 (clean-up)', this.publish(client, 's/us', failExecutingLine()));
      this.cleanedUp = true;
    }
    const topics = ['s/ds', 's/e', JSON_TOPIC, ...(this.cfg.auth === 'jwt' ? ['s/dat'] : [])];
    const granted = await this.step(
      `SUBACK of ${topics.join(', ')}`,
      new Promise<Array<{ topic: string; qos: number }>>((resolve, reject) =>
        client.subscribe(topics, { qos: 1 }, (err, g) => (err ? reject(err) : resolve((g ?? []) as Array<{ topic: string; qos: number }>))),
      ),
    );
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0) throw new Error(`subscription refused for ${refused.join(', ')}`);
    await this.step('PUBACK of 114 (supported operations)', this.publish(client, 's/us', supportedOperationsLine(announcedOperations(this.cfg))));
    await this.step('PUBACK of 122 (agent name)', this.publish(client, 's/us', agentLine(this.cfg.agentName, this.version)));
    if (this.client !== client) return;
    await this.step('operation lookup over REST', this.settleUncertain());
    if (this.client !== client) return;
    this.ready = true;
    this.everReady = true;
    this.attempts = 0;
    this.queue.attach((msg: OutboxMessage, done) => client.publish(msg.topic, msg.payload, { qos: 1 }, (err) => done(err ?? undefined)));
    if (this.jwtWaiters.length > 0) this.requestJwt(client);
    if (!first) client.publish('s/us', PENDING_OPERATIONS_LINE, { qos: 1 });
    this.log.info({ url: redactUrl(this.cfg.mqttUrl), clientId: `d:${this.cfg.deviceId}`, first }, 'MQTT connected');
    this.events.emit('transport:connected', { first });
    if (this.startWaiter) {
      this.startWaiter.resolve();
      this.startWaiter = undefined;
    }
  }

  /**
   * A by-name status (501/502/503) that was in flight when the link dropped may or may not have been
   * applied; sent again, it would land on the device's next oldest operation. So before anything is
   * re-sent, the agent asks the cloud over REST for the device's active c8y_RemoteAccessConnect
   * operations and finds each uncertain one by its connection key: still active, its statuses go by id
   * (504/505/506) and the operation is reported by id from then on; no longer active (its final status
   * was applied), its by-name statuses are dropped. When the lookup fails, the uncertain statuses are
   * dropped (a missing status is recoverable, 507 at the next start and the cloud's own timeout end the
   * operation; a status on the wrong operation is not), with a warning.
   */
  private async settleUncertain(): Promise<void> {
    const unsure = this.queue.uncertain();
    if (unsure.length === 0) return;
    const keys = new Set(unsure.map((m) => m.byName!.key));
    const serials = new Set(unsure.map((m) => m.byName!.serial));
    const active = new Map<string, { id: string; status: string }>();
    let ok = true;
    try {
      this.rest ??= new RestClient(this.cfg, Math.max(1000, this.cfg.mqttAckTimeoutMs - 500));
      for (const serial of serials) {
        const mo = await this.rest.deviceId(serial);
        if (mo === undefined) continue;
        for (const status of ['EXECUTING', 'PENDING'] as const) {
          for (const o of await this.rest.operations(mo, status)) {
            const op = o as { id?: unknown; status?: unknown; c8y_RemoteAccessConnect?: { connectionKey?: unknown } };
            const key = op.c8y_RemoteAccessConnect?.connectionKey;
            const id = validOperationId(op.id);
            if (typeof key === 'string' && keys.has(key) && id !== undefined) active.set(key, { id, status });
          }
        }
      }
    } catch (err) {
      ok = false;
      this.log.warn({ err: (err as Error).message, statuses: unsure.length }, 'could not look up operation ids after a reconnect; statuses that may already have been applied are dropped rather than re-sent by name');
    }
    let rewritten = 0;
    const dropped = this.queue.rewrite((msg, uncertain) => {
      const b = msg.byName;
      if (!b || !keys.has(b.key)) return undefined;
      const found = ok ? active.get(b.key) : undefined;
      if (!found) {
        this.settle(b.key);
        return ok || uncertain ? null : undefined;
      }
      this.handlers.learnedId?.(b.key, found.id);
      // An uncertain EXECUTING that the cloud shows applied needs no second copy.
      if (uncertain && b.status === 'EXECUTING' && found.status === 'EXECUTING') return null;
      rewritten++;
      return { topic: msg.topic, payload: statusLine({ id: found.id }, b.status as OpStatus, b.reason) };
    });
    this.log.info({ uncertain: unsure.length, byId: rewritten, dropped }, 'statuses in flight at the disconnect settled by operation id');
  }

  private settle(key: string): void {
    this.settled.add(key);
    if (this.settled.size > SETTLED_LIMIT) this.settled.delete(this.settled.values().next().value!);
  }

  private onMessage(topic: string, payload: Buffer): void {
    try {
      this.dispatch(topic, payload);
    } catch (err) {
      // Nothing the cloud sends may take the agent down.
      this.log.error({ topic, err: err instanceof Error ? err.message : String(err) }, 'error while handling an MQTT message');
    }
  }

  private dispatch(topic: string, payload: Buffer): void {
    const text = payload.toString('utf8');
    switch (topic) {
      case 's/ds': {
        const r = parseDownstream(text, this.serials);
        for (const e of r.errors) this.handlers.malformed({ serial: e.serial }, e.error);
        for (const req of r.requests) this.handlers.request(req);
        return;
      }
      case JSON_TOPIC: {
        let obj: unknown;
        try {
          obj = JSON.parse(text);
        } catch {
          this.log.warn({ bytes: payload.length }, 'malformed JSON notification ignored');
          return;
        }
        deliverOperation(this.handlers, parseOperationJson(obj, this.serials, this.cfg.deviceId, 'json'));
        return;
      }
      case 's/e': {
        if (isDeviceExistsReply(text)) this.log.debug('device already exists (41,100)');
        else this.log.warn({ line: text.trim().slice(0, 200) }, 'error reply from Cumulocity on s/e');
        return;
      }
      case 's/dat': {
        const token = parseJwtReply(text);
        if (token !== undefined) this.resolveJwt(token);
        return;
      }
    }
  }

  fetchJwt(): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.jwtWaiters = this.jwtWaiters.filter((w) => w.timer !== timer);
        if (this.jwtWaiters.length === 0) this.jwtRequested = false;
        reject(new AgentError('AGENT_ERR_JWT', `no JWT on s/dat within ${this.cfg.jwtTimeoutMs} ms`));
      }, this.cfg.jwtTimeoutMs);
      this.jwtWaiters.push({ resolve, reject, timer });
      if (this.ready && this.client && !this.jwtRequested) this.requestJwt(this.client);
    });
  }

  private requestJwt(client: MqttClient): void {
    this.jwtRequested = true;
    client.publish('s/uat', '', { qos: 0 });
  }

  private resolveJwt(token: string): void {
    this.jwtRequested = false;
    for (const w of this.jwtWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.resolve(token);
    }
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.rest?.close();
    clearTimeout(this.reconnectTimer);
    for (const w of this.jwtWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new AgentError('AGENT_ERR_SHUTDOWN'));
    }
    if (this.startWaiter) {
      this.startWaiter.reject(new AgentError('AGENT_ERR_SHUTDOWN', 'agent stopped before MQTT connected'));
      this.startWaiter = undefined;
    }
    const client = this.client;
    if (!client) return;
    if (this.ready && this.queue.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.queue.drained(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    if (this.queue.size > 0) this.log.warn({ lost: this.queue.size }, 'status updates not delivered before shutdown');
    this.client = undefined;
    this.ready = false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        destroyClient(client);
        resolve();
      }, 1000);
      client.end(false, {}, () => {
        clearTimeout(t);
        // end() while connecting does not always close the socket (mqtt.js 5): nothing may outlive stop().
        destroyClient(client);
        resolve();
      });
    });
  }
}

/** Ends a client for good, its socket included (end(true) alone leaves a socket that is still connecting). */
function destroyClient(client: MqttClient): void {
  client.end(true);
  (client.stream as { destroy?: () => void } | undefined)?.destroy?.();
}
