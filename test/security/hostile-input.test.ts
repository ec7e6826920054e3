/**
 * Oversized and hostile input. Operations come from a "hostile cloud": a plain MQTT broker (aedes) that
 * lets the test publish anything on s/ds and the JSON topic, while the emulator still serves the device
 * WebSockets. Each bad operation gets a coded refusal (a log line with its code; FAILED by id when the
 * operation carried one), opens no socket, and the agent keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Aedes } from 'aedes';
import type { AedesPublishPacket } from 'aedes';
import { createAgent, type Agent } from 'c8y-tunnel';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { closeServer, echoServer, listen0, waitFor, withTimeout } from '../helpers/net.js';
import { capturingLogger, statuses } from '../helpers/agent-rig.js';
import { assertNoSecrets, closedFor, echoCheck, faultRig, lastOp } from '../helpers/fault-rig.js';

interface Hostile {
  sim: Sim;
  agent: Agent;
  logs: string[];
  serial: string;
  deviceId: string;
  /** Lines the agent published on s/us. */
  upstream: string[];
  publish(topic: string, payload: string | Buffer): Promise<void>;
}

async function hostileCloud(t: { after(fn: () => unknown): void }): Promise<Hostile> {
  const sim = await startSim({ quiet: true, password: 'Adm1n-pw-7f3a9c', devicePassword: 'Dev1ce-pw-5e2b8d' });
  const broker = await Aedes.createBroker();
  (broker as unknown as NodeJS.EventEmitter).on('error', () => {});
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  const port = await listen0(server);
  const upstream: string[] = [];
  broker.on('publish', (packet, client) => {
    if (client && packet.topic === 's/us') upstream.push(packet.payload.toString());
  });
  const serial = 'hostile-1';
  const { id: deviceId } = await sim.createDevice(serial);
  const { logger, lines } = capturingLogger('info');
  const agent = createAgent({ host: sim.httpUrl, mqttUrl: `mqtt://127.0.0.1:${port}`, tenant: sim.tenant, user: `device_${serial}`, password: sim.devicePassword, deviceId: serial, threads: 1, logger });
  t.after(async () => {
    await agent.stop({ graceMs: 500 });
    await new Promise<void>((r) => broker.close(() => r()));
    await closeServer(server, sockets);
    await sim.close();
  });
  await withTimeout(agent.start(), 10_000, 'agent start');
  await waitFor(() => upstream.some((l) => l.startsWith('114,')), 5000, '114 from the agent');
  const publish = (topic: string, payload: string | Buffer): Promise<void> =>
    new Promise((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false } as AedesPublishPacket, (err) => (err ? reject(err) : resolve())),
    );
  return { sim, agent, logs: lines, serial, deviceId, upstream, publish };
}

/** A JSON operation notification as the cloud sends it. */
function opJson(id: string, serial: string, frag: Record<string, unknown>): string {
  return JSON.stringify({ id, status: 'PENDING', deviceId: '1', externalSource: { externalId: serial, type: 'c8y_Serial' }, c8y_RemoteAccessConnect: frag });
}

const BAD: Array<[string, (serial: string) => string, string | RegExp]> = [
  ['a 1 MB s/ds line', (s) => `530,${s},127.0.0.1,22,${'k'.repeat(1024 * 1024)}`, 'SR_ERR_TOO_LONG'],
  ['port 0', (s) => `530,${s},127.0.0.1,0,key0`, 'SR_ERR_FIELD'],
  ['port 65536', (s) => `530,${s},127.0.0.1,65536,key1`, 'SR_ERR_FIELD'],
  ['port -1', (s) => `530,${s},127.0.0.1,-1,key2`, 'SR_ERR_FIELD'],
  ['port 22abc', (s) => `530,${s},127.0.0.1,22abc,key3`, 'SR_ERR_FIELD'],
  ['a hostname with control characters', (s) => `530,${s},"evil\u0007host\u001b[2J",22,key4`, 'SR_ERR_FIELD'],
  ['a hostname with a newline', (s) => `530,${s},"evil\nhost",22,key5`, /SR_ERR_(FIELD|FIELDS|QUOTE)/],
  ['a key with /', (s) => `530,${s},127.0.0.1,22,abc/def`, 'SR_ERR_FIELD'],
  ['a key with ..', (s) => `530,${s},127.0.0.1,22,..`, 'SR_ERR_FIELD'],
  ['a key that walks up the path', (s) => `530,${s},127.0.0.1,22,../../client/1/configurations/2`, 'SR_ERR_FIELD'],
  ['too few fields', (s) => `530,${s},127.0.0.1`, 'SR_ERR_FIELDS'],
];

describe('hostile input', () => {
  it('bad 530 lines on s/ds are refused with a code each, open nothing, and the agent keeps serving', { timeout: 30_000 }, async (t) => {
    const h = await hostileCloud(t);
    const echo = await echoServer();
    t.after(() => echo.close());
    let targetConnections = 0;
    echo.server.on('connection', () => targetConnections++);
    for (const [what, line, code] of BAD) {
      const before = h.agent.stats().operations.malformed;
      const logLen = h.logs.length;
      await h.publish('s/ds', line(h.serial));
      await waitFor(() => h.agent.stats().operations.malformed === before + 1, 5000, `${what} counted as malformed`);
      const logged = h.logs.slice(logLen).join('');
      assert.match(logged, typeof code === 'string' ? new RegExp(`"code":"${code}"`) : code, `${what}: coded log line`);
    }
    assert.equal(h.agent.stats().engine.opened, 0, 'no tunnel was attempted');
    assert.equal(targetConnections, 0);
    // No log line carries the hostile payload (the 1 MB line, terminal escapes).
    for (const l of h.logs) {
      assert.ok(l.length < 4096, `a log line of ${l.length} characters`);
      assert.ok(!/\u001b|\u0007/.test(l) && !l.includes('\\u001b') && !l.includes('\\u0007'), `control characters in a log line: ${l.slice(0, 200)}`);
    }
    // Still serving: a genuine operation (delivered as JSON with its id) opens a tunnel through the emulator.
    const op = await h.sim.createRemoteAccessOperation(h.deviceId, { hostname: '127.0.0.1', port: echo.port });
    await h.publish('devicecontrol/notifications', opJson(op.id, h.serial, { hostname: '127.0.0.1', port: echo.port, connectionKey: op.c8y_RemoteAccessConnect.connectionKey }));
    await waitFor(() => h.upstream.includes(`506,${op.id}`), 5000, `506,${op.id} from the agent`);
    assert.equal(targetConnections, 1);
    assert.ok(h.sim.sessions().some((s) => s.operationId === op.id && s.state === 'paired'));
    assertNoSecrets(h.logs, [h.sim.devicePassword, op.c8y_RemoteAccessConnect.connectionKey]);
  });

  it('bad JSON operations that carry an id are FAILED by id with a clear reason; junk JSON is ignored', { timeout: 20_000 }, async (t) => {
    const h = await hostileCloud(t);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ hostname: '127.0.0.1', port: 0, connectionKey: 'k0' }, /port 0 out of range 1-65535/],
      [{ hostname: '127.0.0.1', port: 65536, connectionKey: 'k1' }, /port 65536 out of range/],
      [{ hostname: '127.0.0.1', port: '22abc', connectionKey: 'k2' }, /invalid port \\"22abc\\"/],
      [{ hostname: 'a\u0000b', port: 22, connectionKey: 'k3' }, /invalid target host/],
      [{ hostname: '127.0.0.1', port: 22, connectionKey: '../x' }, /invalid connection key/],
      [{ hostname: 'x'.repeat(300), port: 22, connectionKey: 'k4' }, /invalid target host/],
    ];
    let id = 9000;
    for (const [frag, reason] of cases) {
      const opId = String(++id);
      await h.publish('devicecontrol/notifications', opJson(opId, h.serial, frag));
      await waitFor(() => h.upstream.some((l) => l.startsWith(`505,${opId},`)), 5000, `505 for ${opId}`);
      const failed = h.upstream.find((l) => l.startsWith(`505,${opId},`))!;
      assert.match(failed, /malformed operation: /);
      assert.match(failed, reason);
      assert.ok(h.upstream.indexOf(`504,${opId}`) !== -1 && h.upstream.indexOf(`504,${opId}`) < h.upstream.indexOf(failed), 'EXECUTING before FAILED');
      assert.ok(!/[\u0000-\u001f]/.test(failed.slice(0, -1)), 'no control characters in the status line');
    }
    await h.publish('devicecontrol/notifications', '{"not json');
    await h.publish('devicecontrol/notifications', Buffer.alloc(200_000, 0xff));
    await waitFor(() => h.logs.filter((l) => l.includes('malformed JSON notification ignored')).length === 2, 5000, 'junk JSON logged');
    assert.equal(h.agent.stats().engine.opened, 0);
    assert.equal(h.agent.stats().operations.malformed, cases.length);
  });

  it('a frame above maxPayload (1 MiB) ends only that tunnel with TUN_ERR_WS_PAYLOAD_TOO_BIG; text frames are carried as bytes; the bystander keeps working', { timeout: 20_000 }, async (t) => {
    const r = await faultRig(t);
    const big = await r.client();
    const op = lastOp(r);
    await r.sim.waitForOperationStatus(op.id, 'SUCCESSFUL', 5000);
    const closed = new Promise<number>((res) => big.once('close', (code) => res(code)));
    big.send(Buffer.alloc(1024 * 1024 + 1, 7));
    await withTimeout(closed, 10_000, 'oversized session closed');
    const end = await closedFor(r.ends, op.c8y_RemoteAccessConnect.connectionKey);
    assert.equal(end.code, 'TUN_ERR_WS_PAYLOAD_TOO_BIG');
    assert.ok(r.logs.some((l) => l.includes('TUN_ERR_WS_PAYLOAD_TOO_BIG')), 'the end is logged with its code');
    // Text frames: carried as UTF-8 bytes (the protocol notes say accept them), the session goes on.
    const txt = await r.client();
    const back = new Promise<Buffer>((res) => txt.once('message', (d: Buffer) => res(d)));
    txt.send('plain text frame', { binary: false });
    assert.equal((await withTimeout(back, 5000, 'text echoed')).toString(), 'plain text frame');
    await echoCheck(txt);
    await r.bystander.check();
    assert.equal(r.agent.stats().engine.open, 2);
  });

  it('a flood of operations past --max-sessions: the excess is FAILED with AGENT_ERR_SESSION_LIMIT, the rest work, and the agent serves again after', { timeout: 30_000 }, async (t) => {
    const r = await faultRig(t, { maxSessions: 5 });
    const target = { hostname: '127.0.0.1', port: r.echo.port };
    const ops = await Promise.all(Array.from({ length: 40 }, () => r.sim.createRemoteAccessOperation(r.deviceId, target)));
    const done = await Promise.all(ops.map((op) => r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 10_000)));
    const ok = done.filter((o) => o.status === 'SUCCESSFUL');
    const refused = done.filter((o) => o.status === 'FAILED');
    assert.equal(ok.length, 4, 'the bystander holds the fifth slot');
    assert.equal(refused.length, 36);
    for (const o of refused) {
      assert.equal(o.failureReason, 'session limit reached (5 concurrent sessions)');
      assert.deepEqual(statuses(r.sim, o.id), ['PENDING', 'EXECUTING', 'FAILED']);
    }
    assert.ok(r.logs.some((l) => l.includes('"code":"AGENT_ERR_SESSION_LIMIT"')));
    await r.bystander.check();
    for (const o of ok) r.sim.closeSession(o.c8y_RemoteAccessConnect.connectionKey);
    await waitFor(() => r.agent.stats().operations.active === 1, 5000, 'slots freed');
    await echoCheck(await r.client());
  });
});
