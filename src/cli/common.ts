/** Pieces shared by the long-running CLI commands. */

/** A stop request by signal: `stopped` resolves on the first one; `dispose()` removes the listeners. */
export interface StopSignals {
  stopped: Promise<'signal'>;
  dispose(): void;
}

/**
 * Listens for `signals` until `dispose()`; while installed, further signals are no-ops, so a command can
 * close in order instead of being killed by a second Ctrl-C.
 */
export function installStopSignals(signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): StopSignals {
  let fire: (v: 'signal') => void = () => {};
  const stopped = new Promise<'signal'>((r) => (fire = r));
  const onSignal = (): void => fire('signal');
  for (const sig of signals) process.on(sig, onSignal);
  return { stopped, dispose: () => signals.forEach((sig) => process.removeListener(sig, onSignal)) };
}
