/** Faults 1-3: the target refuses, never answers the connect, or resets mid-stream. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { closedPort, statuses } from '../helpers/agent-rig.js';
import { blackholePort, closedFor, faultRig, lastOp, resettingTarget } from '../helpers/fault-rig.js';

describe('faults: the target', () => {
  it('1. target refuses: FAILED with the address and errno, no tunnel left, the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t);
    const port = await closedPort();
    const op = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port });
    const done = await r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, `target 127.0.0.1:${port} refused connection (ECONNREFUSED)`);
    assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'FAILED']);
    await waitFor(() => r.agent.stats().engine.failuresByCode.TUN_ERR_TCP_REFUSED === 1, 5000, 'TUN_ERR_TCP_REFUSED counted');
    await waitFor(() => r.agent.stats().engine.open === 1, 5000, 'only the bystander open');
    await r.bystander.check();
  });

  it('2. target never answers the connect: FAILED after --tcp-timeout-ms with TUN_ERR_TCP_TIMEOUT, the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t, { tcpConnectTimeoutMs: 700 });
    const port = await blackholePort(t);
    const t0 = Date.now();
    const op = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port });
    await r.sim.waitForOperationStatus(op.id, 'EXECUTING', 5000);
    // Meanwhile the other session is unaffected.
    await r.bystander.check();
    const done = await r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    const took = Date.now() - t0;
    assert.equal(done.status, 'FAILED');
    assert.match(done.failureReason ?? '', new RegExp(`127\\.0\\.0\\.1:${port}.*(did not accept|timed out|timeout)`, 'i'));
    assert.ok(took >= 600 && took < 8000, `failed after ${took} ms (timeout 700 ms; the default would be 10 s)`);
    await waitFor(() => r.agent.stats().engine.failuresByCode.TUN_ERR_TCP_TIMEOUT === 1, 5000, 'TUN_ERR_TCP_TIMEOUT counted');
    await waitFor(() => r.agent.stats().engine.open === 1, 5000, 'only the bystander open');
    await r.bystander.check();
  });

  it('3. target resets mid-stream: the tunnel ends with TUN_ERR_TCP_RESET, the client gets a prefix of what was sent, the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t);
    const prefix = randomBytesSeeded(200_000, 31);
    const target = await resettingTarget(t, prefix, 100_000);
    const { id: configId } = await r.sim.createConfiguration(r.deviceId, { name: 'resetting', hostname: '127.0.0.1', port: target.port });
    const ws = await r.client(configId);
    const got: Buffer[] = [];
    ws.on('message', (d: Buffer) => got.push(d));
    const closed = new Promise<number>((res) => ws.once('close', (code) => res(code)));
    const op = lastOp(r);
    await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    ws.send(randomBytesSeeded(150_000, 32));
    await withTimeout(closed, 10_000, 'client leg closed after the reset');
    const end = await closedFor(r.ends, op.c8y_RemoteAccessConnect.connectionKey);
    assert.equal(end.code, 'TUN_ERR_TCP_RESET');
    // Nothing invented, nothing reordered: the client holds exactly the first bytes the target sent, and
    // every byte the agent read from the target (bytesUp) reached the client.
    const back = Buffer.concat(got);
    assert.ok(back.length <= prefix.length);
    assert.equal(sha256(back), sha256(prefix.subarray(0, back.length)));
    assert.equal(back.length, end.bytesUp, `agent read ${end.bytesUp} bytes from the target, the client got ${back.length}`);
    // The operation was SUCCESSFUL (the tunnel was up) and stays so.
    assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    await r.bystander.check();
    assert.equal(r.agent.stats().engine.open, 1);
  });
});
