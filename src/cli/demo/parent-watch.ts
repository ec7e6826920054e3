/**
 * Preloaded into the demo's agent child (`node --import <this file> bin/c8y-tunnel.js agent`, see
 * agent-process.ts): the child's IPC channel to the demo closes when the demo dies, even by SIGKILL, which
 * no signal handler of the demo can see. The agent then stops as on SIGTERM (open tunnels get their grace,
 * exit 0) instead of running on with nobody to stop it.
 */
if (process.channel) {
  // The channel carries no message: it must not keep the agent alive, only tell it when the demo is gone.
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
export {};
