/**
 * Options of `c8y-tunnel connect`: flags and environment (C8Y_HOST, C8Y_TENANT, C8Y_USER, C8Y_PASSWORD,
 * C8Y_TOKEN, https_proxy/HTTPS_PROXY, no_proxy/NO_PROXY) validated once, at the boundary, into a plain
 * ConnectOptions.
 */
import { type C8yTunnelError, ConnectError } from '../errors.js';
import { bool, int, list, parseCommandLine, parseInteger, PORT, proxyUrl, secret, seconds, text, type SettingsTable } from '../settings.js';

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
  /** HTTP(S) proxy for the REST look-ups and the session WebSockets (HTTP CONNECT). */
  proxy?: string;
  /** Hosts that bypass the proxy: `*`, names (subdomains too), IP literals, `host:port`. */
  noProxy?: string;
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

const configError = (msg: string, cause?: unknown): C8yTunnelError => new ConnectError('CONNECT_ERR_CONFIG', msg, { cause });

/** The command's flags and environment variables, as given (checked one by one). */
export interface ConnectFlags {
  device: string;
  config: string;
  listen: string | undefined;
  stdio: boolean;
  maxSessions: number | undefined;
  host: string;
  tenant: string | undefined;
  user: string | undefined;
  ca: string[];
  proxy: string | undefined;
  noProxy: string;
  handshakeTimeoutMs: number;
  lingerMs: number;
  quiet: boolean;
}

/** The flags of `c8y-tunnel connect`, in --help order. */
export const CONNECT_SETTINGS: SettingsTable<ConnectFlags> = {
  device: text({ flag: 'device', short: 'd', arg: 's', required: true, missing: '--device <serial or managed object id> is required', help: 'device serial (c8y_Serial external id) or managed object id' }),
  config: text({ flag: 'config', short: 'c', arg: 's', required: true, missing: '--config <configuration name or id> is required', help: 'remote access configuration name or id (PASSTHROUGH only)' }),
  listen: text({ flag: 'listen', short: 'l', arg: 'addr', defaultText: DEFAULT_LISTEN, help: 'listen on [host:]port; one session per local connection;\nport 0 picks a free port, printed on start' }),
  stdio: bool({ flag: 'stdio', default: false, help: 'one session on stdin/stdout, for ssh -o ProxyCommand=...' }),
  maxSessions: int({ flag: 'max-sessions', arg: 'n', min: 1, max: 10_000, help: 'with --listen: most sessions open at once; a connection beyond is\nclosed at once (each session is a cloud operation on the device)' }),
  host: text({
    flag: 'host',
    env: ['C8Y_HOST'],
    arg: 'url',
    required: true,
    missing: 'set C8Y_HOST (or --host) to the tenant URL, e.g. https://example.cumulocity.com',
    help: 'tenant URL, e.g. https://example.cumulocity.com; a bare host\nname means https:// (said in one line at start)',
  }),
  tenant: text({ flag: 'tenant', env: ['C8Y_TENANT'], arg: 'id', help: 'tenant id for Basic auth' }),
  user: text({ flag: 'user', env: ['C8Y_USER'], arg: 'name', help: 'user name' }),
  ca: list({ flag: 'ca', arg: 'file', default: [], help: 'extra CA certificate (PEM) for https/wss; repeatable' }),
  // Lower case first, as curl reads them.
  proxy: secret({ flag: 'proxy', env: ['https_proxy', 'HTTPS_PROXY'], arg: 'url', help: 'HTTP(S) proxy for the REST look-ups and the session WebSockets (CONNECT),\nhttp://user:pass@proxy:3128; also read from HTTPS_PROXY', then: proxyUrl }),
  noProxy: text({ flag: 'no-proxy', env: ['no_proxy', 'NO_PROXY'], default: '', arg: 'list', help: 'hosts that bypass the proxy: names (subdomains too), .suffixes, *,\nIP literals, host:port; also read from NO_PROXY' }),
  handshakeTimeoutMs: seconds({ flag: 'handshake-timeout', arg: 's', min: 0, above: true, default: DEFAULT_HANDSHAKE_TIMEOUT_MS / 1000, help: 'give up on a session that is not set up after this many seconds' }),
  lingerMs: seconds({ flag: 'linger', arg: 's', min: 0, default: 2, help: 'after local EOF, keep the session until the device has been quiet this long\n(CRA has no half-close, so this lets answers to piped input arrive)' }),
  quiet: bool({ flag: 'quiet', short: 'q', default: false, help: 'print failures and the listening address only' }),
};

/** `https://host`, `http://host:port` or a bare `host[:port]` (https assumed) as a base URL. */
export function normalizeBaseUrl(host: string): string {
  const raw = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `https://${host}`;
  let u: URL;
  try {
    u = new URL(raw);
  } catch (err) {
    throw configError(`C8Y_HOST is not a valid URL or host name: ${JSON.stringify(host)}`, err);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw configError(`C8Y_HOST must be http:// or https://, got ${u.protocol}`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** `host:port`, `[v6]:port` or a bare port, as a listen address. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? parseInteger(m[3], PORT.min, PORT.max) : undefined;
  if (!m || port === undefined) {
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
  const v = parseCommandLine(CONNECT_SETTINGS, argv, env, configError);
  if (v === undefined) return { help: true } as ConnectOptions & { help: boolean };
  if (v.stdio && v.listen !== undefined) throw configError('use either --listen or --stdio, not both');
  const opts: ConnectOptions & { help: boolean } = {
    help: false,
    baseUrl: normalizeBaseUrl(v.host),
    credentials: credentialsFromEnv(env, v.tenant, v.user),
    device: v.device,
    config: v.config,
    local: v.stdio ? { kind: 'stdio' } : { kind: 'listen', ...parseListen(v.listen ?? DEFAULT_LISTEN) },
    handshakeTimeoutMs: v.handshakeTimeoutMs,
    lingerMs: v.lingerMs,
    quiet: v.quiet,
  };
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v.host)) opts.assumedHttps = true;
  if (v.maxSessions !== undefined) opts.maxSessions = v.maxSessions;
  if (v.proxy !== undefined) opts.proxy = v.proxy;
  if (v.noProxy !== '') opts.noProxy = v.noProxy;
  if (v.ca.length > 0) {
    opts.ca = v.ca.map((p) => {
      try {
        return readFile(p);
      } catch (err) {
        throw configError(`--ca ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err);
      }
    });
  }
  return opts;
}
