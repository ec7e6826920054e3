/**
 * The emulator's state beyond the core store: events/alarms/measurements, device registration and
 * the real-time notification server, created once per REST context (`createExtras`) and found by
 * the route modules through it (`extrasOf`). Store and record changes are published here to the
 * real-time channels.
 */
import type { Principal } from './auth.js';
import { Realtime } from './realtime.js';
import type { RealtimeOptions } from './bayeux.js';
import { Records } from './records.js';
import type { RecordKind, SimRecord } from './records.js';
import { Registration } from './registration.js';
import type { RestContext } from './rest.js';
import type { ManagedObject } from './store.js';
import type { SimOperation } from './types.js';

/** What `createExtras` builds. */
export interface SimExtras {
  records: Records;
  registration: Registration;
  realtime: Realtime;
  /** Stops the real-time server (held connects answered, WebSockets closed). */
  close(): void;
}

/** Options of the extras. */
export interface ExtrasOptions {
  /** Password of the bootstrap user `management/devicebootstrap`. */
  bootstrapPassword: string;
  realtime?: Partial<RealtimeOptions>;
}

const byContext = new WeakMap<RestContext, SimExtras>();

const CHANNEL_OF: Record<RecordKind, 'events' | 'alarms' | 'measurements'> = { event: 'events', alarm: 'alarms', measurement: 'measurements' };

/** Builds the extras of a REST context and wires the store's events to the real-time channels. */
export function createExtras(ctx: RestContext, opts: ExtrasOptions): SimExtras {
  const { store, auth } = ctx;
  const records = new Records(() => store.baseUrl);
  const registration = new Registration(auth, opts.bootstrapPassword);
  const realtime = new Realtime(auth, (p: Principal, id: string) => ctx.owns(p, id), opts.realtime);
  const onOp = (op: SimOperation): void => realtime.publish('operations', op.deviceId, 'CREATE', op);
  const onStatus = (op: SimOperation): void => realtime.publish('operations', op.deviceId, 'UPDATE', op);
  const onMo = (action: 'CREATE' | 'UPDATE' | 'DELETE', mo: ManagedObject): void => realtime.publish('managedobjects', mo.id, action, mo);
  const onRecord = (kind: RecordKind, action: 'CREATE' | 'UPDATE', rec: SimRecord): void => realtime.publish(CHANNEL_OF[kind], rec.source.id, action, rec);
  store.events.on('operation', onOp);
  store.events.on('status', onStatus);
  store.events.on('managedObject', onMo);
  records.events.on('record', onRecord);
  const extras: SimExtras = {
    records,
    registration,
    realtime,
    close() {
      store.events.off('operation', onOp);
      store.events.off('status', onStatus);
      store.events.off('managedObject', onMo);
      records.events.off('record', onRecord);
      realtime.close();
    },
  };
  byContext.set(ctx, extras);
  return extras;
}

/** The extras of a REST context (created by `startSim`). */
export function extrasOf(ctx: RestContext): SimExtras {
  const e = byContext.get(ctx);
  if (!e) throw new Error('createExtras was not called for this REST context');
  return e;
}
