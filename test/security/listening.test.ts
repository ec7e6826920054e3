/**
 * The agent opens no listening socket unless metrics are asked for, and then only on loopback. Read from
 * /proc: the agent process's socket descriptors matched against /proc/net/{tcp,tcp6,udp,udp6}.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { echoServer, waitFor } from '../helpers/net.js';
import { exitWithin, simEnv, spawnAgent } from '../helpers/agent-proc.js';
import { closedPort } from '../helpers/agent-rig.js';

interface Bound {
  proto: string;
  /** Local address as /proc shows it, decoded for IPv4 (e.g. 127.0.0.1) or hex for IPv6. */
  addr: string;
  port: number;
}

/** TCP sockets in LISTEN state and bound UDP sockets owned by `pid` (all its threads share the fd table). */
function boundSockets(pid: number): Bound[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const out: Bound[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    const rows = readFileSync(`/proc/net/${proto}`, 'utf8').split('\n').slice(1);
    for (const row of rows) {
      const f = row.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      // TCP: only listeners (state 0A). UDP: every bound socket is reachable.
      if (proto.startsWith('tcp') && f[3] !== '0A') continue;
      const [hexAddr, hexPort] = f[1]!.split(':') as [string, string];
      const addr = hexAddr.length === 8 ? [3, 2, 1, 0].map((i) => parseInt(hexAddr.slice(i * 2, i * 2 + 2), 16)).join('.') : hexAddr;
      out.push({ proto, addr, port: parseInt(hexPort, 16) });
    }
  }
  return out;
}

describe('listening sockets of the agent', () => {
  it('none without --metrics-port, even with a tunnel open; with it, only 127.0.0.1:<port>', { timeout: 30_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const { id } = await sim.createDevice('ports-1');

    const plain = spawnAgent(['--log-format', 'json', '--threads', '2'], simEnv(sim, 'ports-1'));
    t.after(() => plain.kill('SIGKILL'));
    await waitFor(() => (sim.supportedOperations('ports-1') ?? []).length > 0, 10_000, 'agent connected');
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: echo.port });
    await sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    assert.deepEqual(boundSockets(plain.pid), [], 'the agent listens on nothing');
    plain.kill('SIGTERM');
    assert.equal((await exitWithin(plain, 10_000)).code, 0);

    const port = await closedPort();
    const withMetrics = spawnAgent(['--log-format', 'json', '--metrics-port', String(port)], simEnv(sim, 'ports-1'));
    t.after(() => withMetrics.kill('SIGKILL'));
    // Connected, so every listener the agent would open is open (a stop during start-up has its own test).
    await waitFor(() => withMetrics.json().some((l) => l.msg === 'MQTT connected'), 10_000, 'agent connected');
    assert.deepEqual(boundSockets(withMetrics.pid), [{ proto: 'tcp', addr: '127.0.0.1', port }]);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    await res.text();
    withMetrics.kill('SIGTERM');
    assert.equal((await exitWithin(withMetrics, 10_000)).code, 0);
  });
});
