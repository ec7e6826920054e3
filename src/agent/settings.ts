/**
 * The agent's settings table: one row per setting (flag, environment variables, kind, default, range or
 * choices, its own check, `--help` line, docs text). `resolveConfig` (config.ts), `c8y-tunnel agent --help`
 * and the table in docs/configuration.md (scripts/gen-config-docs.js) are all made from it.
 */
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { DEFAULT_TCP_CONNECT_TIMEOUT_MS, DEFAULT_WS_CONNECT_TIMEOUT_MS } from '../constants.js';
import { bool, choice, docsTable, int, list, PORT, proxyUrl, rows, secret, text, type Fail, type SettingsTable } from '../settings.js';

/** Each setting's value after its own checks: what the table's loop returns. */
export interface Settings {
  /** Base URL, normalized: scheme, host, path prefix without a trailing slash. */
  host: string;
  /** Undefined: derived from host (mqtts://<host>:8883). */
  mqttUrl: string | undefined;
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
  maxSessions: number;
  threads: number;
  /** Undefined: sized from maxSessions and threads. */
  tunnelsPerWorker: number | undefined;
  graceMs: number;
  /** PEM texts (files already read). */
  ca: string[];
  insecure: boolean;
  proxy: string | undefined;
  noProxy: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
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

/** The levels pino knows. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Counts and durations: 1 up to the largest 32-bit signed integer (Node's timer limit). */
const COUNT = { min: 1, max: 2 ** 31 - 1 } as const;

/** A serial (own or child): it becomes part of MQTT topics and the client id. */
const SERIAL_BAD = /[:/#+\s]/;

function baseUrl(raw: string, fail: Fail): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail('not a URL (expected https://host or http://host:port)');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') fail(`expected an http: or https: URL, got ${u.protocol}`);
  if (u.username || u.password) fail('credentials do not belong in the URL');
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

function mqttUrl(raw: string, fail: Fail): string {
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (!u || !['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(u.protocol)) return fail('expected an mqtt:, mqtts:, ws: or wss: URL');
  // mqtt.js would let them silently replace --user/--password: credentials come from those settings only.
  if (u.username || u.password) fail('credentials do not belong in the URL (use --user and --password)');
  return raw;
}

/** A CA entry: PEM text as given, or a file holding PEM. */
function readCa(entry: string, fail: Fail): string {
  if (entry.includes('-----BEGIN')) return entry;
  let pem: string;
  try {
    pem = readFileSync(entry, 'utf8');
  } catch (err) {
    return fail(`cannot read ${entry} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return pem.includes('-----BEGIN') ? pem : fail(`${entry} holds no PEM certificate`);
}

/** Every setting, keyed by its library (and config-file) name. */
export const AGENT_SETTINGS: SettingsTable<Settings> = {
  host: text({ flag: 'host', env: ['C8Y_HOST'], required: true, arg: 'url', help: 'tenant base URL (https://t1.example.com); the WebSocket base is wss:/ws: of it', doc: 'tenant base URL, `https://t1.example.com` or `http://127.0.0.1:8080`. The WebSocket base is derived from it: `https` → `wss`, `http` → `ws` (a path prefix is kept)', then: baseUrl }),
  mqttUrl: text({ flag: 'mqtt-url', env: ['C8Y_MQTT_URL'], arg: 'url', help: 'MQTT broker URL (mqtt:, mqtts:, ws:, wss:)', defaultText: 'mqtts://<host>:8883', doc: 'MQTT broker URL: `mqtt:`, `mqtts:`, `ws:`, `wss:`', then: mqttUrl }),
  tenant: text({ flag: 'tenant', env: ['C8Y_TENANT'], required: true, arg: 'id', help: 'tenant id', doc: 'tenant id' }),
  user: text({ flag: 'user', env: ['C8Y_USER'], required: true, arg: 'name', help: 'device user (e.g. device_<serial>)', doc: 'device user (`device_<serial>`); MQTT user name is `<tenant>/<user>`' }),
  password: secret({ flag: 'password', env: ['C8Y_PASSWORD'], required: true, arg: 'pw', help: 'device password (prefer the environment: flags show in ps)', doc: 'device password. Prefer the environment or the file: flags show in `ps`' }),
  deviceId: text({
    flag: 'device-id',
    env: ['C8Y_DEVICE_ID'],
    required: true,
    arg: 'serial',
    help: "the device's serial (c8y_Serial); MQTT client id d:<serial>",
    doc: 'the device\'s serial (external id `c8y_Serial`); MQTT client id `d:<serial>`. No `:`, `/`, `#`, `+` or spaces',
    then: (v, fail) => (SERIAL_BAD.test(v) || v.length > 128 ? fail('a serial may not contain ":", "/", "#", "+" or whitespace') : v),
  }),
  // Never echo the value: a password put in the wrong variable would leak into the terminal and logs.
  auth: choice({ flag: 'auth', env: ['C8Y_AUTH'], choices: ['basic', 'jwt'], default: 'basic', redact: true, arg: 'basic|jwt', help: 'WebSocket authorization: Basic tenant/user:password, or a Bearer JWT from s/uat', doc: 'device WebSocket authorization: `Basic base64(<tenant>/<user>:<password>)`, or `Bearer <JWT>` fetched over MQTT (`s/uat` → `71,<token>` on `s/dat`), cached and renewed in the background after half its lifetime. `jwt` needs the MQTT transport' }),
  transport: choice({ flag: 'transport', choices: ['mqtt', 'rest'], default: 'mqtt', arg: 'mqtt|rest', help: 'how operations arrive: MQTT SmartREST, or REST polling for sites that block MQTT', doc: 'how operations arrive: MQTT SmartREST 2.0 (530 and JSON notifications), or REST polling for sites that block MQTT' }),
  pollIntervalMs: int({ flag: 'poll-interval-ms', ...COUNT, default: 2000, arg: 'ms', help: 'REST transport: poll interval for pending operations', doc: 'REST transport: how often PENDING operations are fetched (backs off while the REST API fails)' }),
  supportedOperations: list({
    flag: 'supported-operations',
    default: [],
    arg: 'a,b',
    help: 'other operations to announce in 114 with c8y_RemoteAccessConnect (114 replaces the whole list)',
    doc: 'other operations to announce together with `c8y_RemoteAccessConnect`. `114` *replaces* the device\'s whole list, so name here every operation another program on the device handles, or the agent hides them (thin-edge.io#812)',
    each: (op, fail) => void (/^[A-Za-z0-9_.-]+$/.test(op) || fail(`operation name ${JSON.stringify(op.slice(0, 40))} is not a plain fragment name`)),
  }),
  childDevices: list({
    flag: 'child',
    default: [],
    arg: 'serial,..',
    help: 'child device serials whose 530 requests this agent serves',
    doc: 'child device serials whose `530` requests this agent serves (they arrive on the parent\'s `s/ds`); statuses go to `s/us/<child>`',
    each: (c, fail) => void (SERIAL_BAD.test(c) && fail(`child serial ${JSON.stringify(c.slice(0, 40))} contains ":", "/", "#", "+" or whitespace`)),
  }),
  allow: list({ flag: 'allow', default: ['*'], arg: 'host:port,..', help: 'allowed targets: host globs (*), optional :port, :a-b or :*; [v6]:port', doc: 'target allow-list, checked before any socket opens; see [Allow-list](#allow-list)' }),
  maxSessions: int({ flag: 'max-sessions', ...COUNT, default: 1000, arg: 'n', help: 'most concurrent sessions; more are FAILED', doc: 'most concurrent sessions (including ones being set up); one more is FAILED with `session limit reached (<n> concurrent sessions)`' }),
  threads: int({ flag: 'threads', min: 0, max: COUNT.max, default: 1, arg: 'n', help: 'tunnel engine worker threads (0 = main thread)', doc: 'tunnel engine worker threads; `0` runs tunnels on the main thread. One worker moved 100 tunnels at ~450 MB/s on the reference 2-core machine, and a gateway shares its cores with the services it tunnels to' }),
  tunnelsPerWorker: int({ flag: 'tunnels-per-worker', ...COUNT, arg: 'n', help: 'tunnels one worker thread carries at once, never below max-sessions / threads', defaultText: 'max(512, max-sessions / threads)', docDefault: 'max(512, ⌈max-sessions / threads⌉)', doc: 'tunnels one worker carries at once. An explicit value below ⌈max-sessions / threads⌉ is refused: a session without a slot would wait in the pool queue until the cloud times it out' }),
  graceMs: int({ flag: 'grace-ms', ...COUNT, default: 5000, arg: 'ms', help: 'on SIGINT/SIGTERM, how long open tunnels get to close', doc: 'on SIGINT/SIGTERM, how long open tunnels get to close before the agent disconnects and exits' }),
  ca: list({ flag: 'ca', default: [], arg: 'file', help: 'extra CA certificate (PEM file) for the WebSocket and mqtts; repeatable', doc: 'extra CA certificate(s), PEM file (the library also takes PEM text), trusted in addition to Node\'s roots for the device WebSocket, `mqtts:` and REST; repeatable', then: (v, fail) => v.map((c) => readCa(c, fail)) }),
  insecure: bool({ flag: 'insecure', default: false, help: 'do not verify TLS certificates (explicit opt-out, logged as a warning)', doc: 'do not verify TLS certificates. An explicit opt-out, logged as a warning at start' }),
  proxy: secret({ flag: 'proxy', env: ['https_proxy', 'HTTPS_PROXY'], arg: 'url', help: 'HTTP(S) proxy for the WebSocket (CONNECT) and REST, http://user:pass@proxy:3128', doc: 'HTTP(S) proxy for the device WebSocket (HTTP CONNECT) and the REST transport; Basic proxy auth from the URL: `http://user:pass@proxy:3128`. MQTT does not go through it', then: proxyUrl }),
  noProxy: text({ flag: 'no-proxy', env: ['no_proxy', 'NO_PROXY'], default: '', arg: 'list', help: 'hosts that bypass the proxy: names, .suffixes, *, host:port', doc: 'hosts that bypass the proxy: `*`, names (matching subdomains too, leading dot optional), IP literals, `host:port`' }),
  logLevel: choice({ flag: 'log-level', choices: LOG_LEVELS, default: 'info', arg: 'level', help: 'fatal, error, warn, info, debug, trace or silent', doc: '`fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`' }),
  logFormat: choice({ flag: 'log-format', choices: ['json', 'pretty', 'auto'], default: 'auto', arg: 'fmt', help: 'json, pretty, or auto (pretty on a TTY)', doc: '`json`, `pretty`, or `auto` (pretty when stderr is a TTY, else JSON)' }),
  metricsPort: int({ flag: 'metrics-port', ...PORT, default: 0, arg: 'port', help: 'serve Prometheus metrics on <metrics-host>:<port>/metrics (0 = off)', docDefault: '`0` (off)', doc: 'Prometheus metrics at `http://<metrics-host>:<port>/metrics`' }),
  metricsHost: text({
    flag: 'metrics-host',
    default: '127.0.0.1',
    arg: 'addr',
    help: 'address the metrics endpoint binds; loopback unless you mean to expose it',
    doc: 'address the metrics endpoint binds: an IP address or `localhost`. Loopback by default; `0.0.0.0` exposes it to the network, so only do that behind a firewall',
    then: (v, fail) => (isIP(v) || v === 'localhost' ? v : fail('expected an IP address (127.0.0.1, ::1, 0.0.0.0) or localhost')),
  }),
  agentName: text({ flag: 'agent-name', default: 'c8y-tunnel', arg: 'name', help: 'agent name sent in 122', doc: 'agent name sent with the version in `122` (`c8y_Agent`)' }),
  tcpConnectTimeoutMs: int({ flag: 'tcp-timeout-ms', ...COUNT, default: DEFAULT_TCP_CONNECT_TIMEOUT_MS, arg: 'ms', help: 'target TCP connect timeout', doc: 'target TCP connect timeout (well below the cloud\'s 30 s operation timeout)' }),
  wsConnectTimeoutMs: int({ flag: 'ws-timeout-ms', ...COUNT, default: DEFAULT_WS_CONNECT_TIMEOUT_MS, arg: 'ms', help: 'cloud WebSocket upgrade timeout', doc: 'cloud WebSocket upgrade timeout' }),
  jwtTimeoutMs: int({ flag: 'jwt-timeout-ms', ...COUNT, default: 10_000, arg: 'ms', help: 'jwt auth: how long to wait for 71 on s/dat', doc: '`jwt` auth: how long to wait for `71` on `s/dat`' }),
  reconnectMinMs: int({ flag: 'reconnect-min-ms', ...COUNT, default: 1000, arg: 'ms', help: 'first MQTT reconnect delay (doubles, with jitter)', doc: 'first MQTT reconnect delay; it doubles per failed attempt, with jitter (50-100 %)' }),
  reconnectMaxMs: int({ flag: 'reconnect-max-ms', ...COUNT, default: 30_000, arg: 'ms', help: 'longest MQTT reconnect delay', doc: 'longest MQTT reconnect delay' }),
  dedupeWindowMs: int({ flag: 'dedupe-window-ms', ...COUNT, default: 200, arg: 'ms', help: 'how long a 530 waits for its JSON twin (to report by id) before reporting by name', doc: 'once the cloud has been seen delivering an operation both as `530` and as JSON, how long a `530` holds its statuses for its JSON twin (to report by id) before reporting by name. The tunnel itself starts at once' }),
  mqttAckTimeoutMs: int({ flag: 'mqtt-ack-timeout-ms', ...COUNT, default: 20_000, arg: 'ms', help: 'deadline of each MQTT start-up step (PUBACK of 100/507/114/122, SUBACK); then reconnect', doc: 'deadline of each MQTT start-up step: the PUBACK of `100`, `507`, `114` and `122`, the SUBACK, and the REST look-up of operation ids after a reconnect (see [reliability](reliability.md)). A step that takes longer is logged as a WARN naming the step, and the agent reconnects' }),
};

/** The rows in order, with their keys: for `--help`, the docs and the config-file check. */
export const SETTINGS = rows(AGENT_SETTINGS);

/** The table of docs/configuration.md: every setting, then the command's own flags. */
export function settingsDocsTable(): string {
  return docsTable(SETTINGS, ['| `--config <file>` | | | | the JSON config file |', '| `-h`, `--help` | | | | every option, then exit 0 |']);
}
