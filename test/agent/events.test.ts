// The operation diagnostics channels through a real agent and the emulator: received, status
// (EXECUTING, SUCCESSFUL or FAILED), finished, and the tunnel channels of the agent's engine, each message
// telling its agent apart; and the typed agent.events carrying the same operation.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import http from 'node:http';
import { describe, it } from 'node:test';
import {
  OPERATION_CHANNELS,
  TUNNEL_CHANNELS,
  type OperationFinishedMessage,
  type OperationReceivedMessage,
  type OperationStatusMessage,
  type TunnelEndEvent,
  type TunnelOpenEvent,
  type TunnelUpEvent,
} from 'c8y-tunnel';
import { echoServer, waitFor, withTimeout } from '../helpers/net.js';
import { closedPort, openClient, startRig } from '../helpers/agent-rig.js';

type Msg = OperationReceivedMessage | OperationStatusMessage | OperationFinishedMessage;

/** A free port on 127.0.0.1 (a metrics port of 0 means "off"). */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

/** Subscribes to every operation and tunnel channel; returns what arrived, as `channel` names, in order. */
function watchAll(): { seen: Array<{ name: string; msg: Msg | TunnelOpenEvent | TunnelUpEvent | TunnelEndEvent }>; stop(): void } {
  const seen: Array<{ name: string; msg: never }> = [];
  const names = [...Object.values(OPERATION_CHANNELS), ...Object.values(TUNNEL_CHANNELS)];
  const fns = names.map((name) => {
    const fn = (msg: unknown): void => void seen.push({ name, msg: msg as never });
    diagnostics.subscribe(name, fn);
    return [name, fn] as const;
  });
  return { seen, stop: () => fns.forEach(([name, fn]) => diagnostics.unsubscribe(name, fn)) };
}

describe('operation diagnostics channels', () => {
  it('a session: received, EXECUTING, tunnel open and up, SUCCESSFUL, then finished and tunnel end', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const w = watchAll();
    t.after(() => w.stop());
    const rig = await startRig();
    t.after(() => rig.close());
    const other = await startRig({}, { sim: rig.sim });
    t.after(() => other.close());
    const seenOperation = once(rig.agent.events, 'operation');
    const { id: configId } = await rig.sim.createConfiguration(rig.deviceId, { name: 'echo', hostname: '127.0.0.1', port: echo.port });
    const ws = await withTimeout(openClient(rig.sim, rig.deviceId, configId), 5000, 'client open');
    const [op] = rig.sim.listOperations({ deviceId: rig.deviceId });
    assert.ok(op);
    await rig.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    const [event] = await seenOperation;
    ws.close();
    await waitFor(() => w.seen.some((s) => s.name === OPERATION_CHANNELS.finished), 10_000, 'operation:finished');

    // The agent labels a tunnel with the operation id, or the redacted key when the operation came without one (530).
    const key = op.c8y_RemoteAccessConnect.connectionKey;
    const labels = [op.id, `${key.slice(0, 4)}…`];
    const ours = w.seen.filter((s) => ('agent' in s.msg ? s.msg.agent === rig.agent : labels.includes(s.msg.label ?? '')));
    assert.deepEqual(
      ours.map((s) => `${s.name.replace('c8y-tunnel:', '')}${'status' in s.msg ? ` ${s.msg.status}` : ''}`),
      ['operation:received', 'operation:status EXECUTING', 'tunnel:open', 'tunnel:up', 'operation:status SUCCESSFUL', 'tunnel:end', 'operation:finished'],
    );
    // Nothing of the other agent's (it had no operation), and every message names its agent.
    assert.ok(!w.seen.some((s) => 'agent' in s.msg && s.msg.agent === other.agent));
    const received = ours[0]!.msg as OperationReceivedMessage;
    assert.equal(received.key, `${key.slice(0, 4)}…`, 'the key is redacted');
    assert.deepEqual({ id: received.id, serial: received.serial, host: received.host, port: received.port, key: received.key, via: received.via }, event);
    const ok = ours[4]!.msg as OperationStatusMessage;
    assert.equal(ok.target, `127.0.0.1:${echo.port}`);
    assert.ok(ok.ms > 0);
    const finished = ours[6]!.msg as OperationFinishedMessage;
    assert.equal(finished.summary, (ours[5]!.msg as TunnelEndEvent).summary);
    assert.equal(finished.summary.established, true);
    // The whole connection key is in no message.
    assert.ok(!JSON.stringify(ours.map((s) => ({ ...s.msg, agent: undefined, engine: undefined }))).includes(key));
  });

  it('a refused target: status FAILED carries the code and the reason the cloud gets', { timeout: 30_000 }, async (t) => {
    const w = watchAll();
    t.after(() => w.stop());
    const rig = await startRig();
    t.after(() => rig.close());
    const port = await closedPort();
    const op = await rig.sim.createRemoteAccessOperation(rig.deviceId, { hostname: '127.0.0.1', port });
    const done = await rig.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    await waitFor(() => w.seen.some((s) => s.name === OPERATION_CHANNELS.finished), 10_000, 'operation:finished');
    const statuses = w.seen.filter((s) => s.name === OPERATION_CHANNELS.status && (s.msg as OperationStatusMessage).agent === rig.agent).map((s) => s.msg as OperationStatusMessage);
    assert.deepEqual(statuses.map((s) => s.status), ['EXECUTING', 'FAILED']);
    assert.equal(statuses[1]!.code, 'TUN_ERR_TCP_REFUSED');
    assert.equal(statuses[1]!.reason, done.failureReason);
    assert.equal((w.seen.find((s) => s.name === OPERATION_CHANNELS.finished)!.msg as OperationFinishedMessage).summary.established, false);
  });

  it('two agents in one process: the metrics and log lines of each count only its own operations', { timeout: 30_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    const a = await startRig({ metricsPort: await freePort() });
    t.after(() => a.close());
    const b = await startRig({ metricsPort: await freePort() }, { sim: a.sim });
    t.after(() => b.close());
    const op = await a.sim.createRemoteAccessOperation(a.deviceId, { hostname: '127.0.0.1', port: echo.port });
    await a.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    const scrape = async (port: number | undefined): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const [ma, mb] = await Promise.all([scrape(a.agent.metricsPort), scrape(b.agent.metricsPort)]);
    for (const [body, n] of [[ma, 1], [mb, 0]] as const) {
      assert.ok(body.includes(`c8y_tunnel_tunnels_opened_total ${n}`), body);
      assert.ok(body.includes(`c8y_tunnel_operation_success_seconds_count ${n}`), body);
    }
    assert.ok(ma.includes('c8y_tunnel_operations_received_total{via="json"} 1') || ma.includes('c8y_tunnel_operations_received_total{via="530"} 1'), ma);
    assert.ok(!mb.includes('c8y_tunnel_operations_received_total{'), mb);
    assert.equal(a.logs.filter((l) => l.includes('"msg":"tunnel up"')).length, 1);
    assert.equal(b.logs.filter((l) => l.includes('"msg":"tunnel up"')).length, 0);
  });
});
