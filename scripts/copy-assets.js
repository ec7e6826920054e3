// Part of the build: copies the emulator console's page files (plain ES modules, CSS, HTML; no bundler)
// next to the compiled emulator, so that dist/ and the package carry them.
import { cpSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
cpSync(join(root, 'src/sim/console/assets'), join(root, 'dist/sim/console/assets'), { recursive: true });
