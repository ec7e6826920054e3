/** The README's library example is run as written, so it cannot rot. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withTimeout } from '../helpers/net.js';
import { spawnNode } from '../helpers/cli.js';

describe('README', () => {
  it('the library example runs as written and prints what went through the tunnel', { timeout: 30_000 }, async (t) => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Library'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    assert.ok(code, 'a js block under "## Library"');
    // Inside the package (dist-test/ is git-ignored), so `import ... from 'c8y-tunnel'` resolves to this package.
    const file = fileURLToPath(new URL('./readme-example.mjs', import.meta.url));
    writeFileSync(file, code);
    const p = spawnNode(file, []);
    t.after(() => p.child.kill('SIGKILL'));
    assert.equal(await withTimeout(p.exited, 20_000, 'example exit'), 0, p.stderr());
    assert.equal(p.stdout(), 'hello\n');
  });
});
