/**
 * The target allow-list (agent/policy.ts): its grammar, and that it cannot be stepped around with names that
 * merely start like an allowed address (unit, then end to end through the agent).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy } from '#internal/agent/policy';
import { echoServer } from '../helpers/net.js';
import { faultRig } from '../helpers/fault-rig.js';

describe('target policy', () => {
  it('allows everything with * (the default)', () => {
    assert.ok(parsePolicy(['*']).allows('anything', 1));
  });

  it('matches host globs and port specs', () => {
    const p = parsePolicy(['127.0.0.1:22', '10.0.0.*:5900-5910', '*.lan', '[::1]:8080']);
    assert.ok(p.allows('127.0.0.1', 22));
    assert.ok(!p.allows('127.0.0.1', 23));
    assert.ok(p.allows('10.0.0.7', 5905));
    assert.ok(!p.allows('10.0.1.7', 5905));
    assert.ok(!p.allows('10.0.0.7', 5911));
    assert.ok(p.allows('printer.LAN', 631));
    assert.ok(!p.allows('lan', 631));
    assert.ok(p.allows('::1', 8080));
    assert.ok(!p.allows('::2', 8080));
  });

  it('allows nothing with an empty list', () => {
    assert.ok(!parsePolicy([]).allows('127.0.0.1', 22));
  });

  it('refuses malformed patterns with a message naming them', () => {
    assert.throws(() => parsePolicy(['host:0']), /port out of range in pattern "host:0"/);
    assert.throws(() => parsePolicy(['host:22-20']), /port out of range/);
    assert.throws(() => parsePolicy(['::1:22']), /IPv6 addresses need brackets/);
    assert.throws(() => parsePolicy(['[::1:22']), /unclosed/);
    assert.throws(() => parsePolicy([':22']), /bad host/);
    assert.throws(() => parsePolicy(['h:x']), /bad port/);
  });
});

describe('allow-list', () => {
  it('an IPv4 pattern matches addresses only: 10.0.0.* does not allow the name 10.0.0.1.attacker.example', () => {
    const p = parsePolicy(['10.0.0.*:22', '192.168.*.*:5900-5910']);
    assert.ok(p.allows('10.0.0.1', 22));
    assert.ok(p.allows('10.0.0.255', 22));
    for (const host of ['10.0.0.1.attacker.example', '10.0.0.1.nip.io', '10.0.0.256', '10.0.0.07', '10.0.0.', '10.0.0.1x']) {
      assert.ok(!p.allows(host, 22), `${host} must not match 10.0.0.*`);
    }
    assert.ok(p.allows('192.168.3.4', 5901));
    assert.ok(!p.allows('192.168.3.4.example', 5901));
  });

  it('end to end: a look-alike name is FAILED by policy before any socket is opened', { timeout: 20_000 }, async (t) => {
    const echo = await echoServer();
    t.after(() => echo.close());
    let connections = 0;
    echo.server.on('connection', () => connections++);
    const r = await faultRig(t, { allow: [`127.0.0.*:${echo.port}`, '127.0.0.1:1-65535'] });
    const before = connections;
    const op = await r.sim.createRemoteAccessOperation(r.deviceId, { hostname: '127.0.0.1.attacker.example', port: echo.port });
    const done = await r.sim.waitForOperationStatus(op.id, ['SUCCESSFUL', 'FAILED'], 5000);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.failureReason, `policy denies target 127.0.0.1.attacker.example:${echo.port}`);
    assert.equal(connections, before);
    await r.bystander.check();
  });
});
