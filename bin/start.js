#!/usr/bin/env node
// `npm start`: builds dist/ when it is missing or older than src/, then runs the demo (emulator + agent +
// echo service on this machine), or the agent alone when C8Y_HOST names a real tenant.
// Extra arguments are passed on: `npm start -- --http-port 0` (without `--`, npm keeps them: see below).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'dist', 'cli', 'main.js');

/** Newest modification time under dir (files only), in ms. */
function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

function needsBuild() {
  if (!existsSync(marker)) return 'dist/ is missing';
  const built = statSync(marker).mtimeMs;
  const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs);
  return sources > built ? 'src/ is newer than dist/' : '';
}

// C8Y_TUNNEL_SKIP_BUILD=1: trust dist/ as it is (tests, packaged installs without src/).
const why = process.env.C8Y_TUNNEL_SKIP_BUILD === '1' || !existsSync(join(root, 'src')) ? '' : needsBuild();
if (why) {
  process.stderr.write(`c8y-tunnel: ${why}; building (npm run build)...\n`);
  // Under `npm start`, npm_execpath is npm's own CLI script; run it with this node.
  const npmCli = process.env.npm_execpath;
  const r = npmCli && /\.c?js$/.test(npmCli)
    ? spawnSync(process.execPath, [npmCli, 'run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] })
    : spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write(`c8y-tunnel: the build failed (${r.error ? r.error.message : `exit ${r.status}`}); run npm ci, then npm run build\n`);
    process.exit(1);
  }
}

const command = process.env.C8Y_HOST ? 'agent' : 'demo';
// `npm start --http-port 0` (no `--`): npm keeps the flag for itself (npm_config_http_port) and passes only
// the value on, so the demo would run on its default port. Say how to pass it instead.
if (command === 'demo' && process.env.npm_lifecycle_event) {
  const { VALUE_FLAGS } = await import(pathToFileURL(join(root, 'dist', 'cli', 'demo', 'index.js')).href);
  const taken = VALUE_FLAGS.filter((f) => process.env[`npm_config_${f.replace(/-/g, '_')}`] !== undefined);
  if (taken.length > 0) {
    const flags = taken.map((f) => `--${f}`).join(', ');
    const example = taken.map((f) => `--${f} <value>`).join(' ');
    process.stderr.write(`c8y-tunnel: npm took ${flags} for itself: npm passes a script only the flags after --.\nRun: npm start -- ${example}\n`);
    process.exit(2);
  }
}
if (command === 'agent') {
  // go-c8y-cli users often have C8Y_HOST set for their own user: say which mode this is, and how to leave it.
  process.stderr.write(`c8y-tunnel: C8Y_HOST is set, so npm start runs the agent against ${process.env.C8Y_HOST} (unset C8Y_HOST for the local demo)\n`);
}
const { main } = await import(pathToFileURL(marker).href);
try {
  process.exitCode = await main([command, ...process.argv.slice(2)]);
} catch (err) {
  process.stderr.write(`c8y-tunnel: ${err && err.code ? err.code + ': ' : ''}${err && err.message ? err.message : err}\n`);
  process.exitCode = 1;
}
