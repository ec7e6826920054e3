/** `c8y-tunnel connect`: the user's side of a remote access session (local port or stdio). */
import { readFileSync } from 'node:fs';
import { DEFAULT_LISTEN, connectListen, connectStdio, parseConnectArgs } from '../connect/index.js';
import type { ConnectOptions, SessionResult } from '../connect/index.js';
import { TunnelError } from '../errors.js';
import { installStopSignals } from './common.js';

/** --help text. */
export const HELP = `Usage: c8y-tunnel connect --device <serial or id> --config <name or id> [--listen [host:]port | --stdio]

Opens the user's side of a Cloud Remote Access session to a PASSTHROUGH configuration of a device.

  -d, --device <s>     device serial (c8y_Serial external id) or managed object id
  -c, --config <s>     remote access configuration name or id (PASSTHROUGH only)
  -l, --listen <addr>  listen on [host:]port; one session per local connection (default ${DEFAULT_LISTEN};
                       port 0 picks a free port, printed on start)
      --stdio          one session on stdin/stdout, for ssh -o ProxyCommand=...
      --host <url>     tenant URL (default: C8Y_HOST), e.g. https://example.cumulocity.com
      --tenant <id>    tenant id for Basic auth (default: C8Y_TENANT)
      --user <name>    user name (default: C8Y_USER)
      --ca <file>      extra CA certificate (PEM) for https/wss; repeatable
      --handshake-timeout <s>  give up on a session that is not set up after this many seconds (default 45)
      --linger <s>     after local EOF, keep the session until the device has been quiet this long
                       (default 2; CRA has no half-close, so this lets answers to piped input arrive)
  -q, --quiet          print failures and the listening address only
  -h, --help           this text

Environment: C8Y_HOST, C8Y_TENANT, C8Y_USER, C8Y_PASSWORD, or C8Y_TOKEN (Bearer; wins over the password).

Examples:
  c8y-tunnel connect --device demo-device --config ssh --listen 127.0.0.1:2222   then: ssh -p 2222 me@127.0.0.1
  ssh -o ProxyCommand="c8y-tunnel connect --device demo-device --config ssh --stdio" me@demo-device
Failures print one line naming the cause and its code (docs/errors.md): credentials, unknown device or
configuration, device offline, the device could not reach the target; exit code 1 (2 for bad options).
`;

/** One clear line for a failure. */
export function failureLine(err: unknown): string {
  if (err instanceof TunnelError) return `c8y-tunnel connect: ${err.message} [${err.code}]\n`;
  return `c8y-tunnel connect: ${err instanceof Error ? err.message : String(err)}\n`;
}

function describe(r: SessionResult): string {
  return `${r.bytesUp} bytes sent, ${r.bytesDown} bytes received`;
}

/** Runs the command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  let opts: ConnectOptions & { help: boolean };
  try {
    opts = parseConnectArgs(argv, process.env, (p) => readFileSync(p, 'utf8'));
  } catch (err) {
    process.stderr.write(failureLine(err) + 'See c8y-tunnel connect --help\n');
    return 2;
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const info = (line: string): void => {
    if (!opts.quiet) process.stderr.write(line + '\n');
  };
  try {
    if (opts.local.kind === 'stdio') {
      const r = await connectStdio(opts);
      process.stdin.destroy();
      if (r.error) {
        process.stderr.write(failureLine(r.error));
        return 1;
      }
      return 0;
    }
    const local = opts.local;
    const proxy = await connectListen({ ...opts, local }, (r, peer) => {
      if (r.error) process.stderr.write(failureLine(r.error));
      else info(`session from ${peer} ended by the ${r.endedBy === 'local' ? 'local side' : 'cloud'}: ${describe(r)}`);
    });
    const { resolved } = proxy;
    info(`device "${opts.device}" (id ${resolved.deviceId}), configuration "${resolved.configName}" (id ${resolved.configId})`);
    if (!/^(127\.|::1$|localhost$)/.test(proxy.host)) {
      process.stderr.write(`warning: ${proxy.host} is not a loopback address; anyone who can reach this port can use your sessions\n`);
    }
    // Always printed, even with --quiet: with port 0 it is the only way to learn the port.
    process.stderr.write(`listening on ${proxy.host}:${proxy.port}; each connection opens a session. Ctrl-C to stop.\n`);
    const stop = installStopSignals();
    await stop.stopped;
    stop.dispose();
    await proxy.close();
    return 0;
  } catch (err) {
    process.stderr.write(failureLine(err));
    return 1;
  }
}
