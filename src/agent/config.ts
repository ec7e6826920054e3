/**
 * Agent settings: one table of every setting (flag, environment variable, config-file key, default),
 * merged with the precedence flags > environment > JSON config file > defaults, then validated into a
 * ResolvedConfig. A bad or missing setting is one AGENT_ERR_CONFIG line naming where it came from.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_TCP_CONNECT_TIMEOUT_MS, DEFAULT_WS_CONNECT_TIMEOUT_MS } from '../constants.js';
import { TunnelError } from '../errors.js';
import { parsePolicy, type Policy } from './policy.js';

/** The agent's settings as the library takes them (all optional here; required ones are checked). */
export interface AgentConfig {
  /** Base URL of the tenant, e.g. https://t1.example.com (C8Y_HOST). */
  host?: string;
  /** MQTT URL (C8Y_MQTT_URL); default mqtts://<host>:8883. */
  mqttUrl?: string;
  tenant?: string;
  user?: string;
  password?: string;
  /** The device's serial (external id c8y_Serial); MQTT client id `d:<serial>` (C8Y_DEVICE_ID). */
  deviceId?: string;
  /** Authorization on the device WebSocket: `basic` (default) or `jwt` (C8Y_AUTH). */
  auth?: 'basic' | 'jwt' | string;
  /** `mqtt` (default) or `rest`. */
  transport?: 'mqtt' | 'rest' | string;
  /** REST transport: how often pending operations are fetched, ms. */
  pollIntervalMs?: number | string;
  /** Other operations announced in 114 together with c8y_RemoteAccessConnect. */
  supportedOperations?: string[] | string;
  /** Child device serials whose 530 requests this agent serves. */
  childDevices?: string[] | string;
  /** Allowed targets, `host:port` patterns (`*` globs, port ranges); default all. */
  allow?: string[] | string;
  /** Most concurrent sessions; more are FAILED. */
  maxSessions?: number | string;
  /** Engine worker threads (0 = main thread). */
  threads?: number | string;
  /** Tunnels one worker carries at once. */
  tunnelsPerWorker?: number | string;
  /** Shutdown grace for open tunnels, ms. */
  graceMs?: number | string;
  /** Extra CA certificates: file paths or PEM text. */
  ca?: string[] | string;
  /** Skip TLS verification (explicit opt-out; warns). */
  insecure?: boolean | string;
  /** HTTP(S) proxy for the WebSocket (HTTPS_PROXY). */
  proxy?: string;
  /** Hosts that bypass the proxy (NO_PROXY). */
  noProxy?: string;
  logLevel?: string;
  /** `json`, `pretty`, or `auto` (pretty on a TTY). */
  logFormat?: string;
  /** Prometheus metrics on <metricsHost>:<port>; 0/undefined = off. */
  metricsPort?: number | string;
  /** Address the metrics endpoint binds (default 127.0.0.1). */
  metricsHost?: string;
  /** Agent name in 122. */
  agentName?: string;
  tcpConnectTimeoutMs?: number | string;
  wsConnectTimeoutMs?: number | string;
  jwtTimeoutMs?: number | string;
  reconnectMinMs?: number | string;
  reconnectMaxMs?: number | string;
  /** How long a 530 waits for its JSON twin (to learn the operation id) before reporting by name, ms. */
  dedupeWindowMs?: number | string;
  /** How long each MQTT start-up step (PUBACK of 100/507/114/122, SUBACK) may take before a reconnect, ms. */
  mqttAckTimeoutMs?: number | string;
}

/** The Basic authorization header of the device credentials. */
export function basicAuth(cfg: Pick<ResolvedConfig, 'tenant' | 'user' | 'password'>): string {
  return `Basic ${Buffer.from(`${cfg.tenant}/${cfg.user}:${cfg.password}`).toString('base64')}`;
}

/** Validated settings. */
export interface ResolvedConfig {
  host: string;
  /** ws: or wss: base derived from host. */
  wsBase: string;
  mqttUrl: string;
  tenant: string;
  user: string;
  password: string;
  deviceId: string;
  auth: 'basic' | 'jwt';
  transport: 'mqtt' | 'rest';
  pollIntervalMs: number;
  supportedOperations: string[];
  childDevices: string[];
  allow: string[];
  policy: Policy;
  maxSessions: number;
  threads: number;
  tunnelsPerWorker: number;
  graceMs: number;
  /** PEM texts. */
  ca: string[];
  insecure: boolean;
  proxy: string | undefined;
  noProxy: string;
  logLevel: string;
  logFormat: 'json' | 'pretty' | 'auto';
  metricsPort: number;
  metricsHost: string;
  agentName: string;
  tcpConnectTimeoutMs: number;
  wsConnectTimeoutMs: number;
  jwtTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  dedupeWindowMs: number;
  mqttAckTimeoutMs: number;
}

type Kind = 'string' | 'secret' | 'int' | 'bool' | 'list';

/** One row per setting: library key, flag, environment variable(s), kind, default, help. */
export interface SettingSpec {
  key: keyof AgentConfig;
  flag: string;
  env?: string[];
  kind: Kind;
  default?: string | number | boolean | string[];
  help: string;
  arg?: string;
}

/** Every setting. docs/configuration.md and `--help` are written from this table. */
export const SETTINGS: readonly SettingSpec[] = [
  { key: 'host', flag: 'host', env: ['C8Y_HOST'], kind: 'string', arg: 'url', help: 'tenant base URL (https://t1.example.com); the WebSocket base is wss:/ws: of it. Required' },
  { key: 'mqttUrl', flag: 'mqtt-url', env: ['C8Y_MQTT_URL'], kind: 'string', arg: 'url', help: 'MQTT broker URL (mqtt:, mqtts:, ws:, wss:); default mqtts://<host>:8883' },
  { key: 'tenant', flag: 'tenant', env: ['C8Y_TENANT'], kind: 'string', arg: 'id', help: 'tenant id. Required' },
  { key: 'user', flag: 'user', env: ['C8Y_USER'], kind: 'string', arg: 'name', help: 'device user (e.g. device_<serial>). Required' },
  { key: 'password', flag: 'password', env: ['C8Y_PASSWORD'], kind: 'secret', arg: 'pw', help: 'device password (prefer the environment: flags show in ps). Required' },
  { key: 'deviceId', flag: 'device-id', env: ['C8Y_DEVICE_ID'], kind: 'string', arg: 'serial', help: "the device's serial (c8y_Serial); MQTT client id d:<serial>. Required" },
  { key: 'auth', flag: 'auth', env: ['C8Y_AUTH'], kind: 'string', default: 'basic', arg: 'basic|jwt', help: 'WebSocket authorization: Basic tenant/user:password, or a Bearer JWT from s/uat' },
  { key: 'transport', flag: 'transport', kind: 'string', default: 'mqtt', arg: 'mqtt|rest', help: 'how operations arrive: MQTT SmartREST, or REST polling for sites that block MQTT' },
  { key: 'pollIntervalMs', flag: 'poll-interval-ms', kind: 'int', default: 2000, arg: 'ms', help: 'REST transport: poll interval for pending operations' },
  { key: 'supportedOperations', flag: 'supported-operations', kind: 'list', default: [], arg: 'a,b', help: 'other operations to announce in 114 with c8y_RemoteAccessConnect (114 replaces the whole list)' },
  { key: 'childDevices', flag: 'child', kind: 'list', default: [], arg: 'serial,..', help: 'child device serials whose 530 requests this agent serves' },
  { key: 'allow', flag: 'allow', kind: 'list', default: ['*'], arg: 'host:port,..', help: 'allowed targets: host globs (*), optional :port, :a-b or :*; [v6]:port' },
  { key: 'maxSessions', flag: 'max-sessions', kind: 'int', default: 1000, arg: 'n', help: 'most concurrent sessions; more are FAILED' },
  { key: 'threads', flag: 'threads', kind: 'int', default: 1, arg: 'n', help: 'tunnel engine worker threads (0 = main thread)' },
  { key: 'tunnelsPerWorker', flag: 'tunnels-per-worker', kind: 'int', arg: 'n', help: 'tunnels one worker thread carries at once; default max(512, max-sessions / threads), never below that' },
  { key: 'graceMs', flag: 'grace-ms', kind: 'int', default: 5000, arg: 'ms', help: 'on SIGINT/SIGTERM, how long open tunnels get to close' },
  { key: 'ca', flag: 'ca', kind: 'list', default: [], arg: 'file', help: 'extra CA certificate (PEM file) for the WebSocket and mqtts; repeatable' },
  { key: 'insecure', flag: 'insecure', kind: 'bool', default: false, help: 'do not verify TLS certificates (explicit opt-out, logged as a warning)' },
  { key: 'proxy', flag: 'proxy', env: ['HTTPS_PROXY', 'https_proxy'], kind: 'secret', arg: 'url', help: 'HTTP(S) proxy for the WebSocket (CONNECT) and REST, http://user:pass@proxy:3128' },
  { key: 'noProxy', flag: 'no-proxy', env: ['NO_PROXY', 'no_proxy'], kind: 'string', default: '', arg: 'list', help: 'hosts that bypass the proxy: names, .suffixes, *, host:port' },
  { key: 'logLevel', flag: 'log-level', kind: 'string', default: 'info', arg: 'level', help: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'logFormat', flag: 'log-format', kind: 'string', default: 'auto', arg: 'fmt', help: 'json, pretty, or auto (pretty on a TTY)' },
  { key: 'metricsPort', flag: 'metrics-port', kind: 'int', default: 0, arg: 'port', help: 'serve Prometheus metrics on <metrics-host>:<port>/metrics (0 = off)' },
  { key: 'metricsHost', flag: 'metrics-host', kind: 'string', default: '127.0.0.1', arg: 'addr', help: 'address the metrics endpoint binds; loopback unless you mean to expose it' },
  { key: 'agentName', flag: 'agent-name', kind: 'string', default: 'c8y-tunnel', arg: 'name', help: 'agent name sent in 122' },
  { key: 'tcpConnectTimeoutMs', flag: 'tcp-timeout-ms', kind: 'int', default: DEFAULT_TCP_CONNECT_TIMEOUT_MS, arg: 'ms', help: 'target TCP connect timeout' },
  { key: 'wsConnectTimeoutMs', flag: 'ws-timeout-ms', kind: 'int', default: DEFAULT_WS_CONNECT_TIMEOUT_MS, arg: 'ms', help: 'cloud WebSocket upgrade timeout' },
  { key: 'jwtTimeoutMs', flag: 'jwt-timeout-ms', kind: 'int', default: 10_000, arg: 'ms', help: 'jwt auth: how long to wait for 71 on s/dat' },
  { key: 'reconnectMinMs', flag: 'reconnect-min-ms', kind: 'int', default: 1000, arg: 'ms', help: 'first MQTT reconnect delay (doubles, with jitter)' },
  { key: 'reconnectMaxMs', flag: 'reconnect-max-ms', kind: 'int', default: 30_000, arg: 'ms', help: 'longest MQTT reconnect delay' },
  { key: 'dedupeWindowMs', flag: 'dedupe-window-ms', kind: 'int', default: 200, arg: 'ms', help: 'how long a 530 waits for its JSON twin (to report by id) before reporting by name' },
  { key: 'mqttAckTimeoutMs', flag: 'mqtt-ack-timeout-ms', kind: 'int', default: 20_000, arg: 'ms', help: 'deadline of each MQTT start-up step (PUBACK of 100/507/114/122, SUBACK); then reconnect' },
];

/** Where each value came from, for error messages: `--auth`, `C8Y_AUTH`, `auth in agent.json`, `config.auth`. */
export type Origins = Partial<Record<keyof AgentConfig, string>>;

const REQUIRED: Array<keyof AgentConfig> = ['host', 'tenant', 'user', 'password', 'deviceId'];

function bad(what: string, msg: string): TunnelError {
  return new TunnelError('AGENT_ERR_CONFIG', `invalid ${what}: ${msg}`);
}

function label(s: SettingSpec, origins: Origins): string {
  return origins[s.key] ?? `setting ${s.key}`;
}

/** Names every missing setting by all its spellings, in one error. */
function missing(specs: readonly SettingSpec[]): TunnelError {
  const each = specs.map((s) => `${s.key} (${[`--${s.flag}`, ...(s.env ?? []).slice(0, 1), `"${s.key}" in --config`].join(' / ')})`);
  return new TunnelError('AGENT_ERR_CONFIG', `missing setting${specs.length > 1 ? 's' : ''} ${each.join(', ')}`);
}

function toInt(v: unknown, what: string, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw bad(what, `expected an integer ${min}-${max}, got ${JSON.stringify(String(v).slice(0, 32))}`);
  return n;
}

function toBool(v: unknown, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(1|true|yes|on)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(0|false|no|off|)$/i.test(v)) return false;
  throw bad(what, 'expected true or false');
}

function toList(v: unknown, what: string): string[] {
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === 'string')) throw bad(what, 'expected a list of strings');
    return v.flatMap((x: string) => x.split(',')).map((x) => x.trim()).filter((x) => x !== '');
  }
  if (typeof v === 'string') return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  throw bad(what, 'expected a comma-separated list');
}

function toStr(v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(what, 'expected a string');
  return v;
}

/** Reads a JSON config file; its keys are the library keys (`host`, `deviceId`, ...). */
export function readConfigFile(path: string): { config: AgentConfig; origins: Origins } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TunnelError('AGENT_ERR_CONFIG', `invalid --config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new TunnelError('AGENT_ERR_CONFIG', `invalid --config: ${path} is not JSON (${(err as Error).message})`);
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new TunnelError('AGENT_ERR_CONFIG', `invalid --config: ${path} must hold a JSON object`);
  const known = new Set(SETTINGS.map((s) => s.key as string));
  const origins: Origins = {};
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) throw new TunnelError('AGENT_ERR_CONFIG', `invalid --config: unknown key "${k.slice(0, 40)}" in ${path}`);
    origins[k as keyof AgentConfig] = `"${k}" in ${path}`;
  }
  return { config: obj as AgentConfig, origins };
}

/** Settings from environment variables (only the ones the table names). */
export function configFromEnv(env: NodeJS.ProcessEnv): { config: AgentConfig; origins: Origins } {
  const config: Record<string, unknown> = {};
  const origins: Origins = {};
  for (const s of SETTINGS) {
    for (const name of s.env ?? []) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        config[s.key] = v;
        origins[s.key] = name;
        break;
      }
    }
  }
  return { config: config as AgentConfig, origins };
}

/** Layers partial configs, the first one winning (flags, env, file). */
export function mergeConfigs(...layers: Array<{ config: AgentConfig; origins: Origins }>): { config: AgentConfig; origins: Origins } {
  const config: Record<string, unknown> = {};
  const origins: Origins = {};
  for (const layer of [...layers].reverse()) {
    for (const [k, v] of Object.entries(layer.config)) {
      if (v === undefined) continue;
      config[k] = v;
      const o = layer.origins[k as keyof AgentConfig];
      if (o !== undefined) origins[k as keyof AgentConfig] = o;
      else delete origins[k as keyof AgentConfig];
    }
  }
  return { config: config as AgentConfig, origins };
}

function readCa(entry: string, what: string): string {
  if (entry.includes('-----BEGIN')) return entry;
  try {
    const pem = readFileSync(entry, 'utf8');
    if (!pem.includes('-----BEGIN')) throw bad(what, `${entry} holds no PEM certificate`);
    return pem;
  } catch (err) {
    if (err instanceof TunnelError) throw err;
    throw bad(what, `cannot read ${entry} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function parseBaseUrl(raw: string, what: string): { host: string; wsBase: string; hostname: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad(what, 'not a URL (expected https://host or http://host:port)');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw bad(what, `expected an http: or https: URL, got ${u.protocol}`);
  if (u.username || u.password) throw bad(what, 'credentials do not belong in the URL');
  const path = u.pathname.replace(/\/+$/, '');
  const host = `${u.protocol}//${u.host}${path}`;
  const wsBase = `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}${path}`;
  return { host, wsBase, hostname: u.hostname };
}

/** Validates and completes a config; throws one AGENT_ERR_CONFIG naming the first bad or missing setting. */
export function resolveConfig(input: AgentConfig, origins: Origins = {}): ResolvedConfig {
  const raw = input as Record<string, unknown>;
  const get = (s: SettingSpec): unknown => (raw[s.key] !== undefined ? raw[s.key] : s.default);
  const out: Record<string, unknown> = {};
  const absent = (v: unknown, s: SettingSpec): boolean => v === undefined || v === null || (v === '' && REQUIRED.includes(s.key));
  // All missing required settings at once, not one per run.
  const lacking = SETTINGS.filter((s) => REQUIRED.includes(s.key) && absent(get(s), s));
  if (lacking.length > 0) throw missing(lacking);
  for (const s of SETTINGS) {
    const v = get(s);
    const what = label(s, origins);
    if (absent(v, s)) {
      out[s.key] = undefined;
      continue;
    }
    switch (s.kind) {
      case 'int':
        out[s.key] = toInt(v, what, s.key === 'threads' || s.key === 'metricsPort' ? 0 : 1, s.key === 'metricsPort' ? 65535 : 2 ** 31 - 1);
        break;
      case 'bool':
        out[s.key] = toBool(v, what);
        break;
      case 'list':
        out[s.key] = toList(v, what);
        break;
      default:
        out[s.key] = toStr(v, what);
    }
  }
  const L = (k: keyof AgentConfig): string => origins[k] ?? `setting ${k}`;
  const base = parseBaseUrl(out.host as string, L('host'));
  const auth = out.auth as string;
  // Never echo the value: a password put in the wrong variable would leak into the terminal and logs.
  if (auth !== 'basic' && auth !== 'jwt') throw bad(L('auth'), `expected basic or jwt (got a value of ${auth.length} characters)`);
  const transport = out.transport as string;
  if (transport !== 'mqtt' && transport !== 'rest') throw bad(L('transport'), `expected mqtt or rest, got ${JSON.stringify(transport.slice(0, 16))}`);
  if (transport === 'rest' && auth === 'jwt') throw bad(L('auth'), 'jwt needs the MQTT transport (the token comes from s/uat)');
  const deviceId = out.deviceId as string;
  if (/[:/#+\s]/.test(deviceId) || deviceId.length > 128) throw bad(L('deviceId'), 'a serial may not contain ":", "/", "#", "+" or whitespace');
  for (const c of out.childDevices as string[]) {
    if (/[:/#+\s]/.test(c)) throw bad(L('childDevices'), `child serial ${JSON.stringify(c.slice(0, 40))} contains ":", "/", "#", "+" or whitespace`);
  }
  for (const op of out.supportedOperations as string[]) {
    if (!/^[A-Za-z0-9_.-]+$/.test(op)) throw bad(L('supportedOperations'), `operation name ${JSON.stringify(op.slice(0, 40))} is not a plain fragment name`);
  }
  const mqttUrl = (out.mqttUrl as string | undefined) ?? `mqtts://${base.hostname.includes(':') ? `[${base.hostname}]` : base.hostname}:8883`;
  let mu: URL;
  try {
    mu = new URL(mqttUrl);
    if (!['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(mu.protocol)) throw new Error();
  } catch {
    throw bad(L('mqttUrl'), 'expected an mqtt:, mqtts:, ws: or wss: URL');
  }
  // mqtt.js would let them silently replace --user/--password: credentials come from those settings only.
  if (mu.username || mu.password) throw bad(L('mqttUrl'), 'credentials do not belong in the URL (use --user and --password)');
  const metricsHost = out.metricsHost as string;
  if (!isIP(metricsHost) && metricsHost !== 'localhost') throw bad(L('metricsHost'), 'expected an IP address (127.0.0.1, ::1, 0.0.0.0) or localhost');
  const proxy = out.proxy as string | undefined;
  if (proxy !== undefined) {
    try {
      const u = new URL(proxy);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw bad(L('proxy'), 'expected an http:// or https:// proxy URL');
    }
  }
  const logLevel = out.logLevel as string;
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) throw bad(L('logLevel'), `unknown level ${JSON.stringify(logLevel.slice(0, 16))}`);
  const logFormat = out.logFormat as string;
  if (!['json', 'pretty', 'auto'].includes(logFormat)) throw bad(L('logFormat'), 'expected json, pretty or auto');
  let policy: Policy;
  try {
    policy = parsePolicy(out.allow as string[]);
  } catch (err) {
    throw bad(L('allow'), (err as Error).message);
  }
  if ((out.reconnectMaxMs as number) < (out.reconnectMinMs as number)) throw bad(L('reconnectMaxMs'), 'must not be below reconnectMinMs');
  // Every allowed session needs a slot in the engine, or it would wait in the pool queue until the cloud times it out.
  const threads = out.threads as number;
  const maxSessions = out.maxSessions as number;
  const needed = threads === 0 ? 1 : Math.ceil(maxSessions / threads);
  if (out.tunnelsPerWorker === undefined) out.tunnelsPerWorker = Math.max(512, needed);
  else if ((out.tunnelsPerWorker as number) < needed) {
    throw bad(L('tunnelsPerWorker'), `${String(out.tunnelsPerWorker)} per worker x ${threads} threads cannot carry max-sessions ${maxSessions}`);
  }
  return {
    ...(out as unknown as ResolvedConfig),
    host: base.host,
    wsBase: base.wsBase,
    mqttUrl,
    auth,
    transport,
    logFormat: logFormat as ResolvedConfig['logFormat'],
    policy,
    ca: (out.ca as string[]).map((c) => readCa(c, L('ca'))),
    proxy,
  };
}
