/**
 * `c8y-tunnel demo` (what `npm start` runs without C8Y_HOST): the emulator, an echo service, and the agent
 * as a child process attached to the emulator as device `demo-device`; prints how to open a session and a
 * live status line until Ctrl-C.
 */
import { parseListen } from '../../connect/options.js';
import { SimError } from '../../errors.js';
import { bool, helpRows, HELP_ROW, int, list, parseCommandLine, PORT, rows, text, valueFlags, type SettingsTable } from '../../settings.js';
import { startSim } from '../../sim/index.js';
import type { Sim } from '../../sim/index.js';
import { installStopSignals } from '../common.js';
import { SIM_ENDPOINT_SETTINGS, type SimEndpoint } from '../sim-flags.js';
import { createRateMeter, createStatusLine, formatBytes, formatDirections, type StatusLine } from '../status.js';
import { startAgentProcess, type AgentProcess } from './agent-process.js';
import { startEchoService, type EchoService } from './echo.js';

/** The demo's flags: the emulator's endpoint, then the demo's own. */
interface DemoFlags extends SimEndpoint {
  device: string;
  echoPort: number;
  sshTarget: string;
  targets: string[];
  verbose: boolean;
}

const DEMO_SETTINGS: SettingsTable<DemoFlags> = {
  ...SIM_ENDPOINT_SETTINGS,
  device: text({ flag: 'device', arg: 'serial', default: 'demo-device', help: "the agent's device serial" }),
  echoPort: int({ flag: 'echo-port', arg: 'n', ...PORT, default: 0, help: 'port of the echo service on 127.0.0.1 (0 = any free port)' }),
  sshTarget: text({ flag: 'ssh-target', arg: 'h:p', default: '127.0.0.1:22', help: 'target of the "ssh" configuration' }),
  targets: list({ flag: 'target', arg: 'name=h:p', default: [], help: 'one more PASSTHROUGH configuration on the demo device, e.g. web=127.0.0.1:8000\n(repeatable)' }),
  verbose: bool({ flag: 'verbose', default: false, help: "show the agent's log lines (default: only if it fails)" }),
};

/** --help text. */
export const HELP = `Usage: c8y-tunnel demo [options]      (what \`npm start\` runs when C8Y_HOST is not set)

Starts, on this machine: the Cumulocity emulator, a TCP echo service, and the agent (a child process)
attached to the emulator as device "demo-device" with two PASSTHROUGH configurations, "echo" (the echo
service) and "ssh" (127.0.0.1:22), plus one per --target. Then prints how to open a session from another
terminal and shows a live status line. Ctrl-C stops everything; so does the demo's own death (the agent
watches its parent).

Under npm, put these flags after --: npm start -- --http-port 0 (npm keeps flags before -- for itself).

${helpRows([...rows(DEMO_SETTINGS), HELP_ROW]).join('\n')}
`;

interface DemoOptions extends SimEndpoint {
  device: string;
  echoPort: number;
  ssh: { host: string; port: number };
  targets: Array<{ name: string; host: string; port: number }>;
  verbose: boolean;
}

/** Names of the flags that take a value, as typed (`http-port`; bin/start.js spots the ones npm took for itself: npm_config_<flag>). */
export const VALUE_FLAGS: readonly string[] = valueFlags(rows(DEMO_SETTINGS));

const RESERVED = new Set(['echo', 'ssh']);

/** `name=host:port` of --target. */
function parseTarget(v: string, seen: Set<string>): { name: string; host: string; port: number } {
  const eq = v.indexOf('=');
  const name = eq > 0 ? v.slice(0, eq) : '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new SimError('SIM_ERR_CONFIG', `--target must be name=host:port with a name of letters, digits, . _ - (up to 64), got ${JSON.stringify(v)}`);
  }
  if (RESERVED.has(name) || seen.has(name)) throw new SimError('SIM_ERR_CONFIG', `--target ${JSON.stringify(name)}: a configuration of that name exists already`);
  seen.add(name);
  let t;
  try {
    t = parseListen(v.slice(eq + 1));
  } catch (err) {
    throw new SimError('SIM_ERR_CONFIG', `--target must be name=host:port, got ${JSON.stringify(v)}`, { cause: err });
  }
  if (t.port === 0) throw new SimError('SIM_ERR_CONFIG', `--target ${JSON.stringify(name)}: port 0 is no target`);
  return { name, host: t.host, port: t.port };
}

function parse(argv: string[]): DemoOptions | 'help' {
  const f = parseCommandLine(DEMO_SETTINGS, argv, {}, (msg, cause) => new SimError('SIM_ERR_CONFIG', msg, { cause }));
  if (f === undefined) return 'help';
  let ssh;
  try {
    ssh = parseListen(f.sshTarget);
  } catch (err) {
    throw new SimError('SIM_ERR_CONFIG', `--ssh-target must be host:port, got ${JSON.stringify(f.sshTarget)}`, { cause: err });
  }
  const seen = new Set<string>();
  const { sshTarget: _s, targets, ...rest } = f;
  return { ...rest, ssh, targets: targets.map((t) => parseTarget(t, seen)) };
}

/** Shell-quotes a value for the printed command lines. */
function q(s: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function instructions(o: DemoOptions, sim: Sim, echo: EchoService, agent: AgentProcess, deviceId: string): string {
  const env = `C8Y_HOST=${sim.httpUrl} C8Y_TENANT=${q(sim.tenant)} C8Y_USER=${q(sim.user)} C8Y_PASSWORD=${q(sim.password)}`;
  const dev = q(o.device);
  // From a bundle or the Debian package (its launcher names itself), that command; in a clone, npx finds
  // the clone's own bin (and only there: elsewhere npx would look the name up in the registry).
  const launcher = process.env.C8Y_TUNNEL_LAUNCHER;
  const cli = launcher ? q(launcher) : 'npx c8y-tunnel';
  return [
    '',
    'c8y-tunnel demo is running:',
    `  emulator  ${sim.httpUrl} (REST + remote access WebSockets), ${sim.mqttUrl}; tenant ${sim.tenant}, user ${sim.user}`,
    `  agent     device "${o.device}" (device id ${deviceId}), child process ${agent.pid}, connected over MQTT`,
    `  targets   "echo" -> ${echo.host}:${echo.port} (built-in echo service), "ssh" -> ${o.ssh.host}:${o.ssh.port}`,
    ...o.targets.map((t) => `            "${t.name}" -> ${t.host}:${t.port}`),
    '',
    `Open the console in a browser: ${sim.httpUrl}/apps/console/`,
    `  log in as tenant ${sim.tenant}, user ${sim.user}, password ${sim.password}; pick "${o.device}", then Connect on "echo" and type`,
    '',
    launcher ? 'Or open a session from another terminal:' : 'Or open a session from another terminal in this directory:',
    `  ${env} ${cli} connect --device ${dev} --config echo --listen 127.0.0.1:2222`,
    '  then, in a third terminal: nc 127.0.0.1 2222      (each line you type comes back through the tunnel)',
    '',
    'Or use it as an ssh ProxyCommand (needs an SSH server on this machine):',
    // ssh runs ProxyCommand as `exec <command>`, where a VAR=value prefix would be taken for the program: use env.
    `  ssh -o ProxyCommand="env ${env} ${cli} connect --device ${dev} --config ssh --stdio" $USER@${o.device}`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/** Sessions open and bytes per second, from the emulator's own per-session counters. */
function statusText(sim: Sim, meter: ReturnType<typeof createRateMeter>): string {
  let open = 0;
  let up = 0;
  let down = 0;
  const all = sim.sessions();
  for (const s of all) {
    if (s.state !== 'closed') open++;
    up += s.clientToDevice;
    down += s.deviceToClient;
  }
  const r = meter.sample(up, down);
  return `sessions: ${open} open, ${all.length} so far · ${formatDirections({ up, down }, r)}`;
}

function watchSessions(sim: Sim, status: StatusLine): void {
  sim.events.on('session:paired', (s) => status.log(`session opened (operation ${s.operationId})`));
  sim.events.on('session:closed', (s) =>
    status.log(`session closed (operation ${s.operationId}): ${formatBytes(s.clientToDevice)} to the device, ${formatBytes(s.deviceToClient)} back`),
  );
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One agent JSON log line as `LEVEL msg key=value ...`; anything else unchanged. */
export function compactLog(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || typeof rec.msg !== 'string') return line;
  const { level, time: _t, name: _n, pid: _p, hostname: _h, msg, ...rest } = rec;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [LEVELS[level as number] ?? String(level), msg, ...fields].join(' ');
}

/** Runs the command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  let o: DemoOptions | 'help';
  try {
    o = parse(argv);
  } catch (err) {
    process.stderr.write(`c8y-tunnel demo: ${(err as Error).message}\nSee c8y-tunnel demo --help\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  let sim: Sim | undefined;
  let echo: EchoService | undefined;
  let agent: AgentProcess | undefined;
  const status = createStatusLine(process.stdout);
  let timer: NodeJS.Timeout | undefined;
  let code = 0;
  // SIGHUP too (terminal closed); installed before the agent is spawned, so no signal can leave it running
  // on its own (it is in its own process group).
  const stop = installStopSignals(['SIGINT', 'SIGTERM', 'SIGHUP']);
  let why: 'signal' | 'signal-early' | 'agent-exit' | 'ready' = 'ready';
  try {
    sim = await startSim({ host: o.host, httpPort: o.httpPort, mqttPort: o.mqttPort, tenant: o.tenant, user: o.user, password: o.password, quiet: true }).catch((err: NodeJS.ErrnoException) => {
      if (/EADDRINUSE/.test(`${err.code} ${err.message}`)) {
        throw new Error(`a port is already in use (${err.message}); pick others with --http-port/--mqtt-port (0 = any free port)`, { cause: err });
      }
      throw err;
    });
    echo = await startEchoService('127.0.0.1', o.echoPort);
    const dev = await sim.createDevice(o.device, { name: `Demo device ${o.device}` });
    await sim.createConfiguration(dev.id, { name: 'echo', hostname: echo.host, port: echo.port, protocol: 'PASSTHROUGH' });
    await sim.createConfiguration(dev.id, { name: 'ssh', hostname: o.ssh.host, port: o.ssh.port, protocol: 'PASSTHROUGH' });
    for (const t of o.targets) await sim.createConfiguration(dev.id, { name: t.name, hostname: t.host, port: t.port, protocol: 'PASSTHROUGH' });
    process.stdout.write(`emulator up at ${sim.httpUrl} and ${sim.mqttUrl}; starting the agent...\n`);
    agent = startAgentProcess(sim, o.device, o.verbose ? (line) => status.log(`agent | ${compactLog(line)}`) : undefined);
    const exited = agent.exited.then(() => 'agent-exit' as const);
    why = await Promise.race([agent.ready(30_000).then(() => 'ready' as const), stop.stopped]);
    if (why === 'signal') why = 'signal-early';
    else {
      process.stdout.write(instructions(o, sim, echo, agent, dev.id));
      watchSessions(sim, status);
      const meter = createRateMeter();
      const s = sim;
      timer = setInterval(() => status.update(statusText(s, meter)), 1000);
      status.update(statusText(s, meter));
      why = await Promise.race([stop.stopped, exited]);
      clearInterval(timer);
      status.stop();
    }
    if (why === 'agent-exit') {
      process.stderr.write(`c8y-tunnel demo: the agent exited unexpectedly (${agent.describeExit()}); its last lines:\n${agent.tail(compactLog)}`);
      code = 1;
    } else process.stdout.write('stopping: agent, echo service, emulator...\n');
  } catch (err) {
    status.stop();
    process.stderr.write(`c8y-tunnel demo: ${(err as Error).message}\n`);
    if (agent && agent.tail()) process.stderr.write(`the agent's last lines:\n${agent.tail(compactLog)}`);
    code = 1;
  } finally {
    if (timer) clearInterval(timer);
    if (agent) {
      const exit = await agent.stop(10_000);
      // Stopped before it was up, the agent may die of the signal: only a running agent must exit 0.
      if (code === 0 && why !== 'signal-early' && !exit.clean) code = 1;
      if (code === 0) process.stdout.write(`agent stopped (${agent.describeExit()})\n`);
    }
    await echo?.close();
    await sim?.close();
    stop.dispose();
  }
  if (code === 0) process.stdout.write('stopped.\n');
  return code;
}
