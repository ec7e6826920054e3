/**
 * The agent in a child process, driven over the IPC channel: `start` (createAgent options), `stats`,
 * `usage` (descriptors, RSS and heap after a full GC, then RSS again after a memory-reducing GC; run with
 * --expose-gc), `stop`. For tests that measure the agent's own process.
 */
import { readdirSync } from 'node:fs';
import v8 from 'node:v8';
import { createAgent, type Agent, type AgentOptions } from 'c8y-tunnel';
import { createLogger } from '#internal/agent/log';

interface Msg {
  id: number;
  cmd: 'start' | 'stats' | 'usage' | 'stop';
  args?: unknown;
}

let agent: Agent | undefined;

async function handle(m: Msg): Promise<unknown> {
  switch (m.cmd) {
    case 'start':
      agent = createAgent({ ...(m.args as AgentOptions), logger: createLogger({ level: 'warn', format: 'json' }) });
      await agent.start();
      return true;
    case 'stats':
      return agent?.stats();
    case 'usage': {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      await new Promise((r) => setImmediate(r));
      gc?.();
      const mem = process.memoryUsage();
      // The main isolate's young generation, which a full GC leaves at the size V8 grew it to.
      const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.physical_space_size ?? 0;
      // A memory-reducing GC (V8's "last resort" flavour; Node 22 and later honour it, Node 20 ignores the option and
      // runs a plain full GC): it also shrinks the young generation, so RSS shows what the process keeps.
      (gc as ((o?: unknown) => void) | undefined)?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      const rssReduced = process.memoryUsage().rss;
      return { fds: readdirSync('/proc/self/fd').length, rss: mem.rss, rssReduced, heapUsed: mem.heapUsed, heapTotal: mem.heapTotal, newSpace, external: mem.external };
    }
    case 'stop':
      await agent?.stop({ graceMs: 1000 });
      return true;
  }
}

process.on('message', (m: Msg) => {
  handle(m).then(
    (result) => process.send?.({ id: m.id, ok: true, result }),
    (err: unknown) => process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
