/**
 * Minimal events, alarms and measurements: `POST`/`GET /event/events`, `/alarm/alarms`,
 * `/measurement/measurements` (and `GET`, alarms also `PUT`, of one by id). Lists filter by
 * `source`, `type`, `fragmentType` (events, measurements: also `valueFragmentType`), `dateFrom`,
 * `dateTo`, alarms also `status` and `severity`; events and alarms come newest first, measurements
 * oldest first (`revert=true` flips either). A device may only write and read records of objects it
 * owns. Storage is bounded (records.ts).
 */
import type { Principal } from './auth.js';
import { extrasOf } from './extras.js';
import type { RestRequest, Route } from './http-util.js';
import { HttpError } from './http-util.js';
import { sendPage } from './paging.js';
import { ALARM_STATUSES, SEVERITIES } from './records.js';
import type { RecordFilter, RecordKind, SimRecord } from './records.js';
import type { RestContext } from './rest.js';

interface KindInfo {
  kind: RecordKind;
  path: string;
  api: string;
  key: string;
  type: string;
  /** Newest first by default. */
  newestFirst: boolean;
}

const KINDS: KindInfo[] = [
  { kind: 'event', path: 'event/events', api: 'event', key: 'events', type: 'event', newestFirst: true },
  { kind: 'alarm', path: 'alarm/alarms', api: 'alarm', key: 'alarms', type: 'alarm', newestFirst: true },
  { kind: 'measurement', path: 'measurement/measurements', api: 'measurement', key: 'measurements', type: 'measurement', newestFirst: false },
];

function date(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(422, `${name} must be an ISO 8601 date, got "${v.slice(0, 40)}"`);
  return t;
}

/** The record routes. */
export function recordRoutes(ctx: RestContext): Route[] {
  const sourceOf = (p: Principal, b: Record<string, unknown>): string => {
    const id = (b.source as { id?: unknown } | undefined)?.id;
    const sid = typeof id === 'number' ? String(id) : id;
    if (typeof sid !== 'string' || sid === '') throw new HttpError(422, 'source.id is required');
    if (!ctx.store.mo(sid) || !ctx.owns(p, sid)) throw new HttpError(422, `source ${sid.slice(0, 32)} is not a managed object`);
    return sid;
  };
  const str = (b: Record<string, unknown>, k: string, required: boolean): string | undefined => {
    const v = b[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '' || v.length > 10_000) throw new HttpError(422, `${k} must be a non-empty string`);
    return v;
  };
  const create = async (k: KindInfo, r: RestRequest): Promise<SimRecord> => {
    const b = await r.body();
    const source = sourceOf(r.principal, b);
    const type = str(b, 'type', true)!;
    const time = str(b, 'time', true)!;
    if (Number.isNaN(Date.parse(time))) throw new HttpError(422, 'time must be an ISO 8601 date');
    const { id: _id, self: _self, source: _s, creationTime: _c, ...fields } = b;
    const records = extrasOf(ctx).records;
    if (k.kind === 'event') {
      str(b, 'text', true);
      return records.create('event', fields, source);
    }
    if (k.kind === 'alarm') {
      str(b, 'text', true);
      if (typeof b.severity !== 'string' || !SEVERITIES.has(b.severity)) throw new HttpError(422, 'severity must be CRITICAL, MAJOR, MINOR or WARNING');
      const status = b.status ?? 'ACTIVE';
      if (typeof status !== 'string' || !ALARM_STATUSES.has(status)) throw new HttpError(422, 'status must be ACTIVE, ACKNOWLEDGED or CLEARED');
      // Cumulocity de-duplicates: an open alarm of the same source and type counts up instead.
      const open = status === 'CLEARED' ? undefined : records.openAlarm(source, type);
      if (open) return records.update('alarm', open.id, { count: (open.count as number) + 1, time, text: b.text, severity: b.severity })!;
      return records.create('alarm', { ...fields, status, count: 1, firstOccurrenceTime: time }, source);
    }
    return records.create('measurement', fields, source);
  };
  const routes: Route[] = [];
  for (const k of KINDS) {
    const LIST = new RegExp(`^/${k.path}/?$`);
    const ONE = new RegExp(`^/${k.path}/([^/]+)/?$`);
    const visible = (r: RestRequest): SimRecord => {
      const rec = extrasOf(ctx).records.get(k.kind, r.params[0]!);
      if (!rec || !ctx.owns(r.principal, rec.source.id)) throw new HttpError(404, `${k.type} ${r.params[0]!.slice(0, 32)} not found`);
      return rec;
    };
    routes.push(
      {
        method: 'GET',
        path: LIST,
        api: k.api,
        type: `${k.type}Collection`,
        handle(r) {
          const q = r.url.searchParams;
          const f: RecordFilter = {
            source: q.get('source') ?? undefined,
            type: q.get('type') ?? undefined,
            fragmentType: q.get('fragmentType') ?? q.get('valueFragmentType') ?? undefined,
            dateFrom: date(q, 'dateFrom'),
            dateTo: date(q, 'dateTo'),
          };
          if (k.kind === 'alarm') {
            f.status = q.get('status') ?? undefined;
            f.severity = q.get('severity') ?? undefined;
          }
          const items = extrasOf(ctx).records.list(k.kind, f).filter((x) => ctx.owns(r.principal, x.source.id));
          if (k.newestFirst !== (q.get('revert') === 'true')) items.reverse();
          sendPage(r, k.key, items, `${k.type}Collection`);
        },
      },
      {
        method: 'POST',
        path: LIST,
        api: k.api,
        type: k.type,
        async handle(r) {
          const rec = await create(k, r);
          r.json(201, rec, { headers: { Location: rec.self as string } });
        },
      },
      { method: 'GET', path: ONE, api: k.api, type: k.type, handle: (r) => r.json(200, visible(r)) },
    );
    if (k.kind === 'alarm') {
      routes.push({
        method: 'PUT',
        path: ONE,
        api: k.api,
        type: k.type,
        async handle(r) {
          const rec = visible(r);
          const b = await r.body();
          const fields: Record<string, unknown> = {};
          if (b.status !== undefined) {
            if (typeof b.status !== 'string' || !ALARM_STATUSES.has(b.status)) throw new HttpError(422, 'status must be ACTIVE, ACKNOWLEDGED or CLEARED');
            fields.status = b.status;
          }
          if (b.severity !== undefined) {
            if (typeof b.severity !== 'string' || !SEVERITIES.has(b.severity)) throw new HttpError(422, 'severity must be CRITICAL, MAJOR, MINOR or WARNING');
            fields.severity = b.severity;
          }
          if (typeof b.text === 'string') fields.text = b.text;
          r.json(200, extrasOf(ctx).records.update('alarm', rec.id, fields));
        },
      });
    }
  }
  return routes;
}
