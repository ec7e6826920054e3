import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAgent } from 'c8y-tunnel';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { echoServer, withTimeout } from '../helpers/net.js';
import { tlsFixture, tlsFront } from '../helpers/tls.js';
import { capturingLogger, statuses } from '../helpers/agent-rig.js';

const fixture = tlsFixture;

async function tlsRig(sim: Sim): Promise<{ https: string; mqtts: string; close(): Promise<void> }> {
  const http = await tlsFront(Number(new URL(sim.httpUrl).port));
  const mqtt = await tlsFront(Number(new URL(sim.mqttUrl).port));
  return { https: `https://127.0.0.1:${http.port}`, mqtts: `mqtts://127.0.0.1:${mqtt.port}`, close: async () => void (await Promise.all([http.close(), mqtt.close()])) };
}

describe('agent end to end: TLS', () => {
  it('verifies the cloud with the CA given by --ca, over mqtts and wss', { timeout: 20_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const front = await tlsRig(sim);
    t.after(() => front.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const { id } = await sim.createDevice('tls-1');
    const base = { host: front.https, mqttUrl: front.mqtts, tenant: sim.tenant, user: 'device_tls-1', password: sim.devicePassword, deviceId: 'tls-1', threads: 1 };

    const refused = createAgent({ ...base, logger: capturingLogger().logger });
    await assert.rejects(withTimeout(refused.start(), 10_000, 'start'), /AGENT_ERR_MQTT|TLS verification of the MQTT broker failed/);

    const agent = createAgent({ ...base, ca: fixture('ca.pem'), logger: capturingLogger().logger });
    t.after(() => agent.stop({ graceMs: 500 }));
    await withTimeout(agent.start(), 10_000, 'start with --ca');
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.deepEqual(statuses(sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
  });

  it('--insecure skips verification and says so', { timeout: 20_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const front = await tlsRig(sim);
    t.after(() => front.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const { id } = await sim.createDevice('tls-2');
    const { logger, lines } = capturingLogger();
    const agent = createAgent({ host: front.https, mqttUrl: front.mqtts, tenant: sim.tenant, user: 'device_tls-2', password: sim.devicePassword, deviceId: 'tls-2', threads: 1, insecure: true, logger });
    t.after(() => agent.stop({ graceMs: 500 }));
    await withTimeout(agent.start(), 10_000, 'start');
    assert.ok(lines.some((l) => l.includes('"level":40') && l.includes('TLS verification is OFF')));
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    assert.equal((await sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
  });
});
