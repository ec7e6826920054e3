/**
 * The package as a user gets it: `npm pack` of this checkout, installed into a scratch project outside
 * the clone (and globally into a scratch prefix), then the installed command and the README's library
 * example run from there. Installs are `--prefer-offline` (the npm cache of this machine's `npm ci`),
 * with short fetch timeouts, so that they cannot hang on a network.
 *
 * The pack here skips `prepare` (dist/ is what `npm test` just built); that `prepare` builds dist/ from a
 * clean clone, and the git and folder installs, are exercised by `.ci/run` on a fresh clone.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--fetch-timeout=20000', '--fetch-retries=1'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command with cwd `cwd` (never the clone), without a shell. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: err && !stderr ? String(err.message) : stderr, ms: Date.now() - t0 });
    });
  });
}

function ok(r: Run, what: string): Run {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  return r;
}

/** Relative links (`[x](path)`, no scheme, no bare anchor) of a Markdown file. */
function relativeLinks(md: string): string[] {
  return [...md.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!.split('#')[0]!).filter((l) => l !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(l));
}

describe('package: npm pack, installed elsewhere', () => {
  let dir = '';
  let tarball = '';
  let files: string[] = [];
  const timings: Record<string, number> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'c8y-tunnel-install-'));
    const r = ok(await run('npm', ['pack', root, '--ignore-scripts', '--json', '--pack-destination', dir], dir, 60_000), 'npm pack');
    timings.pack = r.ms;
    const info = (JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0]!;
    tarball = join(dir, info.filename);
    files = info.files.map((f) => f.path);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`# install timings (ms): ${JSON.stringify(timings)}\n`);
  });

  it('the tarball holds dist/, the command, README and LICENSE, and no tests, sources or source maps', () => {
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/engine/worker.js', 'dist/engine/worker-entry.cjs', 'bin/c8y-tunnel.js', 'LICENSE', 'README.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    const stray = files.filter((f) => /^(src|test|dist-test|scratch)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(stray, []);
    assert.match(readFileSync(join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
  });

  it('every relative link in the shipped Markdown points at a file the tarball ships', () => {
    const broken: string[] = [];
    for (const f of files.filter((p) => p.endsWith('.md'))) {
      for (const link of relativeLinks(readFileSync(join(root, f), 'utf8'))) {
        const target = normalize(join(dirname(f), decodeURIComponent(link)));
        if (!files.includes(target)) broken.push(`${f} -> ${link}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('installed into a project: `npx c8y-tunnel --help` and the README library example run from there', { timeout: 120_000 }, async () => {
    const proj = join(dir, 'project');
    mkdirSync(proj);
    writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    timings.install = ok(await run('npm', ['install', ...NPM_FLAGS, tarball], proj, 90_000), 'npm install <tarball>').ms;
    const installed = join(proj, 'node_modules', 'c8y-tunnel');
    assert.ok(existsSync(join(installed, 'dist', 'index.js')), 'dist/ installed');
    // --no-install: if the local command were missing, fail here instead of asking the registry.
    const help = ok(await run('npx', ['--no-install', 'c8y-tunnel', '--help'], proj, 30_000), 'npx c8y-tunnel --help');
    timings.npxHelp = help.ms;
    assert.match(help.stdout, /Usage: c8y-tunnel <command>/);
    const readme = readFileSync(join(installed, 'README.md'), 'utf8');
    const code = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Library')))?.[1];
    assert.ok(code, 'a js block under "## Library" in the installed README');
    writeFileSync(join(proj, 'example.js'), code);
    const ex = ok(await run(process.execPath, ['example.js'], proj, 30_000), 'the README example');
    timings.example = ex.ms;
    assert.equal(ex.stdout, 'hello\n');
  });

  it('installed globally (npm install -g --prefix): a `c8y-tunnel` command', { timeout: 120_000 }, async () => {
    const prefix = join(dir, 'global');
    timings.installGlobal = ok(await run('npm', ['install', '-g', '--prefix', prefix, ...NPM_FLAGS, tarball], dir, 90_000), 'npm install -g').ms;
    const bin = join(prefix, 'bin', 'c8y-tunnel');
    assert.ok(existsSync(bin), `${bin} exists`);
    const help = ok(await run(bin, ['connect', '--help'], dir, 30_000), 'c8y-tunnel connect --help');
    assert.match(help.stdout, /--stdio/);
  });
});
