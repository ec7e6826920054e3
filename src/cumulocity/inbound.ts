/**
 * What Cumulocity sends a device, parsed: operations into one typed request whatever the path (SmartREST
 * 530 lines on `s/ds`, JSON on `devicecontrol/notifications`, or REST operation objects), and the short
 * replies on `s/e` and `s/dat`. Pure functions; malformed input is returned as an error entry, never thrown.
 */
import { C8yTunnelError, AgentError } from '../errors.js';
import { parseHost, parseKey, parsePayload, parsePort, parseRemoteAccessConnect } from './smartrest.js';

/** The operation fragment this agent serves. */
export const FRAGMENT = 'c8y_RemoteAccessConnect';

/** A remote access request, from any path. */
export interface RemoteAccessRequest {
  /** External id of the device the operation is for (own serial or a child's). */
  serial: string;
  host: string;
  port: number;
  key: string;
  /** Operation id, when the path carries one (JSON, REST). */
  id?: string;
  via: '530' | 'json' | 'rest';
}

/** What one `s/ds` publish held. */
export interface DownstreamResult {
  requests: RemoteAccessRequest[];
  /**
   * Malformed 530 lines for one of our serials (so they can still be failed by name, in order); the
   * message never contains the line itself.
   */
  errors: Array<{ serial: string; error: C8yTunnelError }>;
  /** Lines for other templates or other devices. */
  ignored: number;
}

/** Parses an `s/ds` publish; only 530 lines for one of `serials` become requests. */
export function parseDownstream(payload: string, serials: ReadonlySet<string>): DownstreamResult {
  const out: DownstreamResult = { requests: [], errors: [], ignored: 0 };
  for (const p of parsePayload(payload)) {
    if (p.error) {
      // Only 530 lines for our serials matter; others (unknown templates we could not parse) are noise.
      const serial = naiveSerial(p.line);
      if (p.line.trimStart().startsWith('530,') && serial !== undefined && serials.has(serial)) out.errors.push({ serial, error: p.error });
      else out.ignored++;
      continue;
    }
    if (p.fields[0] !== '530') {
      out.ignored++;
      continue;
    }
    if (!serials.has(p.fields[1] ?? '')) {
      out.ignored++;
      continue;
    }
    try {
      const r = parseRemoteAccessConnect(p.fields);
      out.requests.push({ serial: r.serial, host: r.host, port: r.port, key: r.key, via: '530' });
    } catch (err) {
      out.errors.push({ serial: p.fields[1]!, error: err instanceof C8yTunnelError ? err : new AgentError('AGENT_ERR_BAD_OPERATION', String(err), { cause: err }) });
    }
  }
  return out;
}

/** Field 1 of a line that did not parse, by a plain split (quotes stripped). */
function naiveSerial(line: string): string | undefined {
  const f = line.split(',')[1];
  return f === undefined ? undefined : f.trim().replace(/^"|"$/g, '');
}

/** An operation id from JSON: a string of id characters, or a safe non-negative integer (never `1e+21`). */
export function validOperationId(id: unknown): string | undefined {
  if (typeof id === 'string') return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
  if (typeof id === 'number') return Number.isSafeInteger(id) && id >= 0 ? String(id) : undefined;
  return undefined;
}

/** The shape of an operation in JSON notifications and REST. */
interface OperationJson {
  id?: unknown;
  status?: unknown;
  deviceId?: unknown;
  externalSource?: { externalId?: unknown };
  c8y_RemoteAccessConnect?: { hostname?: unknown; port?: unknown; connectionKey?: unknown };
}

/** Result of parsing one operation object: a request, nothing (not ours), or an error with the id if known. */
export type JsonResult = { request: RemoteAccessRequest } | { ignored: true } | { error: C8yTunnelError; id?: string; serial: string };

/**
 * Turns one operation object into a request. `serialOf` maps the object to the target serial (from
 * externalSource, or the managed object id for REST); operations that are not c8y_RemoteAccessConnect,
 * not PENDING, or for other devices are ignored.
 */
export function parseOperationJson(obj: unknown, serials: ReadonlySet<string>, fallbackSerial: string, via: 'json' | 'rest'): JsonResult {
  if (!obj || typeof obj !== 'object') return { ignored: true };
  const op = obj as OperationJson;
  const frag = op[FRAGMENT];
  if (!frag || typeof frag !== 'object') return { ignored: true };
  if (op.status !== undefined && op.status !== 'PENDING') return { ignored: true };
  const ext = op.externalSource?.externalId;
  const serial = typeof ext === 'string' && ext !== '' ? ext : fallbackSerial;
  if (!serials.has(serial)) return { ignored: true };
  const id = validOperationId(op.id);
  try {
    const request: RemoteAccessRequest = { serial, host: parseHost(frag.hostname), port: parsePort(frag.port), key: parseKey(frag.connectionKey), via };
    if (id !== undefined) request.id = id;
    return { request };
  } catch (err) {
    const e = err instanceof C8yTunnelError ? err : new AgentError('AGENT_ERR_BAD_OPERATION', String(err), { cause: err });
    return id !== undefined ? { error: e, id, serial } : { error: e, serial };
  }
}

/** The token of a `71,<jwt>` reply on `s/dat`, or undefined when the payload is not one. */
export function parseJwtReply(text: string): string | undefined {
  return /^71,"?([^",\s]+)"?/.exec(text.trim())?.[1];
}

/** True for the `41,100` reply on `s/e` (the device exists already: expected on every 100 but the first). */
export function isDeviceExistsReply(text: string): boolean {
  return /^41,100\b/.test(text);
}
