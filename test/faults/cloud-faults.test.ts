/** Faults 4-8 and 15: the cloud refuses the device upgrade, drops the device leg, or the proxy refuses CONNECT. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectProxy } from '../helpers/connect-proxy.js';
import { waitFor, withTimeout } from '../helpers/net.js';
import { chunkAt } from '../helpers/stream.js';
import { statuses } from '../helpers/agent-rig.js';
import { assertNoSecrets, closedFor, faultRig, lastOp, tcpTarget } from '../helpers/fault-rig.js';

/** An echo target that counts what it received. */
async function countingEcho(t: { after(fn: () => unknown): void }): Promise<{ port: number; received: () => number; open: () => number }> {
  let got = 0;
  const { port, sockets } = await tcpTarget(t, (s) => {
    s.on('data', (d: Buffer) => (got += d.length));
    s.pipe(s);
  });
  return { port, received: () => got, open: () => sockets.size };
}

describe('faults: the cloud refuses the device upgrade', () => {
  for (const [n, status] of [
    [4, 401],
    [5, 403],
    [6, 404],
    [7, 503],
  ] as const) {
    it(`${n}. the cloud answers the upgrade ${status}: FAILED "cloud refused WebSocket: HTTP ${status}", the target socket is closed, the bystander keeps working`, { timeout: 20_000 }, async (t) => {
      const r = await faultRig(t);
      const target = await countingEcho(t);
      r.sim.faults.refuseDeviceUpgrade = status;
      const op = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: target.port });
      const done = await r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
      assert.equal(done.status, 'FAILED');
      assert.equal(done.failureReason, `cloud refused WebSocket: HTTP ${status}`);
      assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'FAILED']);
      await waitFor(() => r.agent.stats().engine.failuresByCode.TUN_ERR_WS_HTTP_STATUS === 1, 5000, 'TUN_ERR_WS_HTTP_STATUS counted');
      // The target connection the agent opened for it is gone; nothing reached the target.
      await waitFor(() => target.open() === 0, 5000, 'target socket closed');
      assert.equal(target.received(), 0);
      await r.bystander.check();
      // Once the cloud accepts again, new sessions work.
      r.sim.faults.refuseDeviceUpgrade = 0;
      const again = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: target.port });
      assert.equal((await r.sim.waitForOperationStatus(again.id, ['SUCCESSFUL', 'FAILED'], 5000)).status, 'SUCCESSFUL');
    });
  }
});

describe('faults: the cloud drops the device leg', () => {
  it('8. device leg dropped mid-stream (no close frame): the target gets every byte the agent took from the cloud, then EOF; the tunnel ends with a code; the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t);
    const target = await countingEcho(t);
    const { id: configId } = await r.sim.createConfiguration(r.deviceId, { name: 'counting', hostname: '127.0.0.1', port: target.port });
    const ws = await r.client(configId);
    const op = lastOp(r);
    await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    const closed = new Promise<number>((res) => ws.once('close', (code) => res(code)));
    // Keep bytes flowing both ways while the leg drops.
    let i = 0;
    let stop = false;
    const pump = async (): Promise<void> => {
      while (!stop && ws.readyState === ws.OPEN) {
        ws.send(chunkAt(i++, 16 * 1024, 3));
        await new Promise((res) => setTimeout(res, 1));
      }
    };
    const pumping = pump();
    await waitFor(() => target.received() > 256 * 1024, 5000, 'bytes flowing');
    assert.ok(r.sim.dropDeviceLeg(op.c8y_RemoteAccessConnect.connectionKey));
    await withTimeout(closed, 10_000, 'client leg closed after the drop');
    stop = true;
    await pumping;
    const end = await closedFor(r.ends, op.c8y_RemoteAccessConnect.connectionKey);
    assert.equal(end.code, 'TUN_ERR_WS_DROPPED');
    await waitFor(() => target.open() === 0, 5000, 'target socket closed');
    // Every byte the agent accepted from the cloud was written to the target.
    assert.equal(target.received(), end.bytesDown, `agent took ${end.bytesDown} bytes from the cloud, the target got ${target.received()}`);
    assert.deepEqual(statuses(r.sim, op.id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    await r.bystander.check();
    assert.equal(r.agent.stats().engine.open, 1);
  });
});

describe('faults: the HTTP proxy', () => {
  it('15. the proxy refuses CONNECT: FAILED "proxy refused CONNECT: HTTP 403" (not a cloud refusal), proxy credentials never shown, the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const proxy = await connectProxy();
    t.after(() => proxy.close());
    const r = await faultRig(t, { proxy: proxy.withAuth('squid:Pr0xy-pw-91c7') });
    proxy.refuse(403);
    const op = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1', port: r.echo.port });
    const done = await r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, 'proxy refused CONNECT: HTTP 403');
    assert.equal(proxy.refused, 1);
    await waitFor(() => r.agent.stats().engine.failuresByCode.TUN_ERR_PROXY === 1, 5000, 'TUN_ERR_PROXY counted');
    // The bystander's tunnel went through the proxy before it started refusing; it is unaffected.
    await r.bystander.check();
    assertNoSecrets(r.logs, ['Pr0xy-pw-91c7']);
  });
});
