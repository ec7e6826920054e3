import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { maskInto, maskJs, maskKind, unmaskInPlace } from '#internal/engine/mask-kernel';

type MaskFn = (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;

const req = createRequire(import.meta.url);
const nativeMask = (req('bufferutil') as { mask: MaskFn }).mask;

function reference(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void {
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
}

/** Runs `code` (an ES module body) in a child Node with `env`, returns its stdout. */
function child(code: string, env: Record<string, string | undefined>, preload?: string): string {
  const args = preload ? ['--require', preload] : [];
  return execFileSync(process.execPath, [...args, '--input-type=module', '-e', code], {
    env: { ...process.env, C8Y_TUNNEL_MASK: undefined, WS_NO_BUFFER_UTIL: undefined, ...env },
    encoding: 'utf8',
    cwd: new URL('../../..', import.meta.url).pathname,
  }).trim();
}

const kindOf = (env: Record<string, string | undefined>, preload?: string): string =>
  child(`import { maskKind } from '#internal/engine/mask-kernel'; console.log(maskKind());`, env, preload);

describe('mask kernel', () => {
  const kernels: Array<[string, MaskFn]> = [
    ['js', maskJs],
    ['native', nativeMask],
    ['selected', maskInto],
  ];
  const node = (http as unknown as { websocketMask?: MaskFn }).websocketMask;
  if (node) kernels.push(['node', node]);

  for (const [name, fn] of kernels) {
    it(`${name}: equals a bytewise loop over random lengths, offsets and alignments`, { timeout: 30_000 }, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 70_000 }),
          fc.integer({ min: 0, max: 7 }),
          fc.integer({ min: 0, max: 17 }),
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          (length, srcShift, offset, key) => {
            const mask = Buffer.from(key);
            const backing = randomBytes(length + srcShift + 8);
            const source = backing.subarray(srcShift, srcShift + length);
            const want = Buffer.alloc(offset + length + 3, 0xaa);
            const got = Buffer.from(want);
            reference(source, mask, want, offset, length);
            fn(source, mask, got, offset, length);
            assert.ok(got.equals(want), `length ${length} shift ${srcShift} offset ${offset}`);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it('masks in place and unmasks back (the same XOR)', () => {
    for (const n of [0, 1, 3, 4, 31, 32, 33, 1024, 65_536, 65_539]) {
      const orig = randomBytes(n + 1).subarray(1); // odd byteOffset
      const mask = randomBytes(4);
      const b = Buffer.from(orig);
      maskInto(b, mask, b, 0, n);
      const want = Buffer.alloc(n);
      reference(orig, mask, want, 0, n);
      assert.ok(b.equals(want), `in place, ${n}`);
      unmaskInPlace(b, mask);
      assert.ok(b.equals(orig), `round trip, ${n}`);
    }
  });

  it('selects node > native > js, and C8Y_TUNNEL_MASK / WS_NO_BUFFER_UTIL force it', { timeout: 30_000 }, () => {
    const best = node ? 'node' : 'native';
    assert.equal(maskKind(), process.env.C8Y_TUNNEL_MASK === 'js' ? 'js' : best);
    assert.equal(kindOf({}), best);
    assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'auto' }), best);
    assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'native' }), 'native');
    assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'js' }), 'js');
    assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'native', WS_NO_BUFFER_UTIL: '1' }), 'js');
  });

  it('works when bufferutil cannot be required, and never takes its JS fallback for the addon', { timeout: 30_000 }, () => {
    const dir = new URL('../../../dist-test/test/engine/', import.meta.url).pathname;
    const hook = (body: string): string => {
      const f = `${dir}mask-preload-${process.pid}-${Math.random().toString(36).slice(2)}.cjs`;
      req('node:fs').writeFileSync(
        f,
        `const M = require('node:module'); const load = M._load; M._load = function (r, ...a) { if (r === 'bufferutil') { ${body} } return load.call(this, r, ...a); };`,
      );
      return f;
    };
    const missing = hook(`const e = new Error("Cannot find module 'bufferutil'"); e.code = 'MODULE_NOT_FOUND'; throw e;`);
    const fallback = hook(`return load.call(this, 'bufferutil/fallback.js', ...a);`);
    try {
      assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'native' }, missing), 'js');
      assert.equal(kindOf({ C8Y_TUNNEL_MASK: 'native' }, fallback), 'js');
      const out = child(
        `import { maskInto } from '#internal/engine/mask-kernel'; const b = Buffer.from('abcdefgh'); maskInto(b, Buffer.from([1,2,3,4]), b, 0, 8); console.log(b.toString('hex'));`,
        { C8Y_TUNNEL_MASK: 'native' },
        missing,
      );
      assert.equal(out, '606060606464646c');
    } finally {
      req('node:fs').rmSync(missing);
      req('node:fs').rmSync(fallback);
    }
  });
});
