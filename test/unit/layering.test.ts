/**
 * The folders of src/ are layers: each may import from itself and the ones its row names. Read from the
 * TypeScript sources (static imports, re-exports, dynamic `import()` and `new URL(…, import.meta.url)`),
 * so a rule broken by any kind of reference fails here, with the file and the import named.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/** `(root)` is the files directly in src/ (errors, constants, node-line); `index.ts` there is the package root. */
const ALLOWED: Record<string, readonly string[]> = {
  '(root)': [],
  // What every network client of the package shares: the JSON HTTP client, the proxy, TLS verification errors.
  net: ['(root)'],
  engine: ['(root)', 'net'],
  cumulocity: ['(root)'],
  agent: ['(root)', 'net', 'engine', 'cumulocity'],
  // The user's side of a session: a client library, so no agent, no emulator, no CLI.
  connect: ['(root)', 'net', 'engine', 'cumulocity'],
  sim: ['(root)', 'cumulocity'],
  cli: ['(root)', 'net', 'engine', 'cumulocity', 'agent', 'connect', 'sim'],
};
/** The package root re-exports the public API of every library folder, never a CLI. */
const PACKAGE_ROOT_ALLOWED = ['(root)', 'engine', 'cumulocity', 'agent', 'connect', 'sim'];

const REFERENCE = /(?:\bfrom\s*|\bimport\s*\(\s*|\bnew URL\(\s*)'(\.{1,2}\/[^']+)'/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'assets' ? [] : sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function areaOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length === 1 ? '(root)' : parts[0]!;
}

/** Every reference in `text` (a file at `file`) that its area may not make. */
export function violations(file: string, text: string): string[] {
  const from = areaOf(file);
  const rel = relative(SRC, file);
  const allowed = rel === 'index.ts' ? PACKAGE_ROOT_ALLOWED : ALLOWED[from];
  if (!allowed) return [`${rel}: src/${from} has no row in the layering table`];
  const out: string[] = [];
  for (const m of text.matchAll(REFERENCE)) {
    const target = normalize(join(dirname(file), m[1]!));
    if (relative(SRC, target).startsWith('..')) continue; // package.json, bin/: outside the layers
    const to = areaOf(target);
    if (to !== from && !allowed.includes(to)) out.push(`${rel} imports ${m[1]} (src/${from} may not use src/${to})`);
  }
  return out;
}

describe('layering of src/', () => {
  it('every folder imports only from the layers below it (src/connect nothing from src/sim)', () => {
    const files = sources(SRC);
    assert.ok(files.length > 50, `read ${files.length} source files`);
    assert.deepEqual(
      files.flatMap((f) => violations(f, readFileSync(f, 'utf8'))),
      [],
    );
  });

  it('catches a forbidden import of each kind', () => {
    const file = join(SRC, 'connect', 'x.ts');
    assert.deepEqual(violations(file, `import type { Sim } from '../sim/index.js';\nconst m = await import('../agent/index.js');\nnew URL('../cli/main.js', import.meta.url);`), [
      'connect/x.ts imports ../sim/index.js (src/connect may not use src/sim)',
      'connect/x.ts imports ../agent/index.js (src/connect may not use src/agent)',
      'connect/x.ts imports ../cli/main.js (src/connect may not use src/cli)',
    ]);
    assert.deepEqual(violations(file, `import { TunnelError } from '../errors.js';\nexport { runSession } from './session.js';`), []);
    assert.deepEqual(violations(join(SRC, 'plugins', 'y.ts'), ''), ['plugins/y.ts: src/plugins has no row in the layering table']);
  });
});
