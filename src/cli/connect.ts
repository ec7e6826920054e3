/** `c8y-tunnel connect`: the user's side of a remote access session (local port or stdio). */
import { readFileSync } from 'node:fs';
import { DEFAULT_MAX_SESSIONS, connectListen, connectStdio, parseConnectArgs } from '../connect/index.js';
import { CONNECT_SETTINGS } from '../connect/options.js';
import { helpRows, HELP_ROW, rows } from '../settings.js';
import type { ConnectOptions, SessionResult } from '../connect/index.js';
import { errorLine, installStopSignals, stderrLines } from './common.js';
import { formatBytes } from './status.js';

/** --help text. */
export const HELP = `Usage: c8y-tunnel connect --device <serial or id> --config <name or id> [--listen [host:]port | --stdio]

Opens the user's side of a Cloud Remote Access session to a PASSTHROUGH configuration of a device.

${helpRows([...rows({ ...CONNECT_SETTINGS, maxSessions: { ...CONNECT_SETTINGS.maxSessions, defaultText: String(DEFAULT_MAX_SESSIONS) } }), HELP_ROW]).join('\n')}

Environment: C8Y_HOST, C8Y_TENANT, C8Y_USER, C8Y_PASSWORD, or C8Y_TOKEN (Bearer; wins over the password);
https_proxy or HTTPS_PROXY, no_proxy or NO_PROXY (lower case first, as in curl; the flags win). The proxy
carries the REST look-ups and every session WebSocket (HTTP CONNECT), for http:// and https:// tenants;
a proxy that refuses the CONNECT is reported as CONNECT_ERR_PROXY with its status.

Examples:
  c8y-tunnel connect --device demo-device --config ssh --listen 127.0.0.1:2222   then: ssh -p 2222 me@127.0.0.1
  ssh -o ProxyCommand="c8y-tunnel connect --device demo-device --config ssh --stdio" me@demo-device
Failures print one line, "c8y-tunnel connect: <CODE>: <cause>" (docs/errors.md): credentials, unknown
device or configuration, device offline, the device could not reach the target; exit code 1 (2 for bad
options). Text from the cloud (names, reasons) is printed with control characters replaced by "?".
REST look-ups have an overall 15 s deadline and a 1 MiB answer cap.
`;

/** How long a session may wait for the device before connect says it is waiting, ms. */
const WAIT_NOTICE_MS = 2000;

/** One clear line for a failure: the same shape as the agent's (`c8y-tunnel <command>: <CODE>: <message>`). */
export function failureLine(err: unknown): string {
  return errorLine('connect', err);
}

function describe(r: SessionResult): string {
  return `${formatBytes(r.bytesUp)} sent, ${formatBytes(r.bytesDown)} received`;
}

/** Runs the command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  // Every line goes through one writer: terminal-safe, and a reader of stderr that goes away (EPIPE)
  // neither kills the listener nor its open sessions.
  const say = stderrLines();
  let opts: ConnectOptions & { help: boolean };
  try {
    opts = parseConnectArgs(argv, process.env, (p) => readFileSync(p, 'utf8'));
  } catch (err) {
    say(failureLine(err) + 'See c8y-tunnel connect --help\n');
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const info = (line: string): void => {
    if (!opts.quiet) say(line + '\n');
  };
  if (opts.assumedHttps) info(`C8Y_HOST has no scheme: using ${opts.baseUrl}`);
  // A device that answers at once prints nothing extra (stdio stays silent for ssh); one that keeps the
  // session waiting gets a line after WAIT_NOTICE_MS, so a user does not stare at nothing for 30 s.
  const waits = new Map<string, NodeJS.Timeout>();
  const progress = (event: 'waiting' | 'up' | 'end', peer = ''): void => {
    const who = peer ? ` from ${peer}` : '';
    clearTimeout(waits.get(peer));
    waits.delete(peer);
    if (event === 'waiting') {
      const t = setTimeout(() => {
        waits.delete(peer);
        info(`session${who}: waiting for the device to answer (up to the cloud's 30 s operation timeout)`);
      }, WAIT_NOTICE_MS);
      t.unref();
      waits.set(peer, t);
    } else if (event === 'up' && peer) info(`session${who} open`);
  };
  try {
    if (opts.local.kind === 'stdio') {
      const r = await connectStdio(opts, process.stdin, process.stdout, { waiting: () => progress('waiting'), up: () => progress('up') });
      progress('end');
      process.stdin.destroy();
      if (r.error) {
        say(failureLine(r.error));
        return 1;
      }
      return 0;
    }
    const local = opts.local;
    const proxy = await connectListen(
      { ...opts, local },
      (r, peer) => {
        progress('end', peer);
        if (r.error) say(failureLine(r.error));
        else info(`session from ${peer} ended by the ${r.endedBy === 'local' ? 'local side' : 'cloud'}: ${describe(r)}`);
      },
      { progress },
    );
    const { resolved } = proxy;
    info(`device "${opts.device}" (id ${resolved.deviceId}), configuration "${resolved.configName}" (id ${resolved.configId})`);
    if (!/^(127\.|::1$|localhost$)/.test(proxy.host)) {
      say(`warning: ${proxy.host} is not a loopback address; anyone who can reach this port can use your sessions\n`);
    }
    // Always printed, even with --quiet: with port 0 it is the only way to learn the port.
    say(`listening on ${proxy.host}:${proxy.port}; each connection opens a session (at most ${opts.maxSessions ?? DEFAULT_MAX_SESSIONS} at once). Ctrl-C to stop.\n`);
    const stop = installStopSignals(['SIGINT', 'SIGTERM', 'SIGHUP']);
    await stop.stopped;
    stop.dispose();
    await proxy.close();
    return 0;
  } catch (err) {
    say(failureLine(err));
    return 1;
  }
}
