/**
 * `c8y-tunnel agent`: flags > environment > --config file > defaults, then createAgent(). Exit codes:
 * 0 after SIGINT/SIGTERM/SIGHUP and a clean stop, 2 for a bad setting (one line naming it), 1 when start fails.
 *
 * SIGHUP stops gracefully like SIGTERM (an agent started from an ssh session that drops gets its grace,
 * its final statuses and its "agent stopped" line; there is no configuration reload). SIGUSR2 is logged
 * and ignored (its default action would kill the process at once). SIGUSR1 stays Node's inspector signal.
 */
import { createAgent } from '../agent/index.js';
import { configFromEnv, mergeConfigs, readConfigFile, SETTINGS, type AgentConfig, type Origins } from '../agent/config.js';
import { LOG_LEVELS } from '../agent/settings.js';
import { createLogger } from '../agent/log.js';
import { C8yTunnelError, AgentError } from '../errors.js';
import { helpRows, HELP_ROW, parseFlags, type SettingRow } from '../settings.js';
import { errorLine, installStopSignals } from './common.js';

/** The command's own flags, besides the settings. */
const COMMAND_FLAGS: SettingRow[] = [
  { key: 'config', flag: 'config', kind: 'string', arg: 'file', help: 'JSON file with the settings below, keyed by their library names (docs/configuration.md)', read: (v) => v },
];


/** `c8y-tunnel agent --help`. */
export const HELP =
  [
    'Usage: c8y-tunnel agent [options]',
    '',
    'Runs the Cloud Remote Access device agent: takes c8y_RemoteAccessConnect operations from Cumulocity',
    '(MQTT SmartREST 530 / JSON, or REST polling) and opens a TCP <-> WebSocket tunnel for each.',
    '',
    'Precedence: flags, then environment, then the JSON file given with --config, then defaults.',
    'List options take comma-separated values and may be repeated.',
    '',
    ...helpRows([...COMMAND_FLAGS, ...SETTINGS, HELP_ROW]),
    '',
    'Signals: SIGINT, SIGTERM and SIGHUP stop gracefully (--grace-ms); SIGUSR2 is logged and ignored.',
    'Exit codes: 0 after a signal and a clean stop, 1 start-up failure (e.g. refused credentials), 2 bad setting.',
    'Every setting: docs/configuration.md.',
  ].join('\n') + '\n';

/** Builds the merged settings from argv and the environment (exported for tests). */
export function configFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { config: AgentConfig; origins: Origins; help: boolean } {
  // Flags only here: the environment is its own layer, below the flags and above the file.
  const { raw, origins } = parseFlags([...COMMAND_FLAGS, ...SETTINGS, HELP_ROW], argv, {}, (msg, cause) => new AgentError('AGENT_ERR_CONFIG', `invalid command line: ${msg}`, { cause }));
  if (raw.help) return { config: {}, origins: {}, help: true };
  const file = typeof raw.config === 'string' ? readConfigFile(raw.config) : { config: {}, origins: {} };
  delete raw.config;
  delete origins.config;
  const merged = mergeConfigs({ config: raw as AgentConfig, origins }, configFromEnv(env), file);
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
    // The logger comes before the settings are checked (it reports their failure): a bad level or format falls back.
    const level = LOG_LEVELS.find((l) => l === config.logLevel) ?? 'info';
    const format = config.logFormat === 'json' || config.logFormat === 'pretty' ? config.logFormat : 'auto';
    logger = createLogger({ level, format });
    agent = createAgent({ ...config, origins, logger });
  } catch (err) {
    process.stderr.write(errorLine('agent', err, 'AGENT_ERR_CONFIG'));
    return 2;
  }
  const stop = installStopSignals(STOP_SIGNALS, (sig, first) => (first ? logger.info({ signal: sig }, 'signal received, stopping') : logger.warn({ signal: sig }, 'second signal: still stopping')));
  const onUsr2 = (): void => logger.info({ signal: 'SIGUSR2' }, 'signal ignored');
  process.on('SIGUSR2', onUsr2);
  try {
    try {
      await Promise.race([agent.start(), stop.stopped]);
    } catch (err) {
      // An error without a code of ours came from the transport the agent was starting.
      const code = err instanceof C8yTunnelError ? err.code : agent.config.transport === 'rest' ? 'AGENT_ERR_REST' : 'AGENT_ERR_MQTT';
      logger.error({ code }, `start failed: ${err instanceof Error ? err.message : String(err)}`);
      process.stderr.write(errorLine('agent', err, code));
      await agent.stop({ graceMs: 0 }).catch(() => {});
      return 1;
    }
    await stop.stopped;
    await agent.stop();
    logger.flush?.();
    return 0;
  } finally {
    stop.dispose();
    process.off('SIGUSR2', onUsr2);
  }
}
