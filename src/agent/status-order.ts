/**
 * The order in which an operation's statuses reach the transport.
 *
 * Status by id vs by name: an operation that came with an id (JSON notification, REST) is reported by
 * id and is exact. A bare 530 has no id, so it is reported by fragment name (501/502/503), which the cloud
 * applies to the *oldest* PENDING/EXECUTING operation of that fragment on the device. With concurrent
 * sessions, the tunnel that comes up first is not always the oldest; so name-reported operations keep a
 * per-device chain in arrival order, and a final status goes out only once every older name-reported
 * operation of that device has had its own. This is still only right while the cloud's view of "oldest"
 * matches our arrival order (an operation we never received, or one another program handles, breaks it).
 */
import type { RemoteAccessRequest } from '../cumulocity/inbound.js';
import type { OpStatus } from '../cumulocity/templates.js';

/** Where statuses go (the transport). Must not block: it queues. */
export interface StatusSink {
  /** `key` (the connection key) comes with a by-name status, so the transport can settle it by id later. */
  report(ref: { serial: string; id?: string; key?: string }, status: OpStatus, reason?: string): void;
}

/** One operation as the coordinator (operations.ts) and its status order see it. */
export interface Op {
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

/** A new operation, nothing sent yet. */
export function newOp(req: RemoteAccessRequest, arrived: number): Op {
  return { req, id: req.id, arrived, holding: false, inChain: false, holdTimer: undefined, out: [], execSent: false, final: false, finalSent: false };
}

/** Name-reported operations of one device in arrival order; `head` = oldest without a final status sent. */
interface Chain {
  ops: Op[];
  head: number;
  /** Operations before this index had their EXECUTING sent (or left the chain). */
  exec: number;
}

/** Hands statuses to the sink: by id at once, by name in each device's arrival order. */
export class StatusOrder {
  /** One chain per device with name-reported operations not all final; a finished chain is deleted. */
  private readonly chains = new Map<string, Chain>();

  constructor(private readonly sink: StatusSink) {}

  /** A name-reported operation takes its place in its device's chain. */
  join(op: Op): void {
    op.inChain = true;
    let chain = this.chains.get(op.req.serial);
    if (!chain) this.chains.set(op.req.serial, (chain = { ops: [], head: 0, exec: 0 }));
    chain.ops.push(op);
  }

  /** `op` has new statuses: send what its place allows (nothing while it is held for a twin). */
  flush(op: Op): void {
    if (op.holding) return;
    if (op.inChain) this.flushChain(op.req.serial);
    else this.flushById(op);
  }

  flushById(op: Op): void {
    for (const s of op.out.splice(0)) {
      this.sink.report(ref(op), s.status, s.reason);
      if (s.status !== 'EXECUTING') op.finalSent = true;
      else op.execSent = true;
    }
  }

  /** Sends name-based statuses in arrival order: every EXECUTING at once, finals only for the oldest. */
  flushChain(serial: string): void {
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
        for (const st of op.out.splice(0)) this.sink.report(ref(op), st.status, st.reason);
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
    this.sink.report(ref(op), 'EXECUTING');
  }
}

function ref(op: Op): { serial: string; id?: string; key?: string } {
  return op.id === undefined ? { serial: op.req.serial, key: op.req.key } : { serial: op.req.serial, id: op.id };
}
