import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDownstream, parseOperationJson } from '#internal/cumulocity/inbound';
import { statusLine } from '#internal/cumulocity/templates';
import { backoffDelay } from '#internal/agent/transport';

const KEY = 'eb5e9d13-1caa-486b-bdda-130ca0d87df8';
const serials = new Set(['dev1', 'child1']);

describe('inbound operations', () => {
  it('takes 530 lines for the own serial and configured children, several per publish', () => {
    const r = parseDownstream(`530,dev1,127.0.0.1,22,${KEY}\n530,child1,"10.0.0.5",5900,k2\r\n530,other,1.2.3.4,22,k3\n510,dev1\n`, serials);
    assert.deepEqual(r.requests, [
      { serial: 'dev1', host: '127.0.0.1', port: 22, key: KEY, via: '530' },
      { serial: 'child1', host: '10.0.0.5', port: 5900, key: 'k2', via: '530' },
    ]);
    assert.equal(r.ignored, 2);
    assert.equal(r.errors.length, 0);
  });

  it('accepts both escape styles in quoted fields', () => {
    const a = parseDownstream('530,"dev1","host\\"x",22,k\n', serials);
    const b = parseDownstream('530,"dev1","host""x",22,k\n', serials);
    assert.equal(a.requests[0]?.host, 'host"x');
    assert.deepEqual(a, b);
    const c = parseDownstream('530,"dev1","my-host",22,"k"\n', serials);
    assert.equal(c.requests[0]?.host, 'my-host');
  });

  it('reports malformed 530 lines as coded errors without the line, never throws', () => {
    const r = parseDownstream(`530,dev1,127.0.0.1,99999,${KEY}\n530,dev1,h,22\n530,child1,h,22,../../x\n530,other,h,0,k\n530,"dev1",h"x,22,k\n`, serials);
    assert.equal(r.requests.length, 0);
    assert.deepEqual(
      r.errors.map((e) => `${e.serial} ${e.error.code}`),
      ['dev1 SR_ERR_FIELD', 'dev1 SR_ERR_FIELDS', 'child1 SR_ERR_FIELD', 'dev1 SR_ERR_QUOTE'],
    );
    assert.equal(r.ignored, 1);
    for (const e of r.errors) assert.ok(!e.error.message.includes(KEY));
    assert.doesNotThrow(() => parseDownstream('\u0000\u0001,,,"', serials));
  });

  it('turns a JSON notification into a request with its id', () => {
    const op = {
      id: '123',
      status: 'PENDING',
      deviceId: '9',
      externalSource: { externalId: 'child1', type: 'c8y_Serial' },
      c8y_RemoteAccessConnect: { hostname: '127.0.0.1', port: 22, connectionKey: KEY },
    };
    assert.deepEqual(parseOperationJson(op, serials, 'dev1', 'json'), { request: { serial: 'child1', host: '127.0.0.1', port: 22, key: KEY, via: 'json', id: '123' } });
    assert.deepEqual(parseOperationJson({ ...op, externalSource: undefined }, serials, 'dev1', 'json'), {
      request: { serial: 'dev1', host: '127.0.0.1', port: 22, key: KEY, via: 'json', id: '123' },
    });
    assert.deepEqual(parseOperationJson({ id: '5', c8y_Restart: {} }, serials, 'dev1', 'json'), { ignored: true });
    assert.deepEqual(parseOperationJson({ ...op, status: 'EXECUTING' }, serials, 'dev1', 'json'), { ignored: true });
    assert.deepEqual(parseOperationJson({ ...op, externalSource: { externalId: 'x' } }, serials, 'dev1', 'json'), { ignored: true });
    const bad = parseOperationJson({ ...op, c8y_RemoteAccessConnect: { hostname: 'h', port: 'x', connectionKey: KEY } }, serials, 'dev1', 'json');
    assert.ok('error' in bad && bad.id === '123' && bad.error.code === 'SR_ERR_FIELD');
  });

  it('takes a numeric id only when it is a safe non-negative integer (never 504,1e+21)', () => {
    const op = { status: 'PENDING', c8y_RemoteAccessConnect: { hostname: '127.0.0.1', port: 22, connectionKey: KEY } };
    const idOf = (id: unknown): string | undefined => {
      const r = parseOperationJson({ ...op, id }, serials, 'dev1', 'json');
      return 'request' in r ? r.request.id : 'bad';
    };
    assert.equal(idOf(42), '42');
    for (const bad of [1e21, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity]) assert.equal(idOf(bad), undefined, String(bad));
  });
});

describe('status lines', () => {
  it('reports by id when known, else by fragment name', () => {
    assert.equal(statusLine({ id: '42' }, 'EXECUTING'), '504,42');
    assert.equal(statusLine({ id: '42' }, 'SUCCESSFUL'), '506,42');
    assert.equal(statusLine({ id: '42' }, 'FAILED', 'target 127.0.0.1:22 refused connection (ECONNREFUSED)'), '505,42,"target 127.0.0.1:22 refused connection (ECONNREFUSED)"');
    assert.equal(statusLine({}, 'EXECUTING'), '501,c8y_RemoteAccessConnect');
    assert.equal(statusLine({}, 'SUCCESSFUL'), '503,c8y_RemoteAccessConnect');
    assert.equal(statusLine({}, 'FAILED', 'say "no", twice'), '502,c8y_RemoteAccessConnect,"say \\"no\\", twice"');
  });

  it('backs off exponentially with jitter, capped', () => {
    assert.equal(backoffDelay(0, 1000, 30000, () => 1), 1000);
    assert.equal(backoffDelay(0, 1000, 30000, () => 0), 500);
    assert.equal(backoffDelay(3, 1000, 30000, () => 1), 8000);
    assert.equal(backoffDelay(10, 1000, 30000, () => 1), 30000);
    assert.equal(backoffDelay(100, 1000, 30000, () => 0.5), 22500);
  });
});
