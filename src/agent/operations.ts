/**
 * Operation handling, the agent's hot path: de-duplication by connection key, policy and session limit,
 * status sequencing (EXECUTING, then SUCCESSFUL or FAILED), and one engine.open() per operation.
 *
 * Status by id vs by name: an operation that came with an id (JSON notification, REST) is reported by
 * id and is exact. A bare 530 has no id, so it is reported by fragment name (501/502/503), which the cloud
 * applies to the *oldest* PENDING/EXECUTING operation of that fragment on the device. With concurrent
 * sessions, the tunnel that comes up first is not always the oldest; so name-reported operations keep a
 * per-device queue in arrival order, and a final status goes out only once every older name-reported
 * operation of that device has had its own. This is still only right while the cloud's view of "oldest"
 * matches our arrival order (an operation we never received, or one another program handles, breaks it).
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

export type { OpStatus } from '../cumulocity/templates.js';

/** Where statuses go (the transport). Must not block: it queues. */
export interface StatusSink {
  /** `key` (the connection key) comes with a by-name status, so the transport can settle it by id later. */
  report(ref: { serial: string; id?: string; key?: string }, status: OpStatus, reason?: string): void;
}

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

interface Op {
  req: RemoteAccessRequest;
  id: string | undefined;
  arrived: number;
  /** Waiting for a JSON twin to learn the id; statuses are held meanwhile. */
  holding: boolean;
  /** In the per-device name chain (arrived without an id). */
  inChain: boolean;
  holdTimer: NodeJS.Timeout | undefined;
  /** Statuses not yet handed to the sink. */
  out: Array<{ status: OpStatus; reason?: string }>;
  execSent: boolean;
  final: boolean;
  finalSent: boolean;
}

/** Name-reported operations of one device in arrival order; `head` = oldest without a final status sent. */
interface Chain {
  ops: Op[];
  head: number;
  /** Operations before this index had their EXECUTING sent (or left the chain). */
  exec: number;
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
  private readonly chains = new Map<string, Chain>();
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
    const op: Op = {
      req: { serial: ref.serial, host: '', port: 0, key: '', via: '530' },
      id: undefined,
      arrived: performance.now(),
      holding: false,
      inChain: true,
      holdTimer: undefined,
      out: [{ status: 'EXECUTING' }, { status: 'FAILED', reason }],
      execSent: false,
      final: true,
      finalSent: false,
    };
    let chain = this.chains.get(ref.serial);
    if (!chain) this.chains.set(ref.serial, (chain = { ops: [], head: 0, exec: 0 }));
    chain.ops.push(op);
    this.flushChain(ref.serial);
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
    const op: Op = {
      req,
      id: req.id,
      arrived: performance.now(),
      holding: false,
      inChain: false,
      holdTimer: undefined,
      out: [],
      execSent: false,
      final: false,
      finalSent: false,
    };
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
      op.inChain = true;
      let chain = this.chains.get(req.serial);
      if (!chain) this.chains.set(req.serial, (chain = { ops: [], head: 0, exec: 0 }));
      chain.ops.push(op);
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
        this.flushById(prior);
      }
      // Still in the chain (its 501 went out): it stays a barrier until its final status, now sent by id.
      this.flushChain(prior.req.serial);
      return;
    }
    this.d.log.debug({ key: redactKey(req.key), via: req.via }, 'duplicate operation dropped');
  }

  private release(op: Op): void {
    if (!op.holding) return;
    op.holding = false;
    // The cloud stopped sending JSON twins: report 530s by name at once again.
    if (++this.lonely >= 3) this.twinsSeen = false;
    this.flushChain(op.req.serial);
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
      this.d.events.emit('session:closed', { id: op.id, key, code: summary.code, bytesUp: summary.bytesUp, bytesDown: summary.bytesDown, bytesDiscarded: summary.bytesDiscarded ?? 0, wsCloseCode: summary.wsCloseCode });
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
    if (op.holding) return;
    if (op.inChain) this.flushChain(op.req.serial);
    else this.flushById(op);
  }

  private ref(op: Op): { serial: string; id?: string; key?: string } {
    return op.id === undefined ? { serial: op.req.serial, key: op.req.key } : { serial: op.req.serial, id: op.id };
  }

  /**
   * The transport learned the id of an operation it knew by name only (a REST lookup after a
   * reconnect): every later status of it goes by id.
   */
  learnId(key: string, id: string): void {
    const op = this.seen.get(key);
    if (op && op.id === undefined) op.id = id;
  }

  private flushById(op: Op): void {
    for (const s of op.out.splice(0)) {
      this.d.sink.report(this.ref(op), s.status, s.reason);
      if (s.status !== 'EXECUTING') op.finalSent = true;
      else op.execSent = true;
    }
  }

  /** Sends name-based statuses in arrival order: every EXECUTING at once, finals only for the oldest. */
  private flushChain(serial: string): void {
    const c = this.chains.get(serial);
    if (!c) return;
    const ops = c.ops;
    // Finals, oldest first; an operation that is not final (or still held) stops the line.
    while (c.head < ops.length) {
      const op = ops[c.head]!;
      if (op.inChain) {
        if (op.holding) break;
        this.sendExec(op);
        if (!op.final) break;
        for (const st of op.out.splice(0)) this.d.sink.report(this.ref(op), st.status, st.reason);
        op.finalSent = true;
        op.inChain = false;
      }
      c.head++;
    }
    // EXECUTING of the younger ones, in order, up to the first held one (a cursor keeps this O(1) amortised).
    if (c.exec < c.head) c.exec = c.head;
    while (c.exec < ops.length) {
      const op = ops[c.exec]!;
      if (op.inChain) {
        if (op.holding) break;
        this.sendExec(op);
      }
      c.exec++;
    }
    if (c.head === ops.length) this.chains.delete(serial);
    else if (c.head > 1024 && c.head * 2 > ops.length) {
      c.ops = ops.slice(c.head);
      c.exec -= c.head;
      c.head = 0;
    }
  }

  private sendExec(op: Op): void {
    if (op.execSent || op.out[0]?.status !== 'EXECUTING') return;
    op.out.shift();
    op.execSent = true;
    this.d.sink.report(this.ref(op), 'EXECUTING');
  }
}

function fmtTarget(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
