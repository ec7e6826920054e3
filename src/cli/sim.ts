/** `c8y-tunnel sim`: runs the Cumulocity cloud emulator until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { TunnelError } from '../errors.js';
import { installStopSignals, SIM_ENDPOINT_OPTIONS } from './common.js';
import { SIM_DEFAULTS, startSim } from '../sim/index.js';
import type { SimOptions } from '../sim/index.js';

/** --help text. */
export const HELP = `Usage: c8y-tunnel sim [options]

Runs an emulator of the Cumulocity cloud side on this machine: MQTT with SmartREST 2.0 static
templates, the REST API the agent and clients use, and the Cloud Remote Access WebSocket endpoints.
Nothing is persisted. See docs/sim.md.

      --host <addr>             interface to bind (default ${SIM_DEFAULTS.host}; loopback only unless you
                                say otherwise: there is no TLS and the credentials are well known)
      --http-port <n>           REST and remote access WebSockets (default 8080; 0 = a free port)
      --mqtt-port <n>           plain MQTT 3.1.1 (default 1883; 0 = a free port)
      --tenant <id>             tenant id (default ${SIM_DEFAULTS.tenant})
      --user <name>             admin user, REST and client WebSockets (default ${SIM_DEFAULTS.user})
      --password <pw>           admin password (default ${SIM_DEFAULTS.password})
      --device-password <pw>    password of every device user <tenant>/device_<serial> (default ${SIM_DEFAULTS.devicePassword})
      --bootstrap-password <pw> password of the registration user management/devicebootstrap (default ${SIM_DEFAULTS.bootstrapPassword})
      --operation-timeout <s>   seconds a device has to connect to a session (default ${SIM_DEFAULTS.operationTimeoutMs / 1000})
      --jwt-lifetime <s>        lifetime of tokens issued on s/uat (default ${SIM_DEFAULTS.jwtLifetimeSec})
      --idle-timeout <s>        idle remote access sessions are closed after this (default ${SIM_DEFAULTS.idleTimeoutMs / 1000})
      --history-limit <n>       final operations and finished sessions kept (default ${SIM_DEFAULTS.historyLimit})
  -q, --quiet                   print only the start banner
  -h, --help                    this text

Example: c8y-tunnel sim --http-port 0 --mqtt-port 0
Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot start (port in use), 2 for bad options.
`;

/**
 * A device- or client-supplied string made safe for a terminal: control characters (C0, DEL, C1, which
 * start terminal escape sequences) and line/paragraph separators become `\xNN` / `\uNNNN`; at most 500 characters.
 */
export function printable(text: string): string {
  const s = text.length > 500 ? text.slice(0, 500) + '...' : text;
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/** Parsed command line. */
export interface SimArgs {
  help: boolean;
  quiet: boolean;
  options: SimOptions;
}

function intArg(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v.trim()) || Number(v) < min || Number(v) > max) throw new TunnelError('SIM_ERR_CONFIG', `--${name} must be an integer ${min}-${max}, got "${v.slice(0, 32)}"`);
  return Number(v);
}

function strArg(name: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === '' || /\s/.test(v)) throw new TunnelError('SIM_ERR_CONFIG', `--${name} must be non-empty and without whitespace`);
  return v;
}

/** Parses argv; throws TunnelError(SIM_ERR_CONFIG) with one clear line. */
export function parseSimArgs(argv: string[]): SimArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...SIM_ENDPOINT_OPTIONS,
        'device-password': { type: 'string' },
        'bootstrap-password': { type: 'string' },
        'operation-timeout': { type: 'string' },
        'jwt-lifetime': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'history-limit': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new TunnelError('SIM_ERR_CONFIG', (err as Error).message.split('\n')[0]);
  }
  const s = (k: string): string | undefined => values[k] as string | undefined;
  const opTimeout = intArg('operation-timeout', s('operation-timeout'), 1, 86_400);
  const idle = intArg('idle-timeout', s('idle-timeout'), 1, 30 * 86_400);
  const options: SimOptions = {
    host: strArg('host', s('host')) ?? SIM_DEFAULTS.host,
    httpPort: intArg('http-port', s('http-port'), 0, 65535) ?? 8080,
    mqttPort: intArg('mqtt-port', s('mqtt-port'), 0, 65535) ?? 1883,
    tenant: strArg('tenant', s('tenant')),
    user: strArg('user', s('user')),
    password: strArg('password', s('password')),
    devicePassword: strArg('device-password', s('device-password')),
    bootstrapPassword: strArg('bootstrap-password', s('bootstrap-password')),
    operationTimeoutMs: opTimeout === undefined ? undefined : opTimeout * 1000,
    jwtLifetimeSec: intArg('jwt-lifetime', s('jwt-lifetime'), 1, 30 * 86_400),
    idleTimeoutMs: idle === undefined ? undefined : idle * 1000,
    historyLimit: intArg('history-limit', s('history-limit'), 1, 10_000_000),
  };
  if (options.tenant && /[/:]/.test(options.tenant)) throw new TunnelError('SIM_ERR_CONFIG', '--tenant must not contain "/" or ":"');
  if (options.user && (/[/:]/.test(options.user) || options.user.startsWith('device_'))) throw new TunnelError('SIM_ERR_CONFIG', '--user must not contain "/" or ":" nor start with device_');
  return { help: values.help === true, quiet: values.quiet === true, options };
}

/** Runs the command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  let args: SimArgs;
  try {
    args = parseSimArgs(argv);
  } catch (err) {
    process.stderr.write(`c8y-tunnel sim: ${(err as Error).message}\nSee c8y-tunnel sim --help\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // The first SIGINT/SIGTERM closes the emulator; more signals while it closes are ignored.
  // Installed before start-up and the banner, so a supervisor that signals as soon as it reads the banner is heard.
  const stop = installStopSignals();
  let sim;
  try {
    sim = await startSim({ ...args.options, quiet: args.quiet });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    process.stderr.write(`c8y-tunnel sim: cannot start: ${e.message ?? String(err)}${e.code ? ` [${e.code}]` : ''}\n`);
    stop.dispose();
    return 1;
  }
  // A log reader that goes away (EPIPE) must not take the emulator down: output is best effort.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const out = process.stdout;
  out.write(
    [
      'c8y-tunnel sim: Cumulocity cloud emulator running',
      `  REST + remote access:  ${sim.httpUrl}   (WebSockets on ${sim.wsUrl})`,
      `  console (browser):     ${sim.httpUrl}/apps/console/   (log in as ${sim.tenant} / ${sim.user})`,
      `  MQTT:                  ${sim.mqttUrl}`,
      `  tenant:                ${sim.tenant}`,
      `  admin:                 ${sim.tenant}/${sim.user}  password ${sim.password}`,
      `  devices:               ${sim.tenant}/device_<serial>  password ${sim.devicePassword}  (MQTT client id d:<serial>)`,
      `  registration:          management/devicebootstrap  password ${sim.bootstrapPassword}`,
      '  Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  if (!args.quiet) {
    const log = (line: string): boolean => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    const p = printable;
    sim.events.on('operation', (op: { id: string; deviceId: string; description: string }) => log(`operation ${p(op.id)} for device ${p(op.deviceId)} created: ${p(op.description)}`));
    sim.events.on('status', (op: { id: string; failureReason?: string }, status: string) => log(`operation ${p(op.id)} -> ${p(status)}${op.failureReason ? ` (${p(op.failureReason)})` : ''}`));
    sim.events.on('session:paired', (s: { operationId: string }) => log(`session of operation ${p(s.operationId)} paired`));
    sim.events.on('session:closed', (s: { operationId: string; clientToDevice: number; deviceToClient: number }) =>
      log(`session of operation ${p(s.operationId)} closed: ${s.clientToDevice} bytes to the device, ${s.deviceToClient} bytes back`),
    );
  }
  await stop.stopped;
  await sim.close();
  stop.dispose();
  return 0;
}
