/**
 * Operation handling, the agent's hot path: de-duplication by connection key, policy and session limit,
 * status sequencing (EXECUTING, then SUCCESSFUL or FAILED), and one engine.open() per operation. The
 * order in which statuses reach the transport (by id, or by name in arrival order) is status-order.ts.
 */
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine/engine.js';
import type { TunnelSpec } from '../engine/types.js';
import { SEEN_LIMIT } from '../constants.js';
import { C8yTunnelError } from '../errors.js';
import type { RemoteAccessRequest } from '../cumulocity/inbound.js';
import { sanitizeReason } from '../cumulocity/smartrest.js';
import type { OpStatus } from '../cumulocity/templates.js';
import { operationChannels, type AgentEvents, type OperationDuplicateMessage, type OperationFinishedMessage, type OperationReceivedMessage, type OperationStatusMessage } from './events.js';
import { redactKey, scrub, type Logger } from './log.js';
import type { Policy } from './policy.js';
import { newOp, StatusOrder, type Op, type StatusSink } from './status-order.js';

export type { OpStatus } from '../cumulocity/templates.js';
export type { StatusSink } from './status-order.js';

/** What the operations module needs. */
export interface OperationsDeps {
  engine: Engine;
  sink: StatusSink;
  log: Logger;
  policy: Policy;
  maxSessions: number;
  wsBase: string;
  /** Authorization header now, or a promise of it (jwt fetch). */
  authorization(): string | Promise<string>;
  /** The cloud answered 401 to a device upgrade (a cached JWT may be stale). */
  authRejected?(): void;
  /** Spec fields common to every tunnel (tls, proxy, timeouts). */
  specDefaults: Partial<TunnelSpec>;
  /** How long a 530 holds its statuses for a JSON twin, once twins have been seen (0 = never hold). */
  dedupeWindowMs: number;
  /** The `agent` field of every operation channel message (default: this coordinator). */
  agent?: object;
  events: EventEmitter<AgentEvents>;
}

/** Counters for stats(). */
export interface OperationStats {
  received: number;
  duplicates: number;
  active: number;
  successful: number;
  failed: number;
  malformed: number;
  /** Connection keys remembered for de-duplication (at most 10,000). */
  remembered: number;
}

/** The operation coordinator. */
export class Operations {
  private readonly seen = new Map<string, Op>();
  private readonly order: StatusOrder;
  private active = 0;
  private stopping = false;
  /** Set once the same operation arrived both as 530 and as JSON: from then on a 530 waits for its twin. */
  private twinsSeen = false;
  /** 530s in a row whose hold expired without a twin; after a few, stop holding. */
  private lonely = 0;
  readonly counts: Omit<OperationStats, 'active' | 'remembered'> = { received: 0, duplicates: 0, successful: 0, failed: 0, malformed: 0 };

  private readonly agent: object;

  constructor(private readonly d: OperationsDeps) {
    this.agent = d.agent ?? this;
    this.order = new StatusOrder(d.sink);
  }

  stats(): OperationStats {
    return { ...this.counts, active: this.active, remembered: this.seen.size };
  }

  /** Refuse new operations from now on (shutdown). */
  stop(): void {
    this.stopping = true;
  }

  /**
   * A malformed operation: FAILED by id when it has one; a bare 530 is failed by name in its place in the
   * arrival order (it is still the device's oldest PENDING one; skipping it would make the next 501 hit it).
   */
  rejectMalformed(ref: { serial: string; id?: string }, err: C8yTunnelError): void {
    this.counts.malformed++;
    this.d.log.warn({ code: err.code, id: ref.id, serial: ref.serial }, `malformed remote access operation: ${err.message}`);
    if (this.stopping) return;
    const reason = sanitizeReason(`malformed operation: ${err.message}`);
    if (ref.id !== undefined) {
      this.d.sink.report(ref, 'EXECUTING');
      this.d.sink.report(ref, 'FAILED', reason);
      return;
    }
    const op = newOp({ serial: ref.serial, host: '', port: 0, key: '', via: '530' }, performance.now());
    op.out.push({ status: 'EXECUTING' }, { status: 'FAILED', reason });
    op.final = true;
    this.order.join(op);
    this.order.flushChain(ref.serial);
  }

  /** Handles one request from any path. Never throws. */
  handle(req: RemoteAccessRequest): void {
    const prior = this.seen.get(req.key);
    if (prior) {
      this.onDuplicate(prior, req);
      return;
    }
    if (this.stopping) {
      this.d.log.info({ key: redactKey(req.key), id: req.id }, 'operation ignored: agent is shutting down');
      return;
    }
    this.counts.received++;
    const op = newOp(req, performance.now());
    this.remember(req.key, op);
    this.d.events.emit('operation', { id: req.id, serial: req.serial, host: req.host, port: req.port, key: redactKey(req.key), via: req.via });
    if (operationChannels.received.hasSubscribers) {
      operationChannels.received.publish({ agent: this.agent, id: req.id, key: redactKey(req.key), serial: req.serial, host: req.host, port: req.port, via: req.via } satisfies OperationReceivedMessage);
    }
    if (op.id === undefined) {
      if (this.twinsSeen && this.d.dedupeWindowMs > 0) {
        op.holding = true;
        op.holdTimer = setTimeout(() => this.release(op), this.d.dedupeWindowMs);
      }
      this.order.join(op);
    }
    this.start(op);
  }

  private onDuplicate(prior: Op, req: RemoteAccessRequest): void {
    this.counts.duplicates++;
    if (operationChannels.duplicate.hasSubscribers) {
      operationChannels.duplicate.publish({ agent: this.agent, id: req.id ?? prior.id, key: redactKey(req.key), via: req.via } satisfies OperationDuplicateMessage);
    }
    if (req.via !== prior.req.via) {
      this.twinsSeen = true;
      this.lonely = 0;
    }
    if (req.id !== undefined && prior.id === undefined) {
      // The JSON twin of a 530: every status not sent yet goes by id.
      prior.id = req.id;
      if (prior.holding) {
        // Nothing was sent by name: leave the name chain altogether.
        prior.holding = false;
        clearTimeout(prior.holdTimer);
        prior.inChain = false;
        this.order.flushById(prior);
      }
      // Still in the chain (its 501 went out): it stays a barrier until its final status, now sent by id.
      this.order.flushChain(prior.req.serial);
      return;
    }
    this.d.log.debug({ key: redactKey(req.key), via: req.via }, 'duplicate operation dropped');
  }

  private release(op: Op): void {
    if (!op.holding) return;
    op.holding = false;
    // The cloud stopped sending JSON twins: report 530s by name at once again.
    if (++this.lonely >= 3) this.twinsSeen = false;
    this.order.flushChain(op.req.serial);
  }

  /**
   * Keys are remembered (to drop duplicates) in arrival order, at most SEEN_LIMIT of them. Past the
   * limit the oldest key is forgotten, finished or not: its operation keeps running (the Op object is
   * held by its chain and its tunnel), only a duplicate of something 10,000 operations old would no
   * longer be recognised. O(1) per operation: a Map iterates in insertion order.
   */
  private remember(key: string, op: Op): void {
    this.seen.set(key, op);
    while (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.keys().next().value!);
  }

  private start(op: Op): void {
    const { req } = op;
    if (!this.d.policy.allows(req.host, req.port)) {
      this.fail(op, 'AGENT_ERR_POLICY_DENIED', `policy denies target ${fmtTarget(req.host, req.port)}`);
      return;
    }
    if (this.active >= this.d.maxSessions) {
      this.fail(op, 'AGENT_ERR_SESSION_LIMIT', `session limit reached (${this.d.maxSessions} concurrent sessions)`);
      return;
    }
    this.active++;
    this.emit(op, 'EXECUTING');
    let auth: string | Promise<string>;
    try {
      auth = this.d.authorization();
    } catch (err) {
      this.active--;
      this.failErr(op, err);
      return;
    }
    if (typeof auth === 'string') this.open(op, auth);
    else
      auth.then(
        (a) => this.open(op, a),
        (err: unknown) => {
          this.active--;
          this.failErr(op, err);
        },
      );
  }

  private open(op: Op, authorization: string): void {
    const { req } = op;
    const spec: TunnelSpec = {
      ...this.d.specDefaults,
      host: req.host,
      port: req.port,
      url: `${this.d.wsBase}/service/remoteaccess/device/${req.key}`,
      headers: { Authorization: authorization },
      label: op.id ?? redactKey(req.key),
    };
    const h = this.d.engine.open(spec);
    h.established.then(
      () => {
        this.counts.successful++;
        this.emit(op, 'SUCCESSFUL');
      },
      (err: unknown) => this.failErr(op, err, true),
    );
    h.closed.then((summary) => {
      this.active--;
      if (operationChannels.finished.hasSubscribers) {
        operationChannels.finished.publish({ agent: this.agent, id: op.id, key: redactKey(req.key), summary } satisfies OperationFinishedMessage);
      }
      const key = redactKey(req.key);
      this.d.events.emit('session:closed', { id: op.id, key, code: summary.code, bytesUp: summary.bytesUp, bytesDown: summary.bytesDown, bytesDiscarded: summary.bytesDiscarded ?? 0, wsCloseCode: summary.wsCloseCode, peakBufferedUp: summary.peakBufferedUp ?? 0, peakBufferedDown: summary.peakBufferedDown ?? 0 });
    });
  }

  private failErr(op: Op, err: unknown, execSent = true): void {
    const code = err instanceof C8yTunnelError ? err.code : 'TUN_ERR_INTERNAL';
    if (err instanceof C8yTunnelError && err.status === 401) this.d.authRejected?.();
    let msg = err instanceof Error ? err.message : String(err);
    // Descriptor exhaustion is a limit of this device, not a fault of the cloud or the target: say so.
    const sys = err instanceof C8yTunnelError ? err.syscode : undefined;
    const fdLimit = sys === 'EMFILE' || sys === 'ENFILE' ? sys : /\b(EMFILE|ENFILE)\b/.exec(msg)?.[1];
    if (fdLimit !== undefined) msg = `the agent ran out of file descriptors (${fdLimit}): raise its open-files limit (ulimit -n, systemd LimitNOFILE=)`;
    this.fail(op, code, code === 'TUN_ERR_ENGINE_CLOSED' ? 'agent is shutting down' : msg, execSent);
  }

  private fail(op: Op, code: string, message: string, execSent = false): void {
    this.counts.failed++;
    const reason = sanitizeReason(scrub(message, [{ value: op.req.key, kind: 'key' }]));
    if (!execSent) this.emit(op, 'EXECUTING');
    this.emit(op, 'FAILED', reason, code);
  }

  private emit(op: Op, status: OpStatus, reason?: string, code?: string): void {
    op.out.push(reason === undefined ? { status } : { status, reason });
    if (status !== 'EXECUTING') op.final = true;
    this.d.events.emit('status', { id: op.id, key: redactKey(op.req.key), serial: op.req.serial, status, reason });
    if (operationChannels.status.hasSubscribers) {
      const { req } = op;
      operationChannels.status.publish({
        agent: this.agent,
        id: op.id,
        key: redactKey(req.key),
        serial: req.serial,
        status,
        reason,
        code,
        ms: performance.now() - op.arrived,
        target: fmtTarget(req.host, req.port),
      } satisfies OperationStatusMessage);
    }
    this.order.flush(op);
  }

  /**
   * The transport learned the id of an operation it knew by name only (a REST lookup after a
   * reconnect): every later status of it goes by id.
   */
  learnId(key: string, id: string): void {
    const op = this.seen.get(key);
    if (op && op.id === undefined) op.id = id;
  }
}

function fmtTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
