/**
 * Options of `c8y-tunnel connect`: flags and environment (C8Y_HOST, C8Y_TENANT, C8Y_USER, C8Y_PASSWORD,
 * C8Y_TOKEN) validated once, at the boundary, into a plain ConnectOptions.
 */
import { parseArgs } from 'node:util';
import { TunnelError } from '../errors.js';

/** The local side of a session: a TCP listener, or stdin/stdout (ssh ProxyCommand). */
export type LocalMode = { kind: 'listen'; host: string; port: number } | { kind: 'stdio' };

/** Credentials for the tenant: Basic (tenant/user:password) or Bearer (token). */
export type Credentials = { kind: 'basic'; tenant?: string; user: string; password: string } | { kind: 'bearer'; token: string };

/** Everything `connect` needs, validated. */
export interface ConnectOptions {
  /** Base URL of the tenant, e.g. https://t1.cumulocity.com (no trailing slash). */
  baseUrl: string;
  credentials: Credentials;
  /** Device serial (c8y_Serial external id) or managed object id. */
  device: string;
  /** Configuration name or id. */
  config: string;
  local: LocalMode;
  /** Extra CA certificates (PEM) for https/wss. */
  ca?: string[];
  /** How long to wait for the WebSocket upgrade, ms. */
  handshakeTimeoutMs: number;
  /** After local EOF, close once the device has been quiet this long, ms. */
  lingerMs?: number;
  /** No informational lines on stderr (failures are still printed). */
  quiet: boolean;
  /** --listen: most concurrent sessions (default DEFAULT_MAX_SESSIONS). */
  maxSessions?: number;
  /** The scheme https:// was assumed for a C8Y_HOST given without one. */
  assumedHttps?: boolean;
}

/** Default local listener. */
export const DEFAULT_LISTEN = '127.0.0.1:2222';
/** Upgrade timeout: a little above the cloud's 30 s operation timeout, so the cloud's verdict comes first. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 45_000;

const configError = (msg: string): TunnelError => new TunnelError('CONNECT_ERR_CONFIG', msg);

/** A flag in seconds (fractions allowed, 0 allowed) as ms. */
function seconds(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt * 1000;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw configError(`${flag} must be a number of seconds >= 0, got ${JSON.stringify(v)}`);
  return Math.round(n * 1000);
}

/** `https://host`, `http://host:port` or a bare `host[:port]` (https assumed) as a base URL. */
export function normalizeBaseUrl(host: string): string {
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw configError(`C8Y_HOST is not a valid URL or host name: ${JSON.stringify(host)}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw configError(`C8Y_HOST must be http:// or https://, got ${u.protocol}`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** `host:port`, `[v6]:port` or a bare port, as a listen address. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw configError(`--listen must be [host:]port with port 0-65535, got ${JSON.stringify(value)}`);
  }
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** Credentials from the environment: C8Y_TOKEN wins, else C8Y_USER + C8Y_PASSWORD (+ C8Y_TENANT). */
export function credentialsFromEnv(env: NodeJS.ProcessEnv, tenantFlag?: string, userFlag?: string): Credentials {
  const token = env.C8Y_TOKEN;
  if (token) return { kind: 'bearer', token };
  const user = userFlag ?? env.C8Y_USER;
  const password = env.C8Y_PASSWORD;
  if (!user || password === undefined || password === '') {
    throw configError('set C8Y_USER and C8Y_PASSWORD (or C8Y_TOKEN for a Bearer token)');
  }
  const tenant = tenantFlag ?? env.C8Y_TENANT;
  return tenant ? { kind: 'basic', tenant, user, password } : { kind: 'basic', user, password };
}

/** The Authorization header value for the credentials. */
export function authHeader(c: Credentials): string {
  if (c.kind === 'bearer') return `Bearer ${c.token}`;
  const login = c.tenant && !c.user.includes('/') ? `${c.tenant}/${c.user}` : c.user;
  return `Basic ${Buffer.from(`${login}:${c.password}`).toString('base64')}`;
}

/** Parses argv and env into options; throws CONNECT_ERR_CONFIG with a message naming the flag or variable. */
export function parseConnectArgs(argv: string[], env: NodeJS.ProcessEnv, readFile: (p: string) => string): ConnectOptions & { help: boolean } {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        device: { type: 'string', short: 'd' },
        config: { type: 'string', short: 'c' },
        listen: { type: 'string', short: 'l' },
        stdio: { type: 'boolean' },
        host: { type: 'string' },
        tenant: { type: 'string' },
        user: { type: 'string' },
        ca: { type: 'string', multiple: true },
        'handshake-timeout': { type: 'string' },
        linger: { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        'max-sessions': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw configError((err as Error).message);
  }
  if (v.help) return { help: true } as ConnectOptions & { help: boolean };
  if (!v.device) throw configError('--device <serial or managed object id> is required');
  if (!v.config) throw configError('--config <configuration name or id> is required');
  if (v.stdio && v.listen !== undefined) throw configError('use either --listen or --stdio, not both');
  const host = v.host ?? env.C8Y_HOST;
  if (!host) throw configError('set C8Y_HOST (or --host) to the tenant URL, e.g. https://example.cumulocity.com');
  const timeout = v['handshake-timeout'] === undefined ? DEFAULT_HANDSHAKE_TIMEOUT_MS : Number(v['handshake-timeout']) * 1000;
  if (!Number.isFinite(timeout) || timeout <= 0) throw configError('--handshake-timeout must be a positive number of seconds');
  const opts: ConnectOptions & { help: boolean } = {
    help: false,
    baseUrl: normalizeBaseUrl(host),
    credentials: credentialsFromEnv(env, v.tenant, v.user),
    device: v.device,
    config: v.config,
    local: v.stdio ? { kind: 'stdio' } : { kind: 'listen', ...parseListen(v.listen ?? DEFAULT_LISTEN) },
    handshakeTimeoutMs: timeout,
    lingerMs: seconds('--linger', v.linger, 2),
    quiet: v.quiet ?? false,
  };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) opts.assumedHttps = true;
  if (v['max-sessions'] !== undefined) {
    const n = Number(v['max-sessions']);
    if (!/^\s*\d+\s*$/.test(v['max-sessions']) || n < 1 || n > 10_000) throw configError(`--max-sessions must be an integer 1-10000, got ${JSON.stringify(v['max-sessions'].slice(0, 16))}`);
    opts.maxSessions = n;
  }
  if (v.ca) {
    opts.ca = v.ca.map((p) => {
      try {
        return readFile(p);
      } catch (err) {
        throw configError(`--ca ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    });
  }
  return opts;
}
