import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { closed, deviceWithConfig, openClient, openDevice, takeEarly, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 30_000 };
const MiB = 1024 * 1024;

/** Sends `data` in frames of `frame` bytes, waiting for each write like a well-behaved sender. */
async function sendAll(ws: WebSocket, data: Buffer, frame = 64 * 1024): Promise<void> {
  for (let off = 0; off < data.length; off += frame) {
    await new Promise<void>((resolve, reject) => ws.send(data.subarray(off, off + frame), { binary: true }, (err) => (err ? reject(err) : resolve())));
  }
}

/** Collects `n` bytes of binary messages. */
function receive(ws: WebSocket, n: number, ms = 20_000): Promise<{ data: Buffer; frames: number[] }> {
  const parts: Buffer[] = [];
  const frames: number[] = [];
  let got = 0;
  return withTimeout(
    new Promise((resolve, reject) => {
      const take = (d: Buffer): boolean => {
        parts.push(d);
        frames.push(d.length);
        got += d.length;
        return got >= n;
      };
      if (takeEarly(ws).some(take)) return resolve({ data: Buffer.concat(parts), frames });
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        if (!isBinary) reject(new Error('a text frame arrived'));
        if (take(d)) resolve({ data: Buffer.concat(parts), frames });
      });
    }),
    ms,
    `receiving ${n} bytes`,
  );
}

describe('sim remote access: pairing and relay', () => {
  it('holds client bytes sent before the device joins, then relays 16 MiB each way intact (sha256)', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rl-1');
    const { client, key } = await openClient(sim, dev, id, configId);
    const early = Buffer.from('SSH-2.0-early-bytes\r\n');
    client.send(early);
    client.send(Buffer.from('second'));
    await waitFor(() => sim.sessions().find((s) => s.key === key)!.clientToDevice === early.length + 6, 5000, 'early bytes counted');
    const paired = withTimeout(new Promise((r) => sim.events.once('session:paired', r)), 5000, 'session:paired');
    const device = await openDevice(sim, 'rl-1', key);
    await paired;
    const first = await receive(device, early.length + 6);
    assert.deepEqual(first.frames, [early.length, 6], 'frames keep their boundaries');
    assert.equal(first.data.toString(), early.toString() + 'second');
    device.removeAllListeners('message');

    const up = randomBytesSeeded(16 * MiB, 7);
    const down = randomBytesSeeded(16 * MiB, 11);
    const gotUp = receive(device, up.length);
    const gotDown = receive(client, down.length);
    await Promise.all([sendAll(client, up), sendAll(device, down, 50_000)]);
    const [u, d] = await Promise.all([gotUp, gotDown]);
    assert.equal(sha256(u.data), sha256(up));
    assert.equal(sha256(d.data), sha256(down));
    assert.equal(d.frames[0], 50_000);
    const s = sim.sessions().find((x) => x.key === key)!;
    assert.equal(s.state, 'paired');
    assert.equal(s.clientToDevice, up.length + early.length + 6);
    assert.equal(s.deviceToClient, down.length);
    client.close();
    assert.equal(await closed(device), 1000);
  });

  it('bounds the client bytes held before pairing, and pauses the client while the device does not read', T, async (t) => {
    const sim = await testSim(t, { pendingClientBytesLimit: 64 * 1024 });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rl-2');
    const total = 48 * MiB;
    const data = randomBytesSeeded(total, 3);
    const blast = (ws: WebSocket): void => {
      // Fire and forget: the client's own buffer takes what the sim does not read.
      for (let off = 0; off < total; off += 64 * 1024) ws.send(data.subarray(off, off + 64 * 1024));
    };
    const settled = async (key: string): Promise<number> => {
      const counter = (): number => sim.sessions().find((s) => s.key === key)!.clientToDevice;
      await waitFor(() => counter() > 0, 5000, 'some bytes read');
      let last = -1;
      while (counter() !== last) {
        last = counter();
        await new Promise((r) => setTimeout(r, 200));
      }
      return last;
    };
    // 1. Before pairing.
    let a = await openClient(sim, dev, id, configId);
    blast(a.client);
    let read = await settled(a.key);
    assert.ok(read < total / 2, `held bytes are bounded before pairing (read ${read} of ${total})`);
    let device = await openDevice(sim, 'rl-2', a.key);
    assert.equal(sha256((await receive(device, total, 25_000)).data), sha256(data));
    a.client.close();
    await closed(device);
    // 2. Paired, but the device stops reading.
    a = await openClient(sim, dev, id, configId);
    device = await openDevice(sim, 'rl-2', a.key);
    await waitFor(() => sim.sessions().find((s) => s.key === a.key)!.state === 'paired', 5000, 'paired');
    device.pause();
    blast(a.client);
    read = await settled(a.key);
    assert.ok(read < total / 2, `the sim stopped reading the client (read ${read} of ${total})`);
    const got = receive(device, total, 25_000);
    device.resume();
    assert.equal(sha256((await got).data), sha256(data));
    a.client.close();
  });

  it('closes the other leg with 1000 on a close frame, a bare TCP drop, and the idle timeout', T, async (t) => {
    const sim = await testSim(t, { idleTimeoutMs: 400 });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rl-3');
    // device closes -> client gets 1000
    let a = await openClient(sim, dev, id, configId);
    let d = await openDevice(sim, 'rl-3', a.key);
    d.close(1000);
    assert.equal(await closed(a.client), 1000);
    // client TCP drop (no close frame) -> device gets 1000
    a = await openClient(sim, dev, id, configId);
    d = await openDevice(sim, 'rl-3', a.key);
    a.client.terminate();
    assert.equal(await closed(d), 1000);
    // sim drops the device leg -> client gets 1000, device sees an abnormal close
    a = await openClient(sim, dev, id, configId);
    d = await openDevice(sim, 'rl-3', a.key);
    const ended = withTimeout(new Promise((r) => sim.events.once('session:closed', r)), 5000, 'session:closed');
    assert.equal(sim.dropDeviceLeg(a.key), true);
    assert.equal(await closed(a.client), 1000);
    assert.equal(await closed(d), 1006);
    await ended;
    // idle: nothing flows -> both closed with 1000
    a = await openClient(sim, dev, id, configId);
    d = await openDevice(sim, 'rl-3', a.key);
    const [c1, c2] = await Promise.all([closed(a.client), closed(d)]);
    assert.deepEqual([c1, c2], [1000, 1000]);
    // The session's end never changed the operations' status.
    assert.ok(sim.listOperations({ deviceId: id }).every((op) => op.status === 'PENDING'));
  });

  it('closes the other leg with 1011 when a leg fails', T, async (t) => {
    const sim = await testSim(t, { maxPayload: 1024 });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rl-4');
    const { client, key } = await openClient(sim, dev, id, configId);
    const device = await openDevice(sim, 'rl-4', key);
    client.send(Buffer.alloc(4096));
    assert.equal(await closed(device), 1011);
    assert.equal(await closed(client), 1009);
  });

  it('a client-less operation accepts the device, counts and discards its bytes; closeSession ends it', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id } = await deviceWithConfig(t, sim, 'rl-5');
    const op = await sim.createRemoteAccessOperation(id, { hostname: '127.0.0.1', port: 9 });
    const line = await dev.next('s/ds');
    assert.equal(line, `530,rl-5,127.0.0.1,9,${op.c8y_RemoteAccessConnect.connectionKey}\n`);
    const device = await openDevice(sim, 'rl-5', op.c8y_RemoteAccessConnect.connectionKey);
    device.send(Buffer.alloc(1000));
    const key = op.c8y_RemoteAccessConnect.connectionKey;
    await waitFor(() => sim.sessions().find((s) => s.key === key)?.deviceToClient === 1000, 5000, 'device bytes counted');
    assert.equal(sim.closeSession(key), true);
    assert.equal(await closed(device), 1000);
    await waitFor(() => sim.sessions().find((s) => s.key === key)?.state === 'closed', 5000, 'session closed');
    assert.equal(sim.closeSession(key), false);
  });
});

describe('sim remote access: protocols terminated in the cloud', () => {
  it('SSH and VNC sessions are refused with 501 and a reason; no operation is created (TELNET is relayed: test/console)', T, async (t) => {
    const sim = await testSim(t);
    const { id } = await sim.createDevice('proto-dev');
    for (const protocol of ['SSH', 'VNC']) {
      const { id: configId } = await sim.createConfiguration(id, { name: protocol.toLowerCase(), hostname: '127.0.0.1', port: 22, protocol });
      const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpGet(url.replace(/^ws/, 'http'), { headers: { authorization: sim.adminAuthHeader(), connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } }, (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
      });
      assert.equal(res.status, 501, protocol);
      assert.match(JSON.parse(res.body).message, new RegExp(`Protocol ${protocol} is terminated in the cloud`));
    }
    assert.deepEqual(sim.listOperations({ deviceId: id }), []);
  });
});
