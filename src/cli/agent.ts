/**
 * `c8y-tunnel agent`: flags > environment > --config file > defaults, then createAgent(). Exit codes:
 * 0 after SIGINT/SIGTERM/SIGHUP and a clean stop, 2 for a bad setting (one line naming it), 1 when start fails.
 *
 * SIGHUP stops gracefully like SIGTERM (an agent started from an ssh session that drops gets its grace,
 * its final statuses and its "agent stopped" line; there is no configuration reload). SIGUSR2 is logged
 * and ignored (its default action would kill the process at once). SIGUSR1 stays Node's inspector signal.
 */
import { parseArgs } from 'node:util';
import { createAgent } from '../agent/index.js';
import { configFromEnv, mergeConfigs, readConfigFile, SETTINGS, type AgentConfig, type Origins } from '../agent/config.js';
import { createLogger } from '../agent/log.js';
import { TunnelError } from '../errors.js';
import { errorLine } from './common.js';

function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const left = `  --${s.flag}${s.arg ? ` <${s.arg}>` : ''}`;
    const env = s.env ? ` [env ${s.env[0]}]` : '';
    const def = s.default !== undefined && !(Array.isArray(s.default) && s.default.length === 0) && s.default !== '' ? ` (default ${Array.isArray(s.default) ? s.default.join(',') : String(s.default)})` : '';
    return `${left.padEnd(38)} ${s.help}${def}${env}`;
  });
  return [
    'Usage: c8y-tunnel agent [options]',
    '',
    'Runs the Cloud Remote Access device agent: takes c8y_RemoteAccessConnect operations from Cumulocity',
    '(MQTT SmartREST 530 / JSON, or REST polling) and opens a TCP <-> WebSocket tunnel for each.',
    '',
    'Precedence: flags, then environment, then the JSON file given with --config, then defaults.',
    'List options take comma-separated values and may be repeated.',
    '',
    `${'  --config <file>'.padEnd(38)} JSON file with the settings below, keyed by their library names (docs/configuration.md)`,
    ...rows,
    `${'  -h, --help'.padEnd(38)} this text`,
    '',
    'Signals: SIGINT, SIGTERM and SIGHUP stop gracefully (--grace-ms); SIGUSR2 is logged and ignored.',
    'Exit codes: 0 after a signal and a clean stop, 1 start-up failure (e.g. refused credentials), 2 bad setting.',
    'Every setting: docs/configuration.md.',
  ].join('\n') + '\n';
}

/** `c8y-tunnel agent --help`. */
export const HELP = helpText();

type FlagValues = Record<string, string | boolean | string[] | undefined>;

function flagsToConfig(values: FlagValues): { config: AgentConfig; origins: Origins } {
  const config: Record<string, unknown> = {};
  const origins: Origins = {};
  for (const s of SETTINGS) {
    const v = values[s.flag];
    if (v === undefined) continue;
    config[s.key] = v;
    origins[s.key] = `--${s.flag}`;
  }
  return { config: config as AgentConfig, origins };
}

/** Builds the merged settings from argv and the environment (exported for tests). */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { config: AgentConfig; origins: Origins; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  for (const s of SETTINGS) options[s.flag] = s.kind === 'bool' ? { type: 'boolean' } : s.kind === 'list' ? { type: 'string', multiple: true } : { type: 'string' };
  let values: FlagValues;
  try {
    ({ values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }) as { values: FlagValues });
  } catch (err) {
    throw new TunnelError('AGENT_ERR_CONFIG', `invalid command line: ${(err as Error).message.split('\n')[0]}`);
  }
  if (values.help) return { config: {}, origins: {}, help: true };
  const file = typeof values.config === 'string' ? readConfigFile(values.config) : { config: {}, origins: {} };
  const merged = mergeConfigs(flagsToConfig(values), configFromEnv(env), file);
  return { ...merged, help: false };
}

/** Signals that stop the agent gracefully. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs the command; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  let agent: ReturnType<typeof createAgent>;
  let logger: ReturnType<typeof createLogger>;
  try {
    const { config, origins, help } = configFromArgs(argv);
    if (help) {
      process.stdout.write(HELP);
      return 0;
    }
    const level = typeof config.logLevel === 'string' ? config.logLevel : 'info';
    const format = config.logFormat === 'json' || config.logFormat === 'pretty' ? config.logFormat : 'auto';
    logger = createLogger({ level: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level) ? level : 'info', format });
    agent = createAgent({ ...config, origins, logger });
  } catch (err) {
    process.stderr.write(errorLine('agent', err, 'AGENT_ERR_CONFIG'));
    return 2;
  }
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (wake = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ signal: sig }, 'second signal: still stopping');
      return;
    }
    signalled = sig;
    logger.info({ signal: sig }, 'signal received, stopping');
    wake();
  };
  const onUsr2 = (): void => logger.info({ signal: 'SIGUSR2' }, 'signal ignored');
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  process.on('SIGUSR2', onUsr2);
  try {
    try {
      await Promise.race([agent.start(), stopRequested]);
    } catch (err) {
      // An error without a code of ours came from the transport the agent was starting.
      const code = err instanceof TunnelError ? err.code : agent.config.transport === 'rest' ? 'AGENT_ERR_REST' : 'AGENT_ERR_MQTT';
      logger.error({ code }, `start failed: ${err instanceof Error ? err.message : String(err)}`);
      process.stderr.write(errorLine('agent', err, code));
      await agent.stop({ graceMs: 0 }).catch(() => {});
      return 1;
    }
    await stopRequested;
    await agent.stop();
    logger.flush?.();
    return 0;
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    process.off('SIGUSR2', onUsr2);
  }
}
