import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { JwtCache, jwtTimes } from '#internal/agent/jwt';
import { waitFor, withTimeout } from '../helpers/net.js';
import { createLogger, redactKey, redactUrl, scrub } from '#internal/agent/log';

function jwt(claims: Record<string, unknown>): string {
  const b = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b({ alg: 'HS256' })}.${b(claims)}.sig`;
}

describe('jwt cache', () => {
  it('reads iat and exp, tolerating junk', () => {
    assert.deepEqual(jwtTimes(jwt({ iat: 10, exp: 20 })), { iat: 10, exp: 20 });
    assert.deepEqual(jwtTimes('nope'), {});
    assert.deepEqual(jwtTimes('a.%%%.c'), {});
  });

  it('caches the token and renews it in the background after half its lifetime', async () => {
    let now = 1_000_000;
    let n = 0;
    // Every fetch after the first stays unanswered until the test answers it: a caller that waited for
    // the renewal would hang here.
    const held: Array<() => void> = [];
    const cache = new JwtCache(async () => {
      const token = jwt({ iat: now / 1000, exp: now / 1000 + 100, n: ++n });
      if (n > 1) await new Promise<void>((r) => held.push(r));
      return token;
    }, () => now);
    assert.equal(cache.peek(), undefined);
    const t1 = await cache.get();
    assert.equal(cache.peek(), t1);
    now += 49_000;
    assert.equal(cache.peek(), t1);
    assert.equal(n, 1);
    now += 2_000; // past half-life: still served, renewal starts
    assert.equal(await withTimeout(cache.get(), 1000, 'the cached token while a renewal is pending'), t1);
    assert.equal(cache.peek(), t1);
    assert.equal(n, 2, 'one renewal started');
    assert.equal(held.length, 1, 'and it is still pending');
    held.shift()!();
    await waitFor(() => cache.fetches === 2, 1000, 'the renewal to land');
    assert.notEqual(cache.peek(), t1);
    now += 200_000; // expired
    assert.equal(cache.peek(), undefined);
  });

  it('shares one fetch among concurrent callers and reports failure as AGENT_ERR_JWT', async () => {
    let calls = 0;
    const ok = new JwtCache(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      return jwt({ iat: Date.now() / 1000, exp: Date.now() / 1000 + 3600 });
    });
    await Promise.all([ok.get(), ok.get(), ok.get()]);
    assert.equal(calls, 1);
    const bad = new JwtCache(async () => {
      throw new Error('boom');
    });
    await assert.rejects(bad.get(), { code: 'AGENT_ERR_JWT' });
  });
});

describe('redaction', () => {
  const KEY = 'eb5e9d13-1caa-486b-bdda-130ca0d87df8';
  it('shows a key as its first 4 characters', () => {
    assert.equal(redactKey(KEY), 'eb5e…');
    assert.equal(scrub(`url /device/${KEY} failed`, [{ value: KEY, kind: 'key' }]), 'url /device/eb5e… failed');
    assert.equal(scrub('pw=hunter22', [{ value: 'hunter22', kind: 'secret' }]), 'pw=[redacted]');
    assert.equal(redactUrl('http://u:secretpw@proxy:3128/'), 'http://u:***@proxy:3128/');
  });

  it('keeps passwords, tokens and keys out of JSON log lines', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ level: 'info', format: 'json', destination: sink as never });
    log.info({ password: 'hunter22', jwt: 'eyJ.secret.sig', connectionKey: KEY, headers: { Authorization: 'Basic abc' }, cfg: { password: 'x1234' } }, 'hello');
    const text = lines.join('');
    assert.ok(text.includes('hello'));
    for (const s of ['hunter22', 'eyJ.secret.sig', KEY, 'Basic abc', 'x1234']) assert.ok(!text.includes(s), `${s} leaked`);
    assert.ok(text.includes('eb5e…'));
  });
});
