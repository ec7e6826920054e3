/**
 * Agent settings: merged with the precedence flags > environment > JSON config file > defaults, then
 * resolved through the settings table (agent/settings.ts, on the machinery of src/settings.ts) into a
 * ResolvedConfig: one loop, then a short named list of checks across settings. A bad or missing setting is
 * one AGENT_ERR_CONFIG line naming where it came from.
 */
import { readFileSync } from 'node:fs';
import { type C8yTunnelError, AgentError } from '../errors.js';
import { resolveSettings } from '../settings.js';
import { parsePolicy, type Policy } from './policy.js';
import { AGENT_SETTINGS, SETTINGS, type Settings } from './settings.js';

export { AGENT_SETTINGS, SETTINGS, type Settings } from './settings.js';

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

/** Validated settings: the table's values, completed by the derivations after it. */
export interface ResolvedConfig extends Omit<Settings, 'mqttUrl' | 'tunnelsPerWorker'> {
  /** ws: or wss: base derived from host. */
  wsBase: string;
  mqttUrl: string;
  tunnelsPerWorker: number;
  policy: Policy;
}

/** The input and the table name the same settings (a compile-time check). */
const SAME_KEYS: [keyof AgentConfig] extends [keyof Settings] ? ([keyof Settings] extends [keyof AgentConfig] ? true : never) : never = true;
void SAME_KEYS;

/** Where each value came from, for error messages: `--auth`, `C8Y_AUTH`, `auth in agent.json`, `config.auth`. */
export type Origins = Partial<Record<keyof AgentConfig, string>>;

function bad(what: string, msg: string, cause?: unknown): C8yTunnelError {
  return new AgentError('AGENT_ERR_CONFIG', `invalid ${what}: ${msg}`, { cause });
}

/** Names every missing setting by all its spellings, in one error. */
function missing(keys: Array<keyof Settings>): C8yTunnelError {
  const each = keys.map((k) => `${k} (${[`--${AGENT_SETTINGS[k].flag}`, ...(AGENT_SETTINGS[k].env ?? []).slice(0, 1), `"${k}" in --config`].join(' / ')})`);
  return new AgentError('AGENT_ERR_CONFIG', `missing setting${keys.length > 1 ? 's' : ''} ${each.join(', ')}`);
}

/** Reads a JSON config file; its keys are the library keys (`host`, `deviceId`, ...). */
export function readConfigFile(path: string): { config: AgentConfig; origins: Origins } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AgentError('AGENT_ERR_CONFIG', `invalid --config: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new AgentError('AGENT_ERR_CONFIG', `invalid --config: ${path} is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new AgentError('AGENT_ERR_CONFIG', `invalid --config: ${path} must hold a JSON object`);
  const known = new Set(SETTINGS.map((s) => s.key as string));
  const origins: Origins = {};
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) throw new AgentError('AGENT_ERR_CONFIG', `invalid --config: unknown key "${k.slice(0, 40)}" in ${path}`);
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

/**
 * Checks across settings, after each one passed its own: each names the setting to fix. Kept apart from
 * the table because no single row can say them.
 */
const CROSS_CHECKS: ReadonlyArray<{ name: string; key: keyof Settings; problem(s: Settings): string | undefined }> = [
  { name: 'jwt needs mqtt', key: 'auth', problem: (s) => (s.transport === 'rest' && s.auth === 'jwt' ? 'jwt needs the MQTT transport (the token comes from s/uat)' : undefined) },
  { name: 'reconnect range', key: 'reconnectMaxMs', problem: (s) => (s.reconnectMaxMs < s.reconnectMinMs ? 'must not be below reconnectMinMs' : undefined) },
  {
    // Every allowed session needs a slot in the engine, or it would wait in the pool queue until the cloud times it out.
    name: 'engine carries max-sessions',
    key: 'tunnelsPerWorker',
    problem: (s) => (s.tunnelsPerWorker !== undefined && s.tunnelsPerWorker < slotsNeeded(s) ? `${s.tunnelsPerWorker} per worker x ${s.threads} threads cannot carry max-sessions ${s.maxSessions}` : undefined),
  },
];

function slotsNeeded(s: Pick<Settings, 'threads' | 'maxSessions'>): number {
  return s.threads === 0 ? 1 : Math.ceil(s.maxSessions / s.threads);
}

/** Validates and completes a config; throws one AGENT_ERR_CONFIG naming the first bad or missing setting. */
export function resolveConfig(input: AgentConfig, origins: Origins = {}): ResolvedConfig {
  const origin = (k: keyof Settings): string => origins[k] ?? `setting ${k}`;
  const s = resolveSettings(AGENT_SETTINGS, input, { invalid: bad, expected: (what, e) => bad(what, `expected ${e}`), missing, origin });
  let policy: Policy;
  try {
    policy = parsePolicy(s.allow);
  } catch (err) {
    throw bad(origin('allow'), (err as Error).message, err);
  }
  for (const c of CROSS_CHECKS) {
    const problem = c.problem(s);
    if (problem !== undefined) throw bad(origin(c.key), problem);
  }
  const hostname = new URL(s.host).hostname;
  return {
    ...s,
    wsBase: s.host.replace(/^http/, 'ws'),
    mqttUrl: s.mqttUrl ?? `mqtts://${hostname}:8883`,
    tunnelsPerWorker: s.tunnelsPerWorker ?? Math.max(512, slotsNeeded(s)),
    policy,
  };
}
