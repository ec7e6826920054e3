/**
 * `c8y-tunnel <command>`: dispatches to one module per subcommand. Each module exports
 * `run(argv): Promise<number>` (the exit code) and `HELP` (its --help text). No process.exit here.
 */
import { readFileSync } from 'node:fs';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  agent: { summary: 'run the device agent (Cumulocity operations -> tunnels)', load: () => import('./agent.js') },
  sim: { summary: 'run the Cumulocity cloud emulator (MQTT, REST, remote access WebSockets)', load: () => import('./sim.js') },
  connect: { summary: "open the user's side of a session (local port or stdio, e.g. ssh ProxyCommand)", load: () => import('./connect.js') },
  demo: { summary: 'emulator + agent + echo service on this machine (what `npm start` runs)', load: () => import('./demo/index.js') },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  const lines = [
    `c8y-tunnel ${version()}: Cumulocity Cloud Remote Access device agent`,
    '',
    'Usage: c8y-tunnel <command> [options]     (c8y-tunnel <command> --help for its options)',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`),
    '',
    'Docs: README.md and docs/ (configuration, errors, architecture, sim).',
  ];
  return lines.join('\n') + '\n';
}

/** Runs the CLI; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(version() + '\n');
    return 0;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`c8y-tunnel: unknown command "${cmd}"\n\n` + usage());
    return 2;
  }
  const mod = await c.load();
  return mod.run(rest);
}
