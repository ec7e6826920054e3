/**
 * `/service/remoteaccess/devices/{id}/configurations[/{configId}]`: CRUD with the flat body
 * (`name, hostname, port, protocol, credentialsType` plus credentials fields), mirrored by the store
 * into `c8y_RemoteAccessList` on the device's managed object.
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

/** Validates a flat configuration body; throws HttpError(422) naming the field. */
export function validateConfiguration(b: Record<string, unknown>): Omit<SimConfiguration, 'id'> {
  const name = b.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 256) throw new HttpError(422, 'name must be a non-empty string');
  const hostname = b.hostname;
  if (typeof hostname !== 'string' || hostname === '' || hostname.length > 253 || /[\s\u0000-\u001f]/.test(hostname)) throw new HttpError(422, 'hostname must be a host name or address');
  const port = typeof b.port === 'string' && /^[0-9]+$/.test(b.port) ? Number(b.port) : b.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw new HttpError(422, 'port must be an integer 1-65535');
  const protocol = b.protocol ?? 'PASSTHROUGH';
  if (typeof protocol !== 'string' || !(PROTOCOLS as readonly string[]).includes(protocol)) throw new HttpError(422, `protocol must be one of ${PROTOCOLS.join(', ')}`);
  const credentialsType = b.credentialsType ?? 'NONE';
  if (typeof credentialsType !== 'string' || !(CREDENTIALS_TYPES as readonly string[]).includes(credentialsType)) {
    throw new HttpError(422, `credentialsType must be one of ${CREDENTIALS_TYPES.join(', ')}`);
  }
  const out: Omit<SimConfiguration, 'id'> = { name, hostname, port, protocol, credentialsType };
  for (const k of CREDENTIAL_FIELDS) {
    const v = b[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw new HttpError(422, `${k} must be a string`);
    out[k] = v;
  }
  return out;
}

/** The REST shape: secrets are never returned. */
function view(c: SimConfiguration): Record<string, unknown> {
  const { password: _p, privateKey: _k, ...rest } = c;
  return rest;
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
        r.json(201, view(store.addConfiguration(id, validateConfiguration(await r.body()))));
      },
    },
    { method: 'GET', path: ONE, api, handle: (r) => r.json(200, view(one(r)[1])) },
    {
      method: 'PUT',
      path: ONE,
      api,
      async handle(r) {
        const [id, c] = one(r);
        const merged = validateConfiguration({ ...c, ...(await r.body()) });
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
