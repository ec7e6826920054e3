/**
 * Failure classification: which coded error a socket error during set-up is. One classifier per leg; the
 * TLS verification check is the package's one (net/tls-errors.ts), so an untrusted cloud certificate is
 * TUN_ERR_WS_TLS wherever it surfaces (the TLS socket's error, the upgrade request's error, a
 * proxy-wrapped TLS socket).
 */
import type { ErrorCode, WireError } from '../errors.js';
import { isTlsVerifyError } from '../net/tls-errors.js';

/** A target (TCP leg) error before the tunnel was up. */
export function targetConnectError(err: NodeJS.ErrnoException, host: string, port: number): WireError {
  const target = `target ${host}:${port}`;
  const sys = err.code ?? 'EUNKNOWN';
  switch (sys) {
    case 'ECONNREFUSED':
      return { code: 'TUN_ERR_TCP_REFUSED', message: `${target} refused connection (ECONNREFUSED)`, syscode: sys };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return { code: 'TUN_ERR_TCP_DNS', message: `${target} did not resolve (${sys})`, syscode: sys };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return { code: 'TUN_ERR_TCP_UNREACHABLE', message: `${target} unreachable (${sys})`, syscode: sys };
    case 'ETIMEDOUT':
      return { code: 'TUN_ERR_TCP_TIMEOUT', message: `${target} did not accept the connection in time (ETIMEDOUT)`, syscode: sys };
    case 'ECONNRESET':
      return { code: 'TUN_ERR_TCP_RESET', message: `${target} reset the connection during set-up (ECONNRESET)`, syscode: sys };
    default:
      return { code: 'TUN_ERR_TCP_CONNECT', message: `${target} connection failed (${sys})`, syscode: sys };
  }
}

/** A target error once the tunnel is up. */
export function targetRunError(err: NodeJS.ErrnoException): { code: ErrorCode; message: string } {
  const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
  return { code: reset ? 'TUN_ERR_TCP_RESET' : 'TUN_ERR_TCP_ERROR', message: `target connection ${err.code === 'ECONNRESET' ? 'reset' : 'failed'} (${err.code ?? err.message})` };
}

/** A cloud (WebSocket leg) error before the upgrade completed: socket, TLS or HTTP request error. */
export function cloudConnectError(err: NodeJS.ErrnoException): WireError {
  const sys = err.code;
  if (isTlsVerifyError(sys)) return { code: 'TUN_ERR_WS_TLS', message: `cloud TLS certificate rejected (${sys})`, syscode: sys! };
  if (sys && /^E[A-Z]+$/.test(sys)) {
    const kind = sys === 'ECONNREFUSED' ? 'refused connection' : sys === 'ENOTFOUND' || sys === 'EAI_AGAIN' ? 'did not resolve' : 'failed';
    return { code: 'TUN_ERR_WS_CONNECT', message: `cloud endpoint ${kind} (${sys})`, syscode: sys };
  }
  return { code: 'TUN_ERR_WS_CONNECT', message: `cloud WebSocket failed (${sys ?? err.message})` };
}

/** A cloud socket error once the tunnel is up. */
export function cloudRunError(err: NodeJS.ErrnoException): { code: ErrorCode; message: string } {
  if (isTlsVerifyError(err.code)) return { code: 'TUN_ERR_WS_TLS', message: `cloud TLS failed (${err.code})` };
  // A reset is a drop without a close frame, however the kernel reported it (ws called both 1006).
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return { code: 'TUN_ERR_WS_DROPPED', message: `cloud connection dropped without a close frame (${err.code})` };
  return { code: 'TUN_ERR_WS_ERROR', message: `cloud WebSocket error (${err.code ?? err.message})` };
}
