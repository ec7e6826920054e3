/**
 * The no-native path end to end: an agent process forced to the JavaScript mask (C8Y_TUNNEL_MASK=js,
 * WS_NO_BUFFER_UTIL=1, what a gateway without a bufferutil build runs) carries 16 MiB each way through
 * the emulator unchanged, and says which mask it runs in its start line and in its metrics.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { closeServer, listen0, withTimeout } from '../helpers/net.js';
import { expectedMaskKind } from '../helpers/mask.js';
import { pumpWs } from '../helpers/stream.js';
import { exitWithin, simEnv, spawnAgent } from '../helpers/agent-proc.js';

const SIZE = 16 * 1024 * 1024;

async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen0(s);
  await closeServer(s);
  return port;
}

/** Resolves once the agent for `serial` has announced its operations (its 114 has been handled). */
function announced(sim: Sim, serial: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if ((sim.supportedOperations(serial) ?? []).length === 0) return;
      sim.events.off('mqtt:publish', onPublish);
      resolve();
    };
    // The emulator emits before it handles the message: look once it has.
    const onPublish = (): void => void setImmediate(check);
    sim.events.on('mqtt:publish', onPublish);
    check();
  });
}

async function maskInfo(port: number): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('c8y_tunnel_mask_info'));
}

async function echoThroughAgent(env: NodeJS.ProcessEnv, serial: string): Promise<{ start: Record<string, unknown>; info: string[] }> {
  const sim = await startSim({ quiet: true });
  const sockets = new Set<net.Socket>();
  const echo = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  const agentProc: { kill(sig: NodeJS.Signals): void } = { kill: () => {} };
  try {
    const port = await listen0(echo);
    const { id: deviceId } = await sim.createDevice(serial);
    const { id: configId } = await sim.createConfiguration(deviceId, { name: 'echo', hostname: '127.0.0.1', port });
    const metricsPort = await freePort();
    const p = spawnAgent(['--log-format', 'json', '--log-level', 'info', '--metrics-port', String(metricsPort)], { ...simEnv(sim, serial), ...env });
    agentProc.kill = p.kill;
    // Bounded by the test's timeout: on a loaded machine an agent process may take a while to start.
    await Promise.race([announced(sim, serial), p.exited.then((e) => Promise.reject(new Error(`agent exited (${e.code ?? e.signal}): ${p.err().slice(0, 2000)}`)))]);

    const ws = new WebSocket(`${sim.wsUrl}/service/remoteaccess/client/${deviceId}/configurations/${configId}`, 'binary', {
      headers: { Authorization: sim.adminAuthHeader() },
      perMessageDeflate: false,
    });
    ws.on('error', () => {});
    await withTimeout(new Promise((r) => ws.once('open', r)), 30_000, 'client open');
    const got = createHash('sha256');
    let received = 0;
    const back = new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        got.update(d);
        received += d.length;
        if (received >= SIZE) resolve();
      }),
    );
    const sent = await pumpWs(ws, SIZE, 5);
    await withTimeout(back, 60_000, `${SIZE} bytes back through the agent`);
    assert.equal(received, SIZE);
    assert.equal(got.digest('hex'), sent, 'the echo differs from what was sent');
    ws.close(1000);

    const info = await maskInfo(metricsPort);
    const start = p.json().find((l) => l.msg === 'agent starting');
    assert.ok(start, `no "agent starting" line in:\n${p.err().slice(0, 2000)}`);
    p.kill('SIGTERM');
    assert.equal((await exitWithin(p, 30_000, 'agent exit')).code, 0);
    return { start, info };
  } finally {
    agentProc.kill('SIGKILL');
    await closeServer(echo, sockets);
    await sim.close();
  }
}

describe('the JavaScript mask, forced', () => {
  it('C8Y_TUNNEL_MASK=js WS_NO_BUFFER_UTIL=1: 16 MiB each way sha256-equal through an agent process; it reports mask js', { timeout: 90_000 }, async () => {
    const { start, info } = await echoThroughAgent({ C8Y_TUNNEL_MASK: 'js', WS_NO_BUFFER_UTIL: '1' }, 'mask-js-1');
    assert.equal(start.mask, 'js');
    assert.deepEqual(info, ['c8y_tunnel_mask_info{kind="js"} 1']);
  });

  it('unforced, the agent reports the mask this platform really has', { timeout: 90_000 }, async () => {
    const env = { C8Y_TUNNEL_MASK: 'auto', WS_NO_BUFFER_UTIL: '' };
    const kind = expectedMaskKind(env);
    const { start, info } = await echoThroughAgent(env, 'mask-auto-1');
    assert.equal(start.mask, kind);
    assert.deepEqual(info, [`c8y_tunnel_mask_info{kind="${kind}"} 1`]);
  });
});
