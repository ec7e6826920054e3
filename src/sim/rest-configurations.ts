/**
 * `/service/remoteaccess/devices/{id}/configurations[/{configId}]`: CRUD of `{ name, hostname, port,
 * protocol, credentials { type, ... } }`, mirrored by the store into `c8y_RemoteAccessList` on the
 * device's managed object.
 */
import type { Route, RestRequest } from './http-util.js';
import { HttpError, requireRole } from './http-util.js';
import type { RestContext } from './rest.js';
import type { SimConfiguration } from './types.js';

/** Protocols the CRA microservice knows. */
export const PROTOCOLS = ['PASSTHROUGH', 'SSH', 'VNC', 'TELNET'] as const;
/** Credential types. */
export const CREDENTIALS_TYPES = ['NONE', 'USER_PASS', 'KEY_PAIR', 'CERTIFICATE', 'PASS_ONLY'] as const;
const CREDENTIAL_FIELDS = ['username', 'password', 'privateKey', 'publicKey', 'hostKey', 'certificate'] as const;

function credentialsOf(b: Record<string, unknown>): Record<string, unknown> {
  const c = b.credentials;
  if (c === undefined || c === null) return {};
  if (typeof c !== 'object' || Array.isArray(c)) throw new HttpError(422, 'credentials must be an object');
  return c as Record<string, unknown>;
}

/**
 * Validates a configuration body: the nested `credentials { type, username, password, publicKey,
 * privateKey, hostKey, certificate }` the real service and its clients use, or the flat
 * `credentialsType` plus the same fields at the top level (older clients). With `stored` (a PUT), what
 * the body leaves out or sends as `null` keeps its stored value: a client that got no secret back sends
 * `password: null` and the password stays. A new credentials type other than the stored one starts
 * from no fields. Throws HttpError(422) naming the field.
 */
export function validateConfiguration(b: Record<string, unknown>, stored?: SimConfiguration): Omit<SimConfiguration, 'id'> {
  const pick = (k: string): unknown => (b[k] === undefined || b[k] === null ? stored?.[k] : b[k]);
  const name = pick('name');
  if (typeof name !== 'string' || name.trim() === '' || name.length > 256) throw new HttpError(422, 'name must be a non-empty string');
  const hostname = pick('hostname');
  if (typeof hostname !== 'string' || hostname === '' || hostname.length > 253 || /[\s\u0000-\u001f]/.test(hostname)) throw new HttpError(422, 'hostname must be a host name or address');
  const rawPort = pick('port');
  const port = typeof rawPort === 'string' && /^[0-9]+$/.test(rawPort) ? Number(rawPort) : rawPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new HttpError(422, 'port must be an integer 1-65535');
  const protocol = pick('protocol') ?? 'PASSTHROUGH';
  if (typeof protocol !== 'string' || !(PROTOCOLS as readonly string[]).includes(protocol)) throw new HttpError(422, `protocol must be one of ${PROTOCOLS.join(', ')}`);
  const creds = credentialsOf(b);
  const credentialsType = creds.type ?? b.credentialsType ?? stored?.credentialsType ?? 'NONE';
  if (typeof credentialsType !== 'string' || !(CREDENTIALS_TYPES as readonly string[]).includes(credentialsType)) {
    throw new HttpError(422, `credentials.type must be one of ${CREDENTIALS_TYPES.join(', ')}`);
  }
  const keep = stored !== undefined && stored.credentialsType === credentialsType;
  const out: Omit<SimConfiguration, 'id'> = { name, hostname, port, protocol, credentialsType };
  for (const k of CREDENTIAL_FIELDS) {
    const v = creds[k] ?? b[k];
    if (v === undefined || v === null) {
      if (keep && typeof stored[k] === 'string') out[k] = stored[k];
      continue;
    }
    if (typeof v !== 'string') throw new HttpError(422, `credentials.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

/** The REST shape: nested `credentials` (plus `credentialsType`); the password and private key are never returned. */
function view(c: SimConfiguration): Record<string, unknown> {
  const credentials: Record<string, unknown> = { type: c.credentialsType };
  for (const k of ['username', 'publicKey', 'hostKey', 'certificate']) if (typeof c[k] === 'string') credentials[k] = c[k];
  return { id: c.id, name: c.name, hostname: c.hostname, port: c.port, protocol: c.protocol, credentialsType: c.credentialsType, credentials };
}

/** The configuration routes. */
export function configurationRoutes(ctx: RestContext): Route[] {
  const store = ctx.store;
  const device = (r: RestRequest): string => {
    requireRole(r);
    const id = r.params[0]!;
    if (!store.mo(id)) throw new HttpError(404, `Device ${id.slice(0, 32)} not found`);
    return id;
  };
  const one = (r: RestRequest): [string, SimConfiguration] => {
    const id = device(r);
    const c = store.configuration(id, r.params[1]!);
    if (!c) throw new HttpError(404, `Configuration ${r.params[1]!.slice(0, 32)} not found`);
    return [id, c];
  };
  const LIST = /^\/service\/remoteaccess\/devices\/([^/]+)\/configurations\/?$/;
  const ONE = /^\/service\/remoteaccess\/devices\/([^/]+)\/configurations\/([^/]+)\/?$/;
  const api = 'remoteaccess';
  return [
    { method: 'GET', path: LIST, api, handle: (r) => r.json(200, store.configurations(device(r)).map(view)) },
    {
      method: 'POST',
      path: LIST,
      api,
      async handle(r) {
        const id = device(r);
        const c = store.addConfiguration(id, validateConfiguration(await r.body()));
        r.json(201, view(c), { headers: { Location: `${r.url.origin}/service/remoteaccess/devices/${encodeURIComponent(id)}/configurations/${c.id}` } });
      },
    },
    { method: 'GET', path: ONE, api, handle: (r) => r.json(200, view(one(r)[1])) },
    {
      method: 'PUT',
      path: ONE,
      api,
      async handle(r) {
        const [id, c] = one(r);
        const merged = validateConfiguration(await r.body(), c);
        r.json(200, view(store.replaceConfiguration(id, c.id, merged)!));
      },
    },
    {
      method: 'DELETE',
      path: ONE,
      api,
      handle(r) {
        const [id, c] = one(r);
        store.deleteConfiguration(id, c.id);
        r.json(204, undefined);
      },
    },
  ];
}
