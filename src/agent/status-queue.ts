/**
 * The ordered outbox for status updates (and any other upstream message that must not be lost).
 *
 * Messages go out at once while a sender is attached, without waiting for acknowledgements (a status
 * must never wait behind another operation's PUBACK). Each stays "in flight" until its ack. When the link
 * drops, in-flight messages go back to the front of the queue in their original order, and everything is
 * sent again, in order, once a sender is attached again. Delivery is at least once: a message whose ack
 * was lost with the connection is sent twice.
 *
 * Except for messages marked `byName` (a SmartREST 501/502/503, which the cloud applies to the device's
 * oldest matching operation): sending one of those twice is not harmless, since the second copy lands on
 * another operation. One that was in flight when the link dropped is marked uncertain, and the owner must
 * settle it with rewrite() (learn the operation id, or drop it) before attaching a sender again.
 */

/** One upstream message. */
export interface OutboxMessage {
  topic: string;
  payload: string;
  /** A status reported by fragment name, for the operation with this connection key. */
  byName?: { serial: string; key: string; status: string; reason?: string };
}

/** Sends one message; calls back on acknowledgement (or with an error). */
export type Sender = (msg: OutboxMessage, done: (err?: Error) => void) => void;

interface Item {
  msg: OutboxMessage;
  /** A by-name message that was in flight on a link that dropped: it may or may not have been applied. */
  uncertain?: boolean;
}

/** Ordered at-least-once outbox. */
export class StatusQueue {
  private pending: Item[] = [];
  private readonly inflight = new Set<Item>();
  private sender: Sender | null = null;
  private generation = 0;
  private waiters: Array<() => void> = [];

  /** Queues a message; sends it at once when attached and nothing older is waiting. */
  push(msg: OutboxMessage): void {
    const item = { msg };
    if (this.sender && this.pending.length === 0) this.send(item);
    else this.pending.push(item);
  }

  /** Starts sending through `sender`, oldest first. */
  attach(sender: Sender): void {
    this.sender = sender;
    this.generation++;
    const items = this.pending;
    this.pending = [];
    for (const item of items) {
      if (this.sender !== sender) {
        // Detached while flushing: keep the rest queued, in order.
        this.pending.push(item);
        continue;
      }
      this.send(item);
    }
  }

  /** Stops sending; unacknowledged messages go back to the front of the queue, in order. */
  detach(): void {
    if (!this.sender && this.inflight.size === 0) return;
    this.sender = null;
    this.generation++;
    const back = [...this.inflight];
    for (const item of back) if (item.msg.byName) item.uncertain = true;
    this.inflight.clear();
    this.pending = back.concat(this.pending);
  }

  /** By-name messages whose delivery is unknown (only while detached). */
  uncertain(): OutboxMessage[] {
    return this.pending.filter((i) => i.uncertain).map((i) => i.msg);
  }

  /**
   * While detached: replaces queued messages (`fn` returns a replacement, `null` to drop it, or
   * `undefined` to keep it). Uncertainty is settled afterwards: what is kept is sent as it is.
   */
  rewrite(fn: (msg: OutboxMessage, uncertain: boolean) => OutboxMessage | null | undefined): number {
    let dropped = 0;
    const kept: Item[] = [];
    for (const item of this.pending) {
      const r = fn(item.msg, item.uncertain === true);
      if (r === null) {
        dropped++;
        continue;
      }
      kept.push({ msg: r ?? item.msg });
    }
    this.pending = kept;
    if (this.size === 0 && this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
    return dropped;
  }

  /** Messages not yet acknowledged (queued plus in flight). */
  get size(): number {
    return this.pending.length + this.inflight.size;
  }

  /** Resolves when every message so far has been acknowledged. */
  drained(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private send(item: Item): void {
    const gen = this.generation;
    this.inflight.add(item);
    this.sender!(item.msg, (err) => {
      // An ack from an older connection: the item was already re-queued (or re-sent) by detach().
      if (gen !== this.generation) return;
      if (err) return; // stays in flight; detach() re-queues it
      if (!this.inflight.delete(item)) return;
      if (this.size === 0 && this.waiters.length > 0) for (const w of this.waiters.splice(0)) w();
    });
  }
}
