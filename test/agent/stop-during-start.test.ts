/**
 * A stop (a signal) may come at any moment of the agent's start: whatever start had opened by then is
 * closed, whatever it was about to open is never opened, start() rejects AGENT_ERR_SHUTDOWN and stop()
 * resolves. Anything left open keeps the process alive after "agent stopped", which is how a SIGTERM
 * during start-up once hung `c8y-tunnel agent` until it was killed.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createAgent, createEngine, type Agent } from 'c8y-tunnel';
import { AgentMetrics } from '#internal/agent/metrics';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { closedPort } from '../helpers/agent-rig.js';
import { closeServer, listen0, withTimeout } from '../helpers/net.js';

/** A logger that calls `on(msg)` inside the log call, so a test can act at a precise point of start(). */
function hookedLogger(on: (msg: string) => void): pino.Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      on(String((JSON.parse(String(chunk)) as { msg?: unknown }).msg ?? ''));
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

function agentFor(sim: Sim, serial: string, extra: { mqttUrl?: string; metricsPort?: number; logger: pino.Logger }): Agent {
  return createAgent({ host: sim.httpUrl, mqttUrl: sim.mqttUrl, tenant: sim.tenant, user: `device_${serial}`, password: sim.devicePassword, deviceId: serial, threads: 1, ...extra });
}

/** Resolves when a TCP connection to 127.0.0.1:port is refused (nothing listens there). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('agent: stop during start', () => {
  it('stop() while the metrics endpoint is binding: the endpoint does not stay up, MQTT is never dialled', { timeout: 15_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    await sim.createDevice('early-stop-1');
    const port = await closedPort();
    // Stands in for the broker and counts the agent's dials: there must be none.
    let dials = 0;
    const broker = net.createServer((s) => {
      dials++;
      s.destroy();
    });
    const brokerPort = await listen0(broker);
    t.after(() => closeServer(broker));
    let stopped: Promise<void> | undefined;
    const agent: Agent = agentFor(sim, 'early-stop-1', {
      mqttUrl: `mqtt://127.0.0.1:${brokerPort}`,
      metricsPort: port,
      // 'agent starting' is logged just before the endpoint binds: the stop lands while it binds.
      logger: hookedLogger((msg) => {
        if (msg === 'agent starting') stopped ??= agent.stop({ graceMs: 500 });
      }),
    });
    await assert.rejects(withTimeout(agent.start(), 10_000, 'start'), { code: 'AGENT_ERR_SHUTDOWN' });
    assert.ok(stopped, 'the hook stopped the agent');
    await withTimeout(stopped, 10_000, 'stop');
    assert.equal(await refused(port), true, 'the metrics endpoint is closed');
    assert.equal(dials, 0, 'the agent never dialled MQTT');
  });

  it('the metrics endpoint closed while it binds: listen() closes its server and rejects AGENT_ERR_SHUTDOWN', { timeout: 10_000 }, async (t) => {
    const engine = createEngine({ threads: 1 });
    t.after(() => engine.close({ graceMs: 0 }));
    const metrics = new AgentMetrics({}, engine, () => false, () => 0);
    const port = await closedPort();
    const listening = metrics.listen(port);
    await metrics.close(); // before the bind has reported back
    await assert.rejects(withTimeout(listening, 5000, 'listen'), { code: 'AGENT_ERR_SHUTDOWN' });
    assert.equal(await refused(port), true, 'nothing listens on the port');
  });

  it('stop() while the MQTT connection is being made: the socket is closed even if the handshake completes after the stop', { timeout: 15_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    await sim.createDevice('early-stop-2');
    const broker = new URL(sim.mqttUrl);
    // A gate in front of the broker: it takes the agent's connection, lets the test stop the agent, and only
    // then passes the bytes on, so mqtt.js finishes its handshake after stop() gave up on it.
    let agentSide: net.Socket | undefined;
    let release: (() => void) | undefined;
    let onAccept: () => void = () => {};
    const accepted = new Promise<void>((resolve) => (onAccept = resolve));
    const gate = net.createServer((s) => {
      agentSide = s;
      s.pause();
      release = () => {
        const up = net.connect(Number(broker.port), broker.hostname, () => {
          s.pipe(up).pipe(s);
          s.resume();
        });
        up.on('error', () => s.destroy());
        s.on('error', () => up.destroy());
        s.on('close', () => up.destroy());
      };
      onAccept();
    });
    const gatePort = await listen0(gate);
    t.after(() => closeServer(gate, agentSide ? [agentSide] : []));
    const agent = agentFor(sim, 'early-stop-2', { mqttUrl: `mqtt://127.0.0.1:${gatePort}`, logger: hookedLogger(() => {}) });
    const started = agent.start();
    started.catch(() => {});
    await withTimeout(accepted, 10_000, 'the agent dials MQTT');
    const closed = new Promise<void>((resolve) => agentSide!.once('close', () => resolve()));
    const stopped = agent.stop({ graceMs: 500 });
    release!();
    await assert.rejects(withTimeout(started, 10_000, 'start'), { code: 'AGENT_ERR_SHUTDOWN' });
    await withTimeout(stopped, 10_000, 'stop');
    await withTimeout(closed, 5000, 'the agent closes its MQTT socket');
  });
});
