/**
 * The two REST look-ups `connect` needs before it opens a WebSocket: device serial -> managed object id,
 * configuration name -> id (PASSTHROUGH only, like go-c8y-cli and c8ylp).
 */
import http from 'node:http';
import https from 'node:https';
import { CONNECT_REST_MAX_BODY, REST_TIMEOUT_MS } from '../constants.js';
import { type C8yTunnelError, ConnectError } from '../errors.js';
import { isTlsVerifyError } from '../net/tls-errors.js';

/** How to reach the tenant's REST API. */
export interface RestTarget {
  baseUrl: string;
  authorization: string;
  ca?: string[];
  timeoutMs?: number;
}

/** One remote access configuration as the CRA REST API lists it. */
export interface RemoteAccessConfiguration {
  id: string;
  name: string;
  hostname?: string;
  port?: number;
  protocol?: string;
}

/** A resolved session target. */
export interface ResolvedTarget {
  deviceId: string;
  configId: string;
  configName: string;
  /** The configuration's target on the device side, when the API tells. */
  hostname?: string;
  port?: number;
}


/**
 * GET `path` and parse JSON; 401/403 -> CONNECT_ERR_AUTH, 404 -> resolves `undefined`, other errors ->
 * CONNECT_ERR_NOT_FOUND/CONFIG. The deadline covers the whole exchange (a server trickling one byte now
 * and then cannot hold it), and a body above CONNECT_REST_MAX_BODY fails it (a hostile tenant cannot fill memory).
 */
export function getJson(t: RestTarget, path: string): Promise<unknown> {
  const url = new URL(t.baseUrl + path);
  const mod = url.protocol === 'https:' ? https : http;
  const timeoutMs = t.timeoutMs ?? REST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    // Why we cut the request ourselves (deadline, size), which wins over the socket error it causes.
    let cut: NodeJS.ErrnoException | undefined;
    const stop = (err: NodeJS.ErrnoException): void => {
      cut ??= err;
      req.destroy(err);
    };
    const req = mod.request(
      url,
      {
        method: 'GET',
        headers: { Authorization: t.authorization, Accept: 'application/json' },
        ...(t.ca ? { ca: t.ca } : {}),
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > CONNECT_REST_MAX_BODY) {
            stop(Object.assign(new Error(`the answer is larger than ${CONNECT_REST_MAX_BODY} bytes`), { code: 'EMSGSIZE' }));
            return;
          }
          parts.push(d);
        });
        res.on('error', (err) => reject(restError(url, cut ?? err)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status === 401 || status === 403) {
            const why = status === 401 ? 'rejected the credentials' : 'denied access (does the user have the Remote access role?)';
            reject(new ConnectError('CONNECT_ERR_AUTH', `${url.host} ${why} (HTTP ${status})`, { status }));
          } else if (status === 404) resolve(undefined);
          else if (status < 200 || status >= 300) {
            reject(new ConnectError('CONNECT_ERR_NOT_FOUND', `GET ${url.pathname} failed: HTTP ${status}`, { status }));
          } else {
            try {
              resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
            } catch (err) {
              reject(new ConnectError('CONNECT_ERR_NOT_FOUND', `GET ${url.pathname} did not return JSON (is C8Y_HOST a Cumulocity tenant?)`, { cause: err }));
            }
          }
        });
      },
    );
    const deadline = setTimeout(() => stop(Object.assign(new Error(`no complete answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('error', (err) => reject(restError(url, cut ?? err)));
    req.end();
  });
}

function restError(url: URL, err: NodeJS.ErrnoException): C8yTunnelError {
  const why = err.code === 'ETIMEDOUT' || err.code === 'EMSGSIZE' ? `${err.code}: ${err.message}` : (err.code ?? err.message);
  if (isTlsVerifyError(err.code)) {
    return new ConnectError('CONNECT_ERR_CONFIG', `TLS verification of ${url.host} failed (${why}): pass its CA with --ca <file>`, { syscode: why, cause: err });
  }
  return new ConnectError('CONNECT_ERR_CONFIG', `cannot reach ${url.protocol}//${url.host} (${why}): check C8Y_HOST`, { syscode: err.code, cause: err });
}

/** Serial (c8y_Serial external id) first; an all-digits value that is no serial is tried as a managed object id. */
export async function resolveDevice(t: RestTarget, device: string): Promise<string> {
  const ext = (await getJson(t, `/identity/externalIds/c8y_Serial/${encodeURIComponent(device)}`)) as { managedObject?: { id?: unknown } } | undefined;
  const id = ext?.managedObject?.id;
  if (id !== undefined && id !== null && String(id) !== '') return String(id);
  if (/^\d+$/.test(device)) {
    const mo = (await getJson(t, `/inventory/managedObjects/${device}`)) as { id?: unknown } | undefined;
    if (mo && mo.id !== undefined) return String(mo.id);
  }
  throw new ConnectError('CONNECT_ERR_NOT_FOUND', `no device with serial or id "${device}"`);
}

/** The device's remote access configurations (CRA REST API). */
export async function listConfigurations(t: RestTarget, deviceId: string): Promise<RemoteAccessConfiguration[]> {
  const list = await getJson(t, `/service/remoteaccess/devices/${encodeURIComponent(deviceId)}/configurations`);
  if (list === undefined) {
    throw new ConnectError('CONNECT_ERR_NOT_FOUND', 'the remote access service answered 404: is the tenant subscribed to Cloud Remote Access?');
  }
  if (!Array.isArray(list)) throw new ConnectError('CONNECT_ERR_NOT_FOUND', 'the remote access service returned no configuration list');
  return list
    .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
    .map((c) => ({
      id: String(c.id),
      name: String(c.name ?? ''),
      ...(typeof c.hostname === 'string' ? { hostname: c.hostname } : {}),
      ...(typeof c.port === 'number' ? { port: c.port } : {}),
      ...(typeof c.protocol === 'string' ? { protocol: c.protocol } : {}),
    }));
}

/** Picks the PASSTHROUGH configuration whose id, else name, equals `wanted`. */
export function pickConfiguration(list: RemoteAccessConfiguration[], wanted: string, device: string): RemoteAccessConfiguration {
  const pass = list.filter((c) => (c.protocol ?? 'PASSTHROUGH').toUpperCase() === 'PASSTHROUGH');
  const hit = pass.find((c) => c.id === wanted) ?? pass.find((c) => c.name === wanted);
  if (hit) return hit;
  const other = list.find((c) => c.id === wanted || c.name === wanted);
  if (other) {
    throw new ConnectError('CONNECT_ERR_NOT_FOUND', `configuration "${wanted}" on device "${device}" is ${other.protocol}, not PASSTHROUGH`);
  }
  const names = pass.map((c) => c.name).join(', ');
  throw new ConnectError(
    'CONNECT_ERR_NOT_FOUND',
    `device "${device}" has no PASSTHROUGH configuration "${wanted}"` + (names ? ` (it has: ${names})` : ' (it has none)'),
  );
}

/** Device and configuration, resolved through REST. */
export async function resolveTarget(t: RestTarget, device: string, config: string): Promise<ResolvedTarget> {
  const deviceId = await resolveDevice(t, device);
  const cfg = pickConfiguration(await listConfigurations(t, deviceId), config, device);
  return {
    deviceId,
    configId: cfg.id,
    configName: cfg.name,
    ...(cfg.hostname !== undefined ? { hostname: cfg.hostname } : {}),
    ...(cfg.port !== undefined ? { port: cfg.port } : {}),
  };
}
