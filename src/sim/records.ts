/**
 * Events, alarms and measurements: the minimal, bounded store behind `/event/events`,
 * `/alarm/alarms` and `/measurement/measurements`. Each kind keeps its newest `limit` records
 * (oldest dropped first, like the operation history); ids come from their own counter.
 */
import { EventEmitter } from 'node:events';

/** The three kinds of record. */
export type RecordKind = 'event' | 'alarm' | 'measurement';

/** A stored record: the REST shape. */
export type SimRecord = Record<string, unknown> & { id: string; type: string; time: string; source: { id: string; self: string }; creationTime: string };

/** Alarm severities and statuses Cumulocity knows. */
export const SEVERITIES: ReadonlySet<string> = new Set(['CRITICAL', 'MAJOR', 'MINOR', 'WARNING']);
export const ALARM_STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'ACKNOWLEDGED', 'CLEARED']);

/** The filters the three list endpoints share (all optional). */
export interface RecordFilter {
  source?: string;
  type?: string;
  fragmentType?: string;
  dateFrom?: number;
  dateTo?: number;
  status?: string;
  severity?: string;
}

/** Default records kept per kind. */
export const RECORD_LIMIT = 10_000;

/** The bounded store; emits `record` (kind, action, record) on every create and update. */
export class Records {
  readonly events = new EventEmitter();
  readonly #byKind: Record<RecordKind, Map<string, SimRecord>> = { event: new Map(), alarm: new Map(), measurement: new Map() };
  #nextId = 1;

  constructor(
    private readonly baseUrl: () => string,
    readonly limit = RECORD_LIMIT,
  ) {
    this.events.setMaxListeners(0);
  }

  /** Stores a record; drops the oldest of its kind beyond the limit. */
  create(kind: RecordKind, body: Record<string, unknown>, sourceId: string): SimRecord {
    const id = String(this.#nextId++);
    const base = this.baseUrl();
    const path = { event: 'event/events', alarm: 'alarm/alarms', measurement: 'measurement/measurements' }[kind];
    const rec = { ...body, id, self: `${base}/${path}/${id}`, source: { id: sourceId, self: `${base}/inventory/managedObjects/${sourceId}` }, creationTime: new Date().toISOString() } as unknown as SimRecord;
    const m = this.#byKind[kind];
    m.set(id, rec);
    if (m.size > this.limit) m.delete(m.keys().next().value!);
    this.events.emit('record', kind, 'CREATE', rec);
    return rec;
  }

  /** The live record. */
  get(kind: RecordKind, id: string): SimRecord | undefined {
    return this.#byKind[kind].get(id);
  }

  /** Merges fields into a record and emits an update. */
  update(kind: RecordKind, id: string, fields: Record<string, unknown>): SimRecord | undefined {
    const rec = this.#byKind[kind].get(id);
    if (!rec) return undefined;
    Object.assign(rec, fields);
    this.events.emit('record', kind, 'UPDATE', rec);
    return rec;
  }

  /** An active or acknowledged alarm of this source and type (Cumulocity de-duplicates on these). */
  openAlarm(sourceId: string, type: string): SimRecord | undefined {
    for (const a of this.#byKind.alarm.values()) if (a.source.id === sourceId && a.type === type && a.status !== 'CLEARED') return a;
    return undefined;
  }

  /** Records matching the filter, oldest first. */
  list(kind: RecordKind, f: RecordFilter): SimRecord[] {
    const out: SimRecord[] = [];
    for (const r of this.#byKind[kind].values()) {
      if (f.source !== undefined && r.source.id !== f.source) continue;
      if (f.type !== undefined && r.type !== f.type) continue;
      if (f.fragmentType !== undefined && !Object.hasOwn(r, f.fragmentType)) continue;
      if (f.status !== undefined && r.status !== f.status) continue;
      if (f.severity !== undefined && r.severity !== f.severity) continue;
      const t = Date.parse(r.time);
      if (f.dateFrom !== undefined && t < f.dateFrom) continue;
      if (f.dateTo !== undefined && t >= f.dateTo) continue;
      out.push(r);
    }
    return out.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || Number(a.id) - Number(b.id));
  }
}
