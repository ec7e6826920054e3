import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicy } from '#internal/agent/policy';
import { proxyFor } from '#internal/agent/no-proxy';

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

describe('NO_PROXY', () => {
  const P = 'http://proxy:3128';
  it('uses the proxy unless the host is exempt', () => {
    assert.equal(proxyFor('wss://t1.example.com/x', P, ''), P);
    assert.equal(proxyFor('wss://t1.example.com/x', P, '*'), undefined);
    assert.equal(proxyFor('wss://t1.example.com/x', P, 'example.com'), undefined);
    assert.equal(proxyFor('wss://t1.example.com/x', P, '.example.com'), undefined);
    assert.equal(proxyFor('wss://t1.example.com/x', P, 'other.com, localhost'), P);
    assert.equal(proxyFor('wss://badexample.com/x', P, 'example.com'), P);
    assert.equal(proxyFor('ws://127.0.0.1:8080/x', P, '127.0.0.1'), undefined);
    assert.equal(proxyFor('ws://127.0.0.1:8080/x', P, '127.0.0.1:9090'), P);
    assert.equal(proxyFor('ws://127.0.0.1:8080/x', P, '127.0.0.1:8080'), undefined);
    assert.equal(proxyFor('wss://t1.example.com/x', undefined, ''), undefined);
  });
});
