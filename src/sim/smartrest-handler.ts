/**
 * SmartREST 2.0 static templates on `s/us` (and `t/`, `q/`, `c/`; `s/us/<child>` for child devices),
 * JWT on `s/uat`, bootstrap on `s/ucr`. Errors go back on `s/e` as `<code>,<template>,<message>`;
 * a malformed line never throws out of here.
 */
import type { EventEmitter } from 'node:events';
import { formatLine, MAX_SMARTREST_PAYLOAD, parsePayload } from '../cumulocity/smartrest.js';
import type { BrokerHooks, SimBroker } from './broker.js';
import type { Delivery } from './delivery.js';
import { JSON_TOPIC } from './delivery.js';
import type { JwtIssuer } from './jwt.js';
import type { ManagedObject, Store } from './store.js';
import { isFinal } from './store.js';
import type { OperationStatus, SimEvents } from './types.js';

const UPSTREAM = /^[stqc]\/us(?:\/([^/]+))?$/;

/** What the handler needs. */
export interface SmartRestDeps {
  store: Store;
  broker: SimBroker;
  delivery: Delivery;
  jwt: JwtIssuer;
  tenant: string;
  devicePassword: string;
  events: EventEmitter<SimEvents>;
}

/** One upstream line's context. */
interface Ctx {
  serial: string;
  /** The device the line speaks for (the publisher or its child). */
  target: ManagedObject;
  tpl: string;
}

/** The broker hooks implementing Cumulocity's device-facing MQTT API. */
export function createSmartRestHandler(d: SmartRestDeps): BrokerHooks {
  const reply = (serial: string, topic: string, fields: Array<string | number>): void => {
    d.broker.deliver(serial, topic, formatLine(fields) + '\n');
  };
  const error = (serial: string, tpl: string, msg: string, code = 50): void => reply(serial, 's/e', [code, tpl, msg]);

  function setStatus(c: Ctx, opId: string | undefined, status: OperationStatus, reason?: string): void {
    if (opId === undefined) return error(c.serial, c.tpl, `No matching operation for ${c.target.id}`);
    const err = d.store.setStatus(opId, status, reason);
    if (err) error(c.serial, c.tpl, err);
  }

  function oldest(c: Ctx, fragment: string, status: OperationStatus): string | undefined {
    return d.store.oldestActive(c.target.id, { status, fragmentType: fragment })?.id;
  }

  function byId(c: Ctx, id: string): string | undefined {
    const op = d.store.op(id);
    if (!op) {
      error(c.serial, c.tpl, `Operation ${id} not found`);
      return undefined;
    }
    // The operation's device must be the caller (or one of its children, whose operations it receives).
    if (!d.store.isSelfOrDescendant(op.deviceId, c.target.id)) {
      error(c.serial, c.tpl, `Operation ${id} does not belong to this device`);
      return undefined;
    }
    if (isFinal(op.status)) {
      error(c.serial, c.tpl, `Operation ${id} is already ${op.status}`);
      return undefined;
    }
    return id;
  }

  function line(c: Ctx, f: string[]): void {
    const mo = c.target;
    switch (c.tpl) {
      case '101': {
        const child = f[1];
        if (!child) return error(c.serial, c.tpl, 'Missing child id');
        const { mo: cmo, created } = d.store.ensureDevice(child, { name: f[2] || child, type: f[3] || 'c8y_MQTTChildDevice', agent: false, owner: `device_${c.serial}` });
        if (d.store.isSelfOrDescendant(mo.id, cmo.id)) return error(c.serial, c.tpl, 'A device cannot be its own child');
        // An existing device is adopted only when it is already this device's child, or it is nobody's child
        // and this device created it; anything else would hand another device's operations to the caller.
        const parent = d.store.parentOf(cmo.id);
        if (!created && parent !== mo.id && (parent !== undefined || cmo.owner !== `device_${c.serial}`)) {
          return error(c.serial, c.tpl, `Device ${child.slice(0, 64)} already exists and is not a child of this device`, 41);
        }
        d.store.addChild(mo.id, cmo.id);
        return;
      }
      case '114':
        d.store.updateManagedObject(mo.id, { c8y_SupportedOperations: f.slice(1).filter((x) => x !== '') });
        return;
      case '117': {
        const minutes = Number(f[1]);
        if (!Number.isInteger(minutes)) return error(c.serial, c.tpl, 'Invalid interval');
        if (!mo.c8y_RequiredAvailability) d.store.updateManagedObject(mo.id, { c8y_RequiredAvailability: { responseInterval: minutes } });
        return;
      }
      case '122':
        d.store.updateManagedObject(mo.id, { c8y_Agent: { name: f[1] ?? '', version: f[2] ?? '', url: f[3] ?? '', maintainer: f[4] ?? '' } });
        return;
      case '123':
        return reply(c.serial, 's/ds', ['124', mo.id]);
      case '150': {
        const list = f.slice(1).filter((x) => x !== '');
        d.store.updateManagedObject(mo.id, { c8y_RemoteAccessSupportedProtocols: list.length ? list : null });
        return;
      }
      case '500':
        d.delivery.resendPending(d.store.serialOf(mo.id) ?? c.serial);
        return;
      case '501':
        return setStatus(c, oldest(c, f[1] ?? '', 'PENDING'), 'EXECUTING');
      case '502':
        return setStatus(c, oldest(c, f[1] ?? '', 'EXECUTING'), 'FAILED', f[2] ?? '');
      case '503':
        return setStatus(c, oldest(c, f[1] ?? '', 'EXECUTING'), 'SUCCESSFUL');
      case '504':
      case '505':
      case '506': {
        const id = byId(c, f[1] ?? '');
        if (id === undefined) return;
        const status = c.tpl === '504' ? 'EXECUTING' : c.tpl === '505' ? 'FAILED' : 'SUCCESSFUL';
        return setStatus(c, id, status, c.tpl === '505' ? (f[2] ?? '') : undefined);
      }
      case '507': {
        const frag = f[1] ? f[1] : undefined;
        for (const op of d.store.activeOperations(mo.id, { status: 'EXECUTING', fragmentType: frag })) d.store.setStatus(op.id, 'FAILED', f[2] ?? '');
        return;
      }
      default:
        // Other static templates (measurements, events, ...) are accepted and ignored.
        if (!/^[0-9]{3}$/.test(c.tpl)) error(c.serial, c.tpl, `Unknown template ${c.tpl.slice(0, 16)}`);
    }
  }

  function upstream(serial: string, child: string | undefined, text: string): void {
    for (const p of parsePayload(text, MAX_SMARTREST_PAYLOAD)) {
      if (p.error) {
        error(serial, /^[0-9]{1,4}/.exec(p.line)?.[0] ?? '', p.error.message);
        continue;
      }
      const tpl = p.fields[0] ?? '';
      let target: ManagedObject | undefined;
      if (child !== undefined) {
        // Only the publisher's own children (or their children): another device's serial is "not found".
        const id = d.store.findExternal('c8y_Serial', child);
        const own = d.store.findExternal('c8y_Serial', serial);
        target = id === undefined || own === undefined || !d.store.isSelfOrDescendant(id, own) ? undefined : d.store.mo(id);
        if (!target) {
          error(serial, tpl, `Child device ${child.slice(0, 64)} not found`);
          continue;
        }
      } else {
        // Like Cumulocity, any template creates the device on first use; 100 says when it existed.
        const { mo, created } = d.store.ensureDevice(serial, tpl === '100' ? { name: p.fields[1] || undefined, type: p.fields[2] || undefined } : {});
        target = mo;
        if (tpl === '100') {
          if (!created) error(serial, '100', 'Device already existing', 41);
          continue;
        }
      }
      try {
        line({ serial, target, tpl }, p.fields);
      } catch (err) {
        error(serial, tpl, `Internal error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 200));
      }
    }
  }

  return {
    onPublish(serial, topic, payload, clientId) {
      const text = payload.toString('utf8');
      d.events.emit('mqtt:publish', { clientId, topic, payload: text });
      if (payload.length > MAX_SMARTREST_PAYLOAD) return error(serial, '', `Payload of ${payload.length} bytes exceeds ${MAX_SMARTREST_PAYLOAD}`);
      const m = UPSTREAM.exec(topic);
      if (m) return upstream(serial, m[1], text);
      if (topic === 's/uat') return reply(serial, 's/dat', ['71', d.jwt.issue(`device_${serial}`).token]);
      if (topic === 's/ucr') return reply(serial, 's/dcr', ['70', d.tenant, `device_${serial}`, d.devicePassword]);
    },
    onSubscribe(serial, topics) {
      if (topics.some((t) => t === 's/ds' || t === JSON_TOPIC || t === '#')) setImmediate(() => d.delivery.deliverUnforwarded(serial));
    },
  };
}
