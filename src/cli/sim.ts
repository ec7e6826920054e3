/** `c8y-tunnel sim`: runs the Cumulocity cloud emulator until SIGINT/SIGTERM. */
import { SimError } from '../errors.js';
import { helpRows, HELP_ROW, int, parseCommandLine, bool, rows, oneWord, text, type SettingsTable } from '../settings.js';
import { installStopSignals } from './common.js';
import { SIM_ENDPOINT_SETTINGS, type SimEndpoint } from './sim-flags.js';
import { SIM_DEFAULTS, startSim } from '../sim/index.js';
import type { SimOptions } from '../sim/index.js';

/** The command's flags: where it listens, then what only `sim` sets. */
interface SimFlags extends SimEndpoint {
  devicePassword: string | undefined;
  bootstrapPassword: string | undefined;
  operationTimeoutMs: number | undefined;
  jwtLifetimeSec: number | undefined;
  idleTimeoutMs: number | undefined;
  historyLimit: number | undefined;
  quiet: boolean;
}

const DAY_S = 86_400;
const toMs = (s: number): number => s * 1000;

const SIM_SETTINGS: SettingsTable<SimFlags> = {
  ...SIM_ENDPOINT_SETTINGS,
  devicePassword: text({ flag: 'device-password', arg: 'pw', defaultText: SIM_DEFAULTS.devicePassword, help: 'password of every device user <tenant>/device_<serial>', then: oneWord }),
  bootstrapPassword: text({ flag: 'bootstrap-password', arg: 'pw', defaultText: SIM_DEFAULTS.bootstrapPassword, help: 'password of the registration user management/devicebootstrap', then: oneWord }),
  operationTimeoutMs: int({ flag: 'operation-timeout', arg: 's', min: 1, max: DAY_S, defaultText: String(SIM_DEFAULTS.operationTimeoutMs / 1000), help: 'seconds a device has to connect to a session', then: toMs }),
  jwtLifetimeSec: int({ flag: 'jwt-lifetime', arg: 's', min: 1, max: 30 * DAY_S, defaultText: String(SIM_DEFAULTS.jwtLifetimeSec), help: 'lifetime of tokens issued on s/uat' }),
  idleTimeoutMs: int({ flag: 'idle-timeout', arg: 's', min: 1, max: 30 * DAY_S, defaultText: String(SIM_DEFAULTS.idleTimeoutMs / 1000), help: 'idle remote access sessions are closed after this', then: toMs }),
  historyLimit: int({ flag: 'history-limit', arg: 'n', min: 1, max: 10_000_000, defaultText: String(SIM_DEFAULTS.historyLimit), help: 'final operations and finished sessions kept' }),
  quiet: bool({ flag: 'quiet', short: 'q', default: false, help: 'print only the start banner' }),
};

/** --help text. */
export const HELP = `Usage: c8y-tunnel sim [options]

Runs an emulator of the Cumulocity cloud side on this machine: MQTT with SmartREST 2.0 static
templates, the REST API the agent and clients use, and the Cloud Remote Access WebSocket endpoints.
Nothing is persisted. See docs/sim.md.

${helpRows([...rows(SIM_SETTINGS), HELP_ROW]).join('\n')}

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

/** Parses argv; throws a SimError (SIM_ERR_CONFIG) with one clear line. */
export function parseSimArgs(argv: string[]): SimArgs {
  const flags = parseCommandLine(SIM_SETTINGS, argv, {}, (msg, cause) => new SimError('SIM_ERR_CONFIG', msg, { cause }));
  if (flags === undefined) return { help: true, quiet: false, options: {} };
  const { quiet, ...options } = flags;
  return { help: false, quiet, options };
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
    sim.events.on('operation', (op) => log(`operation ${p(op.id)} for device ${p(op.deviceId)} created: ${p(op.description)}`));
    sim.events.on('status', (op, status) => log(`operation ${p(op.id)} -> ${p(status)}${op.failureReason ? ` (${p(op.failureReason)})` : ''}`));
    sim.events.on('session:paired', (s) => log(`session of operation ${p(s.operationId)} paired`));
    sim.events.on('session:closed', (s) =>
      log(`session of operation ${p(s.operationId)} closed: ${s.clientToDevice} bytes to the device, ${s.deviceToClient} bytes back`),
    );
  }
  await stop.stopped;
  await sim.close();
  stop.dispose();
  return 0;
}
