// npm's `prepare` (a clone's `npm ci`, `npm pack`, git and folder installs): builds dist/ from the
// TypeScript sources, from scratch so that no stale file ships. An unpacked tarball has dist/ and no
// src/: nothing to do there.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (existsSync(join(root, 'src', 'index.ts'))) {
  let tsc;
  try {
    tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write(`c8y-tunnel: building dist/ needs the dev dependencies: run \`npm ci\` in ${root} first\n`);
    process.exit(1);
  }
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  execFileSync(process.execPath, [join(root, 'scripts', 'copy-assets.js')], { stdio: 'inherit' });
}
