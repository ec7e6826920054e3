import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor, withTimeout } from '../helpers/net.js';
import { closed, deviceWithConfig, openClient, openDevice, openWs, refusedStatus, testSim } from '../helpers/sim-rig.js';

const T = { timeout: 20_000 };
const basic = (s: string): string => 'Basic ' + Buffer.from(s).toString('base64');

describe('sim remote access: client endpoint', () => {
  it('client connect creates a PENDING c8y_RemoteAccessConnect operation and delivers 530 with a fresh UUID key', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'ra-1');
    const ops: string[] = [];
    sim.events.on('operation', (op: { id: string }) => ops.push(op.id));
    const a = await openClient(sim, dev, id, configId);
    const b = await openClient(sim, dev, id, configId);
    assert.deepEqual(a.fields.slice(0, 4), ['530', 'ra-1', '127.0.0.1', '22']);
    assert.match(a.key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.key, b.key);
    assert.equal(ops.length, 2);
    const op = sim.getOperation(ops[0]!)!;
    assert.equal(op.status, 'PENDING');
    assert.equal(op.deviceId, id);
    assert.deepEqual(op.c8y_RemoteAccessConnect, { hostname: '127.0.0.1', port: 22, connectionKey: a.key });
    assert.equal(sim.sessions().filter((s) => s.state === 'waiting').length, 2);
    a.client.close();
    b.client.close();
  });

  it('answers 101 with Sec-WebSocket-Protocol: binary even when not offered, plus the cloud headers', T, async (t) => {
    const sim = await testSim(t);
    const { id, configId } = await deviceWithConfig(t, sim, 'ra-2');
    const url = `${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/${configId}`;
    // A strict RFC 6455 client that offered nothing aborts, exactly as against Cumulocity.
    await assert.rejects(openWs(url, { protocols: [], headers: { authorization: sim.adminAuthHeader() } }), /subprotocol/);
    const ws = await openWs(url, { headers: { authorization: sim.adminAuthHeader() } });
    assert.equal(ws.protocol, 'binary');
    ws.close();
    const raw = await rawUpgrade(sim.wsUrl, `/service/remoteaccess/client/${id}/configurations/${configId}`, sim.adminAuthHeader());
    assert.match(raw, /^HTTP\/1\.1 101 /);
    for (const h of ['Sec-WebSocket-Protocol: binary', 'X-Content-Type-Options: nosniff', 'X-XSS-Protection: 1; mode=block', 'Cache-Control: no-cache, no-store, max-age=0, must-revalidate', 'Pragma: no-cache', 'Expires: 0']) {
      assert.ok(raw.includes(h + '\r\n'), h);
    }
  });

  it('auth: Basic, Bearer, cookie + X-XSRF-TOKEN and ?token= work; 401, 403 and 404 otherwise', T, async (t) => {
    const sim = await testSim(t, { users: [{ user: 'viewer', password: 'pw', roles: ['ROLE_INVENTORY_READ'] }] });
    const { id, configId } = await deviceWithConfig(t, sim, 'ra-3');
    const path = `/service/remoteaccess/client/${id}/configurations/${configId}`;
    const url = sim.wsUrl + path;
    const { token, xsrfToken } = sim.issueToken();
    const ok: Array<{ headers: Record<string, string> }> = [
      { headers: { authorization: basic('t1/admin:admin') } },
      { headers: { authorization: `Bearer ${token}` } },
      { headers: { cookie: `authorization=${token}; XSRF-TOKEN=${xsrfToken}`, 'x-xsrf-token': xsrfToken } },
    ];
    for (const o of ok) (await openWs(url, o)).close();
    (await openWs(`${url}?token=${encodeURIComponent(Buffer.from('t1/admin:admin').toString('base64'))}`)).close();
    (await openWs(`${url}?token=${token}`)).close();
    const r401 = await refusedStatus(url, { headers: { authorization: basic('t1/admin:nope') } });
    assert.equal(r401.status, 401);
    assert.equal(r401.headers['www-authenticate'], 'Basic realm="Cumulocity"');
    assert.equal((await refusedStatus(url)).status, 401);
    assert.equal((await refusedStatus(url, { headers: { cookie: `authorization=${token}` } })).status, 401, 'cookie without X-XSRF-TOKEN');
    assert.equal((await refusedStatus(url, { headers: { cookie: `authorization=${token}`, 'x-xsrf-token': 'wrong' } })).status, 401);
    assert.equal((await refusedStatus(url, { headers: { authorization: basic('t1/viewer:pw') } })).status, 403);
    assert.equal((await refusedStatus(url, { headers: { authorization: sim.deviceAuthHeader('ra-3') } })).status, 403);
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/client/999999/configurations/${configId}`, { headers: { authorization: sim.adminAuthHeader() } })).status, 404);
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/client/${id}/configurations/999`, { headers: { authorization: sim.adminAuthHeader() } })).status, 404);
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/other`, { headers: { authorization: sim.adminAuthHeader() } })).status, 404);
  });
});

describe('sim remote access: device endpoint', () => {
  it('requires device auth (Basic or unexpired Bearer): 401 with the challenge, 403 for a user', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-1');
    const { client, key } = await openClient(sim, dev, id, configId);
    const url = `${sim.wsUrl}/service/remoteaccess/device/${key}`;
    const r = await refusedStatus(url);
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Cumulocity"');
    assert.equal((await refusedStatus(url, { headers: { authorization: basic('t1/device_rd-1:wrong') } })).status, 401);
    assert.equal((await refusedStatus(url, { headers: { authorization: 'Bearer abc.def.ghi' } })).status, 401);
    assert.equal((await refusedStatus(url, { headers: { authorization: sim.adminAuthHeader() } })).status, 403);
    const { token } = sim.issueToken('device_rd-1');
    const device = await openWs(url, { headers: { authorization: `Bearer ${token}` } });
    device.close();
    client.close();
  });

  it('a key is single-use; an unknown key gets 404', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-2');
    const { client, key } = await openClient(sim, dev, id, configId);
    const device = await openDevice(sim, 'rd-2', key);
    assert.equal(device.protocol, 'binary');
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader('rd-2') } })).status, 404);
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/00000000-0000-4000-8000-000000000000`, { headers: { authorization: sim.deviceAuthHeader('rd-2') } })).status, 404);
    client.close();
    assert.equal(await closed(device), 1000);
  });

  it('the operation timeout fails the operation, closes the client and expires the key', T, async (t) => {
    const sim = await testSim(t, { operationTimeoutMs: 300 });
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-3');
    const { client, key } = await openClient(sim, dev, id, configId);
    const code = await closed(client);
    assert.equal(code, 1011);
    const op = sim.listOperations({ deviceId: id })[0]!;
    assert.equal(op.status, 'FAILED');
    assert.match(op.failureReason!, /did not connect within/);
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader('rd-3') } })).status, 404);
  });

  it('a key whose operation was reported FAILED is no longer valid', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-4');
    const { client, key } = await openClient(sim, dev, id, configId);
    await dev.publish('s/us', '501,c8y_RemoteAccessConnect\n502,c8y_RemoteAccessConnect,nope');
    assert.equal(sim.listOperations({ deviceId: id })[0]!.status, 'FAILED');
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader('rd-4') } })).status, 404);
    client.close();
  });
});

describe('sim remote access: session edges', () => {
  it('a client that leaves before the device joins ends the session; its key then gets 404', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-5');
    const { client, key } = await openClient(sim, dev, id, configId);
    client.close();
    await closed(client);
    await waitFor(() => sim.sessions().find((s) => s.key === key)?.state === 'closed', 5000, 'session closed');
    assert.equal((await refusedStatus(`${sim.wsUrl}/service/remoteaccess/device/${key}`, { headers: { authorization: sim.deviceAuthHeader('rd-5') } })).status, 404);
    assert.equal(sim.listOperations({ deviceId: id })[0]!.status, 'PENDING', 'the operation keeps its status');
  });

  it('text frames are relayed as binary frames with the same bytes', T, async (t) => {
    const sim = await testSim(t);
    const { dev, id, configId } = await deviceWithConfig(t, sim, 'rd-6');
    const { client, key } = await openClient(sim, dev, id, configId);
    const device = await openDevice(sim, 'rd-6', key);
    const got = withTimeout(new Promise<[Buffer, boolean]>((r) => device.once('message', (d: Buffer, bin: boolean) => r([d, bin]))), 5000, 'relayed frame');
    client.send('héllo');
    const [data, isBinary] = await got;
    assert.equal(isBinary, true);
    assert.equal(data.toString('utf8'), 'héllo');
    client.close();
  });
});

/** The raw upgrade reply of a client that offers no subprotocol. */
async function rawUpgrade(wsUrl: string, path: string, auth: string): Promise<string> {
  const net = await import('node:net');
  const u = new URL(wsUrl);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: ${auth}\r\n\r\n`);
    });
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n\r\n')) {
        s.destroy();
        resolve(buf.slice(0, buf.indexOf('\r\n\r\n') + 2));
      }
    });
    s.on('error', reject);
  });
}
