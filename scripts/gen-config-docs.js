// Writes the settings table of docs/configuration.md from the agent's settings table (src/agent/settings.ts,
// built to dist/): run `npm run build && node scripts/gen-config-docs.js` after adding or changing a setting.
// With --check it only says whether the doc is current (exit 1 if not); test/agent/config.test.ts checks too.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { settingsDocsTable } = await import(pathToFileURL(join(root, 'dist/agent/settings.js')).href);
const file = join(root, 'docs/configuration.md');
const doc = readFileSync(file, 'utf8');
const re = /(<!-- settings-table:start -->\n)[\s\S]*?(\n<!-- settings-table:end -->)/;
if (!re.test(doc)) {
  process.stderr.write('docs/configuration.md has no <!-- settings-table:start --> ... <!-- settings-table:end --> markers\n');
  process.exit(1);
}
const next = doc.replace(re, (_m, start, end) => `${start}${settingsDocsTable()}${end}`);
if (process.argv.includes('--check')) {
  if (next !== doc) process.stderr.write('docs/configuration.md: the settings table is out of date; run node scripts/gen-config-docs.js\n');
  process.exit(next === doc ? 0 : 1);
}
if (next !== doc) writeFileSync(file, next);
process.stdout.write(next === doc ? 'docs/configuration.md: settings table already current\n' : 'docs/configuration.md: settings table written\n');
