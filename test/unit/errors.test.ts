import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { C8yTunnelError, TunnelError, ERROR_CODES } from 'c8y-tunnel';

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes src/errors.ts defines', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z]+_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    const defined = new Set(Object.keys(ERROR_CODES));
    assert.deepEqual([...defined].filter((c) => !documented.has(c)), [], 'codes missing from docs/errors.md');
    assert.deepEqual([...documented].filter((c) => !defined.has(c as string)), [], 'documented codes that do not exist');
  });

  it('survives a round trip as plain data across a thread boundary', () => {
    const e = new TunnelError('TUN_ERR_WS_HTTP_STATUS', 'cloud refused WebSocket: HTTP 404', { status: 404 });
    const back = C8yTunnelError.fromWire(structuredClone(e.toWire()));
    assert.equal(back.code, 'TUN_ERR_WS_HTTP_STATUS');
    assert.equal(back.status, 404);
    assert.ok(back instanceof C8yTunnelError);
  });
});
