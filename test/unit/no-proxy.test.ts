import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyFor } from '#internal/net/proxy';

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
