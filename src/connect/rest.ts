/**
 * The two REST look-ups `connect` needs before it opens a WebSocket: device serial -> managed object id,
 * configuration name -> id (PASSTHROUGH only, like go-c8y-cli and c8ylp).
 */
import { CONNECT_REST_MAX_BODY, REST_TIMEOUT_MS } from '../constants.js';
import { type C8yTunnelError, ConnectError } from '../errors.js';
import { createJsonClient, type HttpJsonError, type JsonClient } from '../net/http-json.js';
import { proxyFor } from '../net/proxy.js';

/** How to reach the tenant's REST API. */
export interface RestTarget {
  baseUrl: string;
  authorization: string;
  ca?: string[];
  timeoutMs?: number;
  /** HTTP(S) proxy (from --proxy or https_proxy/HTTPS_PROXY). */
  proxy?: string;
  /** Hosts that bypass the proxy (NO_PROXY rules, see net/proxy.ts). */
  noProxy?: string;
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

/** One HTTP client (connections, proxy) per target object: the look-ups and the watch of a session share it. */
const clients = new WeakMap<RestTarget, JsonClient>();

function clientFor(t: RestTarget): JsonClient {
  let c = clients.get(t);
  if (!c) {
    const proxy = proxyFor(t.baseUrl, t.proxy, t.noProxy ?? '');
    c = createJsonClient({ timeoutMs: t.timeoutMs ?? REST_TIMEOUT_MS, maxBodyBytes: CONNECT_REST_MAX_BODY, ...(t.ca ? { tls: { ca: t.ca } } : {}), ...(proxy ? { proxy } : {}) });
    clients.set(t, c);
  }
  return c;
}

/**
 * GET `path` and parse JSON; 401/403 -> CONNECT_ERR_AUTH, 404 -> resolves `undefined`, other errors ->
 * CONNECT_ERR_NOT_FOUND/CONFIG, a proxy's refusal or failure -> CONNECT_ERR_PROXY. The deadline covers the
 * whole exchange (a server trickling one byte now and then cannot hold it), and a body above
 * CONNECT_REST_MAX_BODY fails it (a hostile tenant cannot fill memory).
 */
export async function getJson(t: RestTarget, path: string): Promise<unknown> {
  const url = new URL(t.baseUrl + path);
  let res;
  try {
    res = await clientFor(t).request({ method: 'GET', url: url.href, headers: { authorization: t.authorization, accept: 'application/json' } });
  } catch (err) {
    throw restError(url, err as HttpJsonError);
  }
  const { status } = res;
  if (status === 401 || status === 403) {
    const why = status === 401 ? 'rejected the credentials' : 'denied access (does the user have the Remote access role?)';
    throw new ConnectError('CONNECT_ERR_AUTH', `${url.host} ${why} (HTTP ${status})`, { status });
  }
  if (status === 404) return undefined;
  if (status < 200 || status >= 300) throw new ConnectError('CONNECT_ERR_NOT_FOUND', `GET ${url.pathname} failed: HTTP ${status}`, { status });
  if (res.bodyKind !== 'json') throw new ConnectError('CONNECT_ERR_NOT_FOUND', `GET ${url.pathname} did not return JSON (is C8Y_HOST a Cumulocity tenant?)`);
  return res.body;
}

/**
 * A proxy's refusal of a CONNECT (`status`, the proxy's answer) or its failure, told apart from the
 * tenant's answers: one wording for the REST look-ups and the session WebSocket (session.ts).
 */
export function proxyError(host: string, status: number | undefined, message: string, extra: { cause: unknown; status?: number; syscode?: string }): C8yTunnelError {
  if (status) return new ConnectError('CONNECT_ERR_PROXY', `the proxy refused to connect to ${host} (HTTP ${status}): check --proxy/https_proxy and the proxy's credentials`, { ...extra, status });
  return new ConnectError('CONNECT_ERR_PROXY', `${message}: check --proxy/https_proxy`, extra);
}

/** The one line for a look-up that got no answer: what failed, and which setting to check. */
function restError(url: URL, err: HttpJsonError): C8yTunnelError {
  const extra = { cause: err, ...(err.syscode !== undefined ? { syscode: err.syscode } : {}) };
  switch (err.kind) {
    case 'proxy-refused':
      return proxyError(url.host, err.status, err.message, extra);
    case 'proxy-failed':
      return proxyError(url.host, undefined, err.message, extra);
    case 'tls':
      return new ConnectError('CONNECT_ERR_CONFIG', `TLS verification of ${url.host} failed (${err.syscode}): pass its CA with --ca <file>`, extra);
    case 'deadline':
      return new ConnectError('CONNECT_ERR_CONFIG', `cannot reach ${url.protocol}//${url.host} (ETIMEDOUT: no complete answer within ${err.limit! / 1000} s): check C8Y_HOST`, { ...extra, syscode: 'ETIMEDOUT' });
    case 'too-large':
      return new ConnectError('CONNECT_ERR_CONFIG', `cannot reach ${url.protocol}//${url.host} (EMSGSIZE: the answer is larger than ${err.limit} bytes): check C8Y_HOST`, { ...extra, syscode: 'EMSGSIZE' });
    default:
      return new ConnectError('CONNECT_ERR_CONFIG', `cannot reach ${url.protocol}//${url.host} (${err.message}): check C8Y_HOST`, extra);
  }
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
