/**
 * Logging with pino (JSON, or pretty on a TTY) and the redaction helpers every agent module uses:
 * passwords and JWTs never appear, a connection key shows as its first 4 characters.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

/** A connection key as it may appear in logs and messages: its first 4 characters. */
export function redactKey(key: string): string {
  return key.length <= 4 ? '…' : `${key.slice(0, 4)}…`;
}

/** Replaces every occurrence of the given secrets in `text` (keys keep 4 characters, others none). */
export function scrub(text: string, secrets: ReadonlyArray<{ value: string | undefined; kind: 'key' | 'secret' }>): string {
  let out = text;
  for (const s of secrets) {
    if (!s.value || s.value.length < 4) continue;
    out = out.split(s.value).join(s.kind === 'key' ? redactKey(s.value) : '[redacted]');
  }
  return out;
}

/** A URL with its password hidden, for logs (query values are left as they are). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparsable URL]';
  }
}

const REDACT_PATHS = [
  'password',
  '*.password',
  'jwt',
  '*.jwt',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  'connectionKey',
  '*.connectionKey',
];

function censor(value: unknown, path: string[]): unknown {
  const last = path[path.length - 1];
  if (last === 'connectionKey' && typeof value === 'string') return redactKey(value);
  return '[redacted]';
}

/** Creates the agent's logger. `format: 'auto'` means pretty when `destination` is a TTY. */
export function createLogger(opts: { level?: string; format?: 'json' | 'pretty' | 'auto'; destination?: DestinationStream & { isTTY?: boolean } } = {}): Logger {
  const tty = opts.destination ? opts.destination.isTTY === true : process.stderr.isTTY === true;
  const pretty = opts.format === 'pretty' || (opts.format !== 'json' && tty);
  const options = {
    level: opts.level ?? 'info',
    base: { name: 'c8y-tunnel' },
    redact: { paths: REDACT_PATHS, censor },
  };
  if (pretty) {
    // Synchronous pretty stream: no transport worker thread on a 2-core gateway.
    const stream = pinoPretty({ destination: 2, sync: true, colorize: tty, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' });
    return pino(options, stream);
  }
  // Asynchronous writes to stderr (flushed at exit): a log line never blocks an operation.
  return pino(options, opts.destination ?? pino.destination({ dest: 2, sync: false }));
}
