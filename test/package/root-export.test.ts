import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expectedMaskKind } from '../helpers/mask.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('package', () => {
  it('a program that depends on c8y-tunnel imports its API from the package root', { timeout: 20_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'c8y-tunnel-consumer-'));
    try {
      mkdirSync(join(dir, 'node_modules'));
      symlinkSync(root, join(dir, 'node_modules', 'c8y-tunnel'), 'dir');
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', dependencies: { 'c8y-tunnel': '*' } }));
      writeFileSync(
        join(dir, 'main.js'),
        `import { createEngine, TunnelError, ERROR_CODES, maskKind } from 'c8y-tunnel';
         const e = createEngine({ threads: 0 });
         console.log(JSON.stringify({ engine: typeof e.open, err: typeof TunnelError, codes: Object.keys(ERROR_CODES).length > 10, bufferutil: e.bufferutil, mask: maskKind() }));
         await e.close();`,
      );
      const out = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['main.js'], { cwd: dir }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
      );
      assert.deepEqual(JSON.parse(out), { engine: 'function', err: 'function', codes: true, bufferutil: expectedMaskKind() === 'native', mask: expectedMaskKind() });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
