/** The agent object's own lifecycle, without a cloud: what start() and stop() do when they overlap. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAgent } from 'c8y-tunnel';

const base = { host: 'http://127.0.0.1:1', tenant: 't1', user: 'device_s1', password: 'pw', deviceId: 's1', logLevel: 'silent' as const, threads: 1 };

describe('agent lifecycle', () => {
  it('stop() while start() is still importing the agent modules: start() rejects AGENT_ERR_SHUTDOWN and starts nothing', { timeout: 10_000 }, async () => {
    const agent = createAgent(base);
    const started = agent.start();
    const stopped = agent.stop({ graceMs: 0 });
    await assert.rejects(started, { code: 'AGENT_ERR_SHUTDOWN' });
    await stopped;
    // No engine was created (its stats would report the 1 thread asked for), no transport connected.
    assert.equal(agent.stats().engine.threads, 0);
    assert.equal(agent.stats().connected, false);
    await assert.rejects(agent.start(), { code: 'AGENT_ERR_CONFIG', message: /called once/ });
  });
});
