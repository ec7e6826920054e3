/**
 * Operation delivery to device agents over MQTT: `530,...` on `s/ds` and/or the REST-shaped JSON on
 * `devicecontrol/notifications`, always to the root agent's client (a child's operation goes to its
 * parent with the child's serial in field 1).
 */
import { formatLine } from '../cumulocity/smartrest.js';
import type { SimBroker } from './broker.js';
import type { Store } from './store.js';
import type { SimFaults, SimOperation } from './types.js';

/** Topic of JSON operations. */
export const JSON_TOPIC = 'devicecontrol/notifications';

/** Delivers operations to the devices' MQTT clients. */
export class Delivery {
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly broker: SimBroker,
    private readonly faults: SimFaults,
  ) {}

  /** Delivers a new operation now, or after `faults.deliveryDelayMs`. */
  deliver(op: SimOperation): void {
    const delay = this.faults.deliveryDelayMs;
    if (delay > 0) {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        this.deliverNow(op.id);
      }, delay);
      this.#timers.add(t);
    } else {
      this.deliverNow(op.id);
    }
  }

  /**
   * Sends one operation by its subscriptions. A remote access operation goes as 530 when the agent
   * subscribed to `s/ds`, else as JSON when it subscribed to the JSON topic; with the
   * duplicateDelivery fault (or for other operations, JSON only) both. Returns whether anything went.
   */
  deliverNow(opId: string): boolean {
    const op = this.store.op(opId);
    if (!op || op.status !== 'PENDING') return false;
    const serial = this.store.serialOf(op.deviceId);
    const rootId = this.store.rootOf(op.deviceId);
    const rootSerial = this.store.serialOf(rootId);
    if (serial === undefined || rootSerial === undefined) return false;
    const cra = op.c8y_RemoteAccessConnect as SimOperation['c8y_RemoteAccessConnect'] | undefined;
    const wantsDs = cra !== undefined && this.broker.subscribedQos(rootSerial, 's/ds') !== undefined;
    const wantsJson = this.broker.subscribedQos(rootSerial, JSON_TOPIC) !== undefined;
    let sent = false;
    if (wantsDs && cra) {
      sent = this.broker.deliver(rootSerial, 's/ds', formatLine(['530', serial, cra.hostname, cra.port, cra.connectionKey]) + '\n') || sent;
    }
    if (wantsJson && (!wantsDs || this.faults.duplicateDelivery)) {
      sent = this.broker.deliver(rootSerial, JSON_TOPIC, JSON.stringify(this.notification(op, rootId, serial))) || sent;
    }
    if (sent) this.store.markForwarded(op.id);
    return sent;
  }

  /** The JSON-over-MQTT shape of an operation. */
  notification(op: SimOperation, agentId: string, serial: string): Record<string, unknown> {
    return {
      ...op,
      agentId,
      delivery: { log: [], status: 'PENDING', time: op.creationTime },
      externalSource: { externalId: serial, type: 'c8y_Serial' },
    };
  }

  /** After a subscription: delivers the device's (and its children's) PENDING operations never delivered. */
  deliverUnforwarded(rootSerial: string): void {
    for (const op of this.#pendingFor(rootSerial)) {
      if (!this.store.wasForwarded(op.id)) this.deliverNow(op.id);
    }
  }

  /** Template 500: re-sends every PENDING operation of the device (and its children). */
  resendPending(serial: string): number {
    let n = 0;
    for (const op of this.#pendingFor(serial)) if (this.deliverNow(op.id)) n++;
    return n;
  }

  #pendingFor(serial: string): SimOperation[] {
    const id = this.store.findExternal('c8y_Serial', serial);
    if (id === undefined) return [];
    return this.store.activeOperations(id, { status: 'PENDING', withChildren: true });
  }

  /** Cancels delayed deliveries. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
