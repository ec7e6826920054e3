/** A tunnel spec: validation at the boundary, and the defaults every tunnel runs with. */
import {
  DEFAULT_BOOTSTRAP_LIMIT,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_COALESCE_MS,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_TCP_CONNECT_TIMEOUT_MS,
  DEFAULT_WS_CONNECT_TIMEOUT_MS,
} from '../constants.js';
import { TunnelError } from '../errors.js';
import type { TunnelSpec } from './types.js';

/** A spec with every default filled in. */
export interface ResolvedSpec extends TunnelSpec {
  tcpConnectTimeoutMs: number;
  wsConnectTimeoutMs: number;
  maxPayload: number;
  bootstrapLimit: number;
  highWaterMark: number;
  closeGraceMs: number;
  idleTimeoutMs: number;
  coalesceMs: number;
  zeroMask: boolean;
}

export function resolveSpec(spec: TunnelSpec): ResolvedSpec {
  return {
    ...spec,
    tcpConnectTimeoutMs: spec.tcpConnectTimeoutMs ?? DEFAULT_TCP_CONNECT_TIMEOUT_MS,
    wsConnectTimeoutMs: spec.wsConnectTimeoutMs ?? DEFAULT_WS_CONNECT_TIMEOUT_MS,
    maxPayload: spec.maxPayload ?? DEFAULT_MAX_PAYLOAD,
    bootstrapLimit: spec.bootstrapLimit ?? DEFAULT_BOOTSTRAP_LIMIT,
    highWaterMark: spec.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
    closeGraceMs: spec.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS,
    idleTimeoutMs: spec.idleTimeoutMs ?? 0,
    coalesceMs: spec.coalesceMs ?? DEFAULT_COALESCE_MS,
    zeroMask: spec.zeroMask === true,
  };
}

/**
 * The dial is over (up or failed): the parts of the spec only the dial reads (URL, headers with their
 * credentials, TLS material such as a CA bundle, proxy) are let go, so a long-lived tunnel does not hold
 * its own copy of them (a worker's spec is a structured clone: strings are not shared across threads).
 */
export function forgetDialing(spec: ResolvedSpec): void {
  spec.url = '';
  spec.headers = undefined;
  spec.tls = undefined;
  spec.proxy = undefined;
}

/** Validates a spec at the boundary; throws TUN_ERR_INVALID_SPEC. */
export function validateSpec(spec: TunnelSpec): void {
  if (!spec || typeof spec !== 'object') throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec must be an object');
  if (typeof spec.host !== 'string' || spec.host === '' || /[\s\u0000-\u001f\u007f]/.test(spec.host) || spec.host.length > 253) {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.host must be a host name or address');
  }
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.port must be an integer 1-65535');
  }
  let u: URL;
  try {
    u = new URL(spec.url);
  } catch (err) {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.url must be a ws: or wss: URL', { cause: err });
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.url must be a ws: or wss: URL');
  for (const k of ['tcpConnectTimeoutMs', 'wsConnectTimeoutMs', 'maxPayload', 'bootstrapLimit', 'highWaterMark', 'closeGraceMs', 'idleTimeoutMs'] as const) {
    const v = spec[k];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0) && !(k === 'idleTimeoutMs' && v === 0)) throw new TunnelError('TUN_ERR_INVALID_SPEC', `spec.${k} must be a positive number`);
  }
  const co = spec.coalesceMs;
  if (co !== undefined && (!Number.isFinite(co) || co < 0 || co > 1000)) throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.coalesceMs must be a number 0-1000');
  if (spec.headers !== undefined) {
    if (!spec.headers || typeof spec.headers !== 'object') throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.headers must be an object of strings');
    for (const [k, v] of Object.entries(spec.headers)) {
      if (typeof v !== 'string' || /[\r\n\u0000]/.test(v) || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) {
        throw new TunnelError('TUN_ERR_INVALID_SPEC', `spec.headers: invalid header ${JSON.stringify(k.slice(0, 40))}`);
      }
    }
  }
}
