/**
 * TLS verification of the device WebSocket at the agent level, with the settings parsed the way the CLI
 * parses them (`--ca <file>`): a TLS front with a certificate from the test CA stands before the
 * emulator's HTTP port (MQTT stays plain, so only the WebSocket leg is under test).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAgent, type Agent } from 'c8y-tunnel';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { configFromArgs } from '#internal/cli/agent';
import { echoServer, waitFor, withTimeout } from '../helpers/net.js';
import { tlsFixture, tlsFront } from '../helpers/tls.js';
import { capturingLogger, statuses } from '../helpers/agent-rig.js';

const fixture = tlsFixture;

/** TLS in front of a plain port, with the given certificate; closed after the test. */
async function front(t: { after(fn: () => unknown): void }, port: number, cert: string, key: string): Promise<number> {
  const f = await tlsFront(port, cert, key);
  t.after(() => f.close());
  return f.port;
}

/** An agent for `serial` from command-line style arguments, against a TLS front on `httpsPort`. */
async function cliAgent(t: { after(fn: () => unknown): void }, sim: Sim, serial: string, httpsPort: number, extra: string[]): Promise<{ agent: Agent; logs: string[] }> {
  const args = ['--host', `https://127.0.0.1:${httpsPort}`, '--mqtt-url', sim.mqttUrl, '--tenant', sim.tenant, '--user', `device_${serial}`, '--device-id', serial, '--threads', '1', ...extra];
  const { config, origins } = configFromArgs(args, { C8Y_PASSWORD: sim.devicePassword });
  const { logger, lines } = capturingLogger();
  const agent = createAgent({ ...config, origins, logger });
  t.after(() => agent.stop({ graceMs: 500 }));
  await withTimeout(agent.start(), 10_000, 'agent start');
  return { agent, logs: lines };
}

describe('TLS verification of the cloud (agent)', () => {
  it('is on by default: a certificate from an unknown CA fails the operation with TUN_ERR_WS_TLS; --ca <file> fixes it', { timeout: 20_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const port = await front(t, Number(new URL(sim.httpUrl).port), 'server.pem', 'server.key');
    const { id } = await sim.createDevice('tls-a');

    const plain = await cliAgent(t, sim, 'tls-a', port, []);
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    const done = await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.match(done.failureReason ?? '', /^cloud TLS certificate rejected \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\)$/);
    await waitFor(() => plain.agent.stats().engine.failuresByCode.TUN_ERR_WS_TLS === 1, 5000, 'TUN_ERR_WS_TLS counted');
    assert.ok(plain.logs.some((l) => l.includes('"code":"TUN_ERR_WS_TLS"')));
    await plain.agent.stop({ graceMs: 200 });

    const withCa = await cliAgent(t, sim, 'tls-a', port, ['--ca', fixture('ca.pem')]);
    assert.equal(withCa.agent.config.ca.length, 1);
    assert.ok(!withCa.agent.config.insecure);
    const op2 = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(op2.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.deepEqual(statuses(sim, op2.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });

  it('a certificate for another name fails even with the right --ca (ERR_TLS_CERT_ALTNAME_INVALID)', { timeout: 20_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    // The CA's own certificate names "c8y-tunnel test CA", not 127.0.0.1.
    const port = await front(t, Number(new URL(sim.httpUrl).port), 'ca.pem', 'ca.key');
    const { id } = await sim.createDevice('tls-b');
    await cliAgent(t, sim, 'tls-b', port, ['--ca', fixture('ca.pem')]);
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    const done = await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, 'cloud TLS certificate rejected (ERR_TLS_CERT_ALTNAME_INVALID)');
  });

  it('--ca with a file that holds no certificate is a configuration error naming the flag', () => {
    assert.throws(
      () => createAgent({ ...configFromArgs(['--host', 'https://127.0.0.1:1', '--tenant', 't', '--user', 'u', '--device-id', 'd', '--ca', fixture('README.md')], { C8Y_PASSWORD: 'x' }).config, origins: { ca: '--ca' } }),
      { code: 'AGENT_ERR_CONFIG', message: /invalid --ca: .*README\.md holds no PEM certificate/ },
    );
  });
});
