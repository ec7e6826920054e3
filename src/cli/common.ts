/** Pieces shared by the long-running CLI commands. */

/** A stop request by signal: `stopped` resolves on the first one; `dispose()` removes the listeners. */
export interface StopSignals {
  stopped: Promise<'signal'>;
  dispose(): void;
}

/**
 * Listens for `signals` until `dispose()`; while installed, further signals are no-ops, so a command can
 * close in order instead of being killed by a second Ctrl-C. `heard` is told of each one (to log it),
 * `first` saying whether it is the one that asked to stop.
 */
export function installStopSignals(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'], heard?: (sig: NodeJS.Signals, first: boolean) => void): StopSignals {
  let fire: (v: 'signal') => void = () => {};
  let fired = false;
  const stopped = new Promise<'signal'>((r) => (fire = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    heard?.(sig, !fired);
    fired = true;
    fire('signal');
  };
  for (const sig of signals) process.on(sig, onSignal);
  return { stopped, dispose: () => signals.forEach((sig) => process.removeListener(sig, onSignal)) };
}

/**
 * Makes an untrusted string safe for a terminal: C0 controls (ESC, BEL, CR, backspace, ...), DEL and the
 * C1 range (0x80-0x9f, where 0x9b is a one-byte CSI) become `?`, so a configuration name or a cloud's
 * close reason can neither retitle the terminal nor erase and forge lines. Newlines too: one line stays one.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** The one way every command prints a failure: `c8y-tunnel <command>: <CODE>: <message>` (terminal-safe). */
export function errorLine(command: string, err: unknown, fallbackCode?: string): string {
  const code = err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string' && /^[A-Z]+_ERR_[A-Z_]+$/.test((err as { code: string }).code) ? (err as { code: string }).code : fallbackCode;
  const msg = err instanceof Error ? err.message : String(err);
  return `c8y-tunnel ${command}: ${code ? `${code}: ` : ''}${terminalSafe(msg)}\n`;
}

/**
 * A stderr writer that survives a reader that went away (EPIPE on a pipe to a log reader that exited):
 * the error is swallowed and later lines are dropped, the command goes on. Each line is terminal-safe.
 */
export function stderrLines(stream: NodeJS.WritableStream & { destroyed?: boolean } = process.stderr): (line: string) => void {
  let broken = false;
  stream.on('error', () => (broken = true));
  return (line: string): void => {
    if (broken || stream.destroyed) return;
    try {
      stream.write(line.split('\n').map(terminalSafe).join('\n'));
    } catch {
      broken = true;
    }
  };
}
