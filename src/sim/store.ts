/**
 * The emulator's in-memory inventory, identity, operations and remote access configurations.
 * Pure data plus events; no I/O. Ids are numeric strings from one counter, like Cumulocity's.
 */
import { EventEmitter } from 'node:events';
import type { OperationStatus, SimConfiguration, SimOperation, StatusChange } from './types.js';

/** A managed object: a plain JSON record. */
export type ManagedObject = Record<string, unknown> & { id: string; name?: string; type?: string };

/** Fields a managed object update never changes (`__proto__` would swap the object's prototype). */
const IMMUTABLE: ReadonlySet<string> = new Set(['id', 'self', 'creationTime', 'lastUpdated', 'owner', '__proto__']);
const FINAL: ReadonlySet<string> = new Set(['SUCCESSFUL', 'FAILED']);
const STATUSES: ReadonlySet<string> = new Set(['PENDING', 'EXECUTING', 'SUCCESSFUL', 'FAILED']);

/** True for a valid operation status string. */
export function isStatus(s: unknown): s is OperationStatus {
  return typeof s === 'string' && STATUSES.has(s);
}

/** True for SUCCESSFUL and FAILED. */
export function isFinal(s: string): boolean {
  return FINAL.has(s);
}

/** The status and fragment filters shared by the operation queries. */
function matches(op: SimOperation, filter: { status?: string; fragmentType?: string }): boolean {
  return (filter.status === undefined || op.status === filter.status) && (filter.fragmentType === undefined || Object.hasOwn(op, filter.fragmentType));
}

interface OpRecord {
  op: SimOperation;
  history: StatusChange[];
  /** Delivered to the device at least once (JSON "not yet forwarded" semantics). */
  forwarded: boolean;
}

/**
 * In-memory Cumulocity data of one tenant. Events: `operation` (op), `status` (op, status), and
 * `managedObject` (action CREATE|UPDATE|DELETE, the live object or `{ id }`; listeners must copy it).
 */
export class Store {
  readonly events = new EventEmitter();
  baseUrl = 'http://127.0.0.1';
  #nextId = 10_000;
  #nextConfigId = 1;
  readonly #mos = new Map<string, ManagedObject>();
  readonly #ext = new Map<string, string>();
  readonly #extOf = new Map<string, Array<{ type: string; externalId: string }>>();
  readonly #parent = new Map<string, string>();
  readonly #ops = new Map<string, OpRecord>();
  /** deviceId -> ids of its operations that are not final, oldest first (SmartREST lookups stay O(active)). */
  readonly #active = new Map<string, Set<string>>();
  readonly #configs = new Map<string, Map<string, SimConfiguration>>();

  /** Final operations, oldest first (bounded by `historyLimit`). */
  readonly #final = new Set<string>();

  /** `historyLimit`: final (SUCCESSFUL/FAILED) operations kept; older ones are forgotten. */
  constructor(readonly historyLimit = 10_000) {
    this.events.setMaxListeners(0);
  }

  #id(): string {
    return String(this.#nextId++);
  }

  // ---- inventory -------------------------------------------------------------------------------

  /** A copy of the managed object. */
  managedObject(id: string): ManagedObject | undefined {
    const mo = this.#mos.get(id);
    return mo ? structuredClone(mo) : undefined;
  }

  /** The live managed object (internal use). */
  mo(id: string): ManagedObject | undefined {
    return this.#mos.get(id);
  }

  /** All managed objects, oldest first. */
  managedObjects(): ManagedObject[] {
    return [...this.#mos.values()];
  }

  /** Creates a managed object from a REST body. */
  createManagedObject(body: Record<string, unknown>, owner: string): ManagedObject {
    const id = this.#id();
    const now = new Date().toISOString();
    const mo: ManagedObject = { ...body, id, self: `${this.baseUrl}/inventory/managedObjects/${id}`, owner, creationTime: now, lastUpdated: now };
    if (!mo.childDevices) mo.childDevices = { references: [] };
    this.#mos.set(id, mo);
    this.events.emit('managedObject', 'CREATE', mo);
    return mo;
  }

  /** Merges top-level fragments into a managed object (`id` and `self` are immutable). */
  updateManagedObject(id: string, body: Record<string, unknown>): ManagedObject | undefined {
    const mo = this.#mos.get(id);
    if (!mo) return undefined;
    for (const [k, v] of Object.entries(body)) {
      if (IMMUTABLE.has(k)) continue;
      if (v === null) delete mo[k];
      else mo[k] = v;
    }
    mo.lastUpdated = new Date().toISOString();
    this.events.emit('managedObject', 'UPDATE', mo);
    return mo;
  }

  /** Deletes a managed object with its external ids and configurations. */
  deleteManagedObject(id: string): boolean {
    if (!this.#mos.delete(id)) return false;
    for (const e of this.#extOf.get(id) ?? []) this.#ext.delete(`${e.type}\u0000${e.externalId}`);
    this.#extOf.delete(id);
    this.#configs.delete(id);
    this.events.emit('managedObject', 'DELETE', { id });
    return true;
  }

  /** Creates a device (c8y_IsDevice, agent fragment, c8y_Serial) or returns the existing one. */
  ensureDevice(serial: string, opts: { name?: string; type?: string; parentId?: string; owner?: string; agent?: boolean } = {}): { mo: ManagedObject; created: boolean } {
    const existing = this.findExternal('c8y_Serial', serial);
    if (existing) return { mo: this.#mos.get(existing)!, created: false };
    const body: Record<string, unknown> = { name: opts.name ?? `MQTT Device ${serial}`, type: opts.type ?? 'c8y_MQTTDevice', c8y_IsDevice: {} };
    if (opts.agent !== false) body.com_cumulocity_model_Agent = {};
    const mo = this.createManagedObject(body, opts.owner ?? `device_${serial}`);
    this.addExternalId(mo.id, 'c8y_Serial', serial);
    if (opts.parentId) this.addChild(opts.parentId, mo.id);
    return { mo, created: true };
  }

  /** Links a child device under a parent. */
  addChild(parentId: string, childId: string): void {
    const parent = this.#mos.get(parentId);
    const child = this.#mos.get(childId);
    if (!parent || !child) return;
    this.#parent.set(childId, parentId);
    const refs = ((parent.childDevices as { references?: unknown[] } | undefined)?.references ?? []) as Array<{ managedObject: { id: string } }>;
    if (!refs.some((r) => r.managedObject.id === childId)) {
      refs.push({ managedObject: { id: childId, name: child.name, self: child.self } as { id: string } });
    }
    parent.childDevices = { references: refs };
    this.events.emit('managedObject', 'UPDATE', parent);
  }

  /** Unlinks a child device from its parent; false when it was not its child. */
  removeChild(parentId: string, childId: string): boolean {
    const parent = this.#mos.get(parentId);
    if (!parent || this.#parent.get(childId) !== parentId) return false;
    this.#parent.delete(childId);
    const refs = ((parent.childDevices as { references?: unknown[] } | undefined)?.references ?? []) as Array<{ managedObject: { id: string } }>;
    parent.childDevices = { references: refs.filter((r) => r.managedObject.id !== childId) };
    this.events.emit('managedObject', 'UPDATE', parent);
    return true;
  }

  /** The parent device id, if any. */
  parentOf(id: string): string | undefined {
    return this.#parent.get(id);
  }

  /** The top-most ancestor (the agent a child's operations go to). */
  rootOf(id: string): string {
    let cur = id;
    for (let i = 0; i < 32; i++) {
      const p = this.#parent.get(cur);
      if (p === undefined) return cur;
      cur = p;
    }
    return cur;
  }

  /** True when `id` is `ancestor` or below it. */
  isSelfOrDescendant(id: string, ancestor: string): boolean {
    let cur: string | undefined = id;
    for (let i = 0; cur !== undefined && i < 32; i++) {
      if (cur === ancestor) return true;
      cur = this.#parent.get(cur);
    }
    return false;
  }

  // ---- identity --------------------------------------------------------------------------------

  /** Registers an external id; false when it already points elsewhere. */
  addExternalId(moId: string, type: string, externalId: string): boolean {
    const k = `${type}\u0000${externalId}`;
    const cur = this.#ext.get(k);
    if (cur !== undefined) return cur === moId;
    this.#ext.set(k, moId);
    const list = this.#extOf.get(moId) ?? [];
    list.push({ type, externalId });
    this.#extOf.set(moId, list);
    return true;
  }

  /** Removes an external id; false when it did not exist. */
  removeExternalId(type: string, externalId: string): boolean {
    const k = `${type}\u0000${externalId}`;
    const moId = this.#ext.get(k);
    if (moId === undefined) return false;
    this.#ext.delete(k);
    const list = (this.#extOf.get(moId) ?? []).filter((e) => e.type !== type || e.externalId !== externalId);
    if (list.length) this.#extOf.set(moId, list);
    else this.#extOf.delete(moId);
    return true;
  }

  /** The managed object id of an external id. */
  findExternal(type: string, externalId: string): string | undefined {
    return this.#ext.get(`${type}\u0000${externalId}`);
  }

  /** External ids of a managed object. */
  externalIdsOf(moId: string): Array<{ type: string; externalId: string }> {
    return this.#extOf.get(moId) ?? [];
  }

  /** The c8y_Serial of a device, if it has one. */
  serialOf(moId: string): string | undefined {
    return this.#extOf.get(moId)?.find((e) => e.type === 'c8y_Serial')?.externalId;
  }

  // ---- operations ------------------------------------------------------------------------------

  /** Creates a PENDING operation and emits 'operation'. */
  createOperation(deviceId: string, fragments: Record<string, unknown>, description: string): SimOperation {
    const id = this.#id();
    const op = {
      ...fragments,
      id,
      self: `${this.baseUrl}/devicecontrol/operations/${id}`,
      deviceId,
      status: 'PENDING',
      creationTime: new Date().toISOString(),
      description,
    } as unknown as SimOperation;
    this.#ops.set(id, { op, history: [{ status: 'PENDING', at: Date.now() }], forwarded: false });
    let active = this.#active.get(deviceId);
    if (!active) this.#active.set(deviceId, (active = new Set()));
    active.add(id);
    this.events.emit('operation', structuredClone(op));
    return op;
  }

  /** The live operation (internal use). */
  op(id: string): SimOperation | undefined {
    return this.#ops.get(id)?.op;
  }

  /** Marks an operation delivered; returns whether it had been delivered before. */
  markForwarded(id: string): boolean {
    const r = this.#ops.get(id);
    if (!r) return false;
    const was = r.forwarded;
    r.forwarded = true;
    return was;
  }

  /** Whether the operation was delivered already. */
  wasForwarded(id: string): boolean {
    return this.#ops.get(id)?.forwarded ?? false;
  }

  /**
   * Moves an operation to a new status; refuses to leave a final status. Emits 'status'.
   * Returns an error text when refused.
   */
  setStatus(id: string, status: OperationStatus, failureReason?: string): string | undefined {
    const r = this.#ops.get(id);
    if (!r) return 'operation not found';
    if (isFinal(r.op.status)) return `operation ${id} is already ${r.op.status}`;
    r.op.status = status;
    const change: StatusChange = { status, at: Date.now() };
    if (status === 'FAILED') {
      r.op.failureReason = failureReason ?? '';
      change.failureReason = r.op.failureReason;
    } else {
      delete r.op.failureReason;
    }
    r.history.push(change);
    if (isFinal(status)) {
      const active = this.#active.get(r.op.deviceId);
      active?.delete(id);
      if (active?.size === 0) this.#active.delete(r.op.deviceId);
      this.#final.add(id);
    }
    this.events.emit('status', structuredClone(r.op), status);
    this.#forgetOldFinal();
    return undefined;
  }

  /** Forgets the oldest final operations beyond `historyLimit` (a Set iterates in insertion order). */
  #forgetOldFinal(): void {
    for (const old of this.#final) {
      if (this.#final.size <= this.historyLimit) return;
      this.#final.delete(old);
      this.#ops.delete(old);
    }
  }

  /** Every status the operation went through. */
  history(id: string): StatusChange[] {
    return structuredClone(this.#ops.get(id)?.history ?? []);
  }

  /** Not-final operations of a device (or, with `withChildren`, of it and its descendants), oldest first. */
  activeOperations(deviceId: string, filter: { status?: string; fragmentType?: string; withChildren?: boolean } = {}): SimOperation[] {
    const ids: string[] = [];
    if (filter.withChildren) {
      for (const [dev, set] of this.#active) if (this.isSelfOrDescendant(dev, deviceId)) ids.push(...set);
      ids.sort((a, b) => Number(a) - Number(b));
    } else {
      ids.push(...(this.#active.get(deviceId) ?? []));
    }
    const out: SimOperation[] = [];
    for (const id of ids) {
      const op = this.#ops.get(id)!.op;
      if (matches(op, filter)) out.push(op);
    }
    return out;
  }

  /** The oldest not-final operation of the device itself matching the filter (stops at the first match). */
  oldestActive(deviceId: string, filter: { status?: string; fragmentType?: string }): SimOperation | undefined {
    for (const id of this.#active.get(deviceId) ?? []) {
      const op = this.#ops.get(id)!.op;
      if (matches(op, filter)) return op;
    }
    return undefined;
  }

  /** Operations matching the filter, oldest first (live objects). */
  operations(filter: { deviceId?: string; status?: string; fragmentType?: string } = {}): SimOperation[] {
    // One device's not-final operations are indexed (same creation order), so the agent's REST poll skips the full history.
    if (filter.deviceId !== undefined && filter.status !== undefined && !isFinal(filter.status)) {
      return this.activeOperations(filter.deviceId, { status: filter.status, fragmentType: filter.fragmentType });
    }
    const out: SimOperation[] = [];
    for (const { op } of this.#ops.values()) {
      if (filter.deviceId !== undefined && op.deviceId !== filter.deviceId) continue;
      if (matches(op, filter)) out.push(op);
    }
    return out;
  }

  // ---- remote access configurations ------------------------------------------------------------

  /** Configurations of a device (in creation order). */
  configurations(deviceId: string): SimConfiguration[] {
    return [...(this.#configs.get(deviceId)?.values() ?? [])];
  }

  /** One configuration. */
  configuration(deviceId: string, configId: string): SimConfiguration | undefined {
    return this.#configs.get(deviceId)?.get(configId);
  }

  /** Adds a configuration and mirrors the list into the managed object. */
  addConfiguration(deviceId: string, cfg: Omit<SimConfiguration, 'id'>): SimConfiguration {
    const c = { ...cfg, id: String(this.#nextConfigId++) } as SimConfiguration;
    let m = this.#configs.get(deviceId);
    if (!m) this.#configs.set(deviceId, (m = new Map()));
    m.set(c.id, c);
    this.#mirror(deviceId);
    return c;
  }

  /** Replaces a configuration's fields (id kept). */
  replaceConfiguration(deviceId: string, configId: string, cfg: Omit<SimConfiguration, 'id'>): SimConfiguration | undefined {
    const m = this.#configs.get(deviceId);
    if (!m?.has(configId)) return undefined;
    const c = { ...cfg, id: configId } as SimConfiguration;
    m.set(configId, c);
    this.#mirror(deviceId);
    return c;
  }

  /** Removes a configuration. */
  deleteConfiguration(deviceId: string, configId: string): boolean {
    const ok = this.#configs.get(deviceId)?.delete(configId) ?? false;
    if (ok) this.#mirror(deviceId);
    return ok;
  }

  /** c8y_RemoteAccessList: nested `credentials`, secrets shown as `{cipher}...` like the real list. */
  #mirror(deviceId: string): void {
    const mo = this.#mos.get(deviceId);
    if (!mo) return;
    mo.c8y_RemoteAccessList = this.configurations(deviceId).map((c) => {
      const credentials: Record<string, unknown> = { type: c.credentialsType };
      for (const k of ['username', 'password', 'privateKey', 'publicKey', 'hostKey', 'certificate']) {
        const v = c[k];
        if (typeof v === 'string' && v !== '') credentials[k] = k === 'password' || k === 'privateKey' ? '{cipher}' + Buffer.from(v).toString('base64') : v;
      }
      return { id: c.id, name: c.name, hostname: c.hostname, port: c.port, protocol: c.protocol, credentials };
    });
    mo.lastUpdated = new Date().toISOString();
  }
}
