/**
 * The package as a program that depends on it sees it: through `node_modules/c8y-tunnel` (a link to this
 * checkout), with only the export map's entries (`.`, `./sim`, `./connect`) reachable, and the root
 * loading the engine without the agent's, the emulator's or the metrics' dependencies.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expectedMaskKind } from '../helpers/mask.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A resolve hook, registered with `--import`, that appends every module URL the program loads to a file. */
const HOOKS = `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, r.url + '\\n');
  return r;
}`;
const REGISTER = `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { log: process.env.MODULE_LOG } });`;

/** The packages whose files the program loaded (from node_modules, by name). */
function packagesIn(urls: string[]): Set<string> {
  const names = urls.map((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter((n): n is string => n !== undefined);
  return new Set(names);
}

describe('package', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'c8y-tunnel-consumer-'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'c8y-tunnel'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', dependencies: { 'c8y-tunnel': '*' } }));
    writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
    writeFileSync(join(dir, 'register.mjs'), REGISTER);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `code` as the consumer's main.js; returns its stdout and the module URLs it loaded. */
  async function consumer(name: string, code: string): Promise<{ stdout: string; urls: string[] }> {
    writeFileSync(join(dir, `${name}.js`), code);
    const log = join(dir, `${name}.modules`);
    writeFileSync(log, '');
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', './register.mjs', `${name}.js`], { cwd: dir, env: { ...process.env, MODULE_LOG: log } }, (err, out, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
      ),
    );
    return { stdout, urls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
  }

  it('a program imports the engine from the package root; it loads no MQTT, broker, logger, metrics or HTTP client package', { timeout: 20_000 }, async (t) => {
    const { stdout, urls } = await consumer(
      'engine',
      `const t0 = performance.now();
       const { createEngine, TunnelError, ERROR_CODES, maskKind } = await import('c8y-tunnel');
       const ms = performance.now() - t0;
       const e = createEngine({ threads: 0 });
       console.log(JSON.stringify({ engine: typeof e.open, crashWorker: 'crashWorker' in e, err: typeof TunnelError, codes: Object.keys(ERROR_CODES).length > 10, bufferutil: e.bufferutil, mask: maskKind(), ms }));
       await e.close();`,
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    t.diagnostic(`import('c8y-tunnel'): ${Number(out.ms).toFixed(0)} ms`);
    delete out.ms;
    assert.deepEqual(out, { engine: 'function', crashWorker: false, err: 'function', codes: true, bufferutil: expectedMaskKind() === 'native', mask: expectedMaskKind() });
    assert.ok(urls.some((u) => u.includes('/dist/engine/engine.js')), 'the hook saw the engine load');
    const loaded = packagesIn(urls);
    for (const heavy of ['aedes', 'mqtt', 'pino', 'pino-pretty', 'prom-client', 'ws', 'undici']) assert.ok(!loaded.has(heavy), `${heavy} not loaded (loaded: ${[...loaded].join(', ')})`);
  });

  it('the agent loads its transport and logger when it runs (here: stop() before start()), and the emulator its broker', { timeout: 20_000 }, async () => {
    const agent = await consumer(
      'agent',
      `import { createAgent } from 'c8y-tunnel';
       const a = createAgent({ host: 'http://127.0.0.1:1', tenant: 't1', user: 'device_x', password: 'pw', deviceId: 'x', logLevel: 'silent' });
       await a.stop();`,
    );
    const byAgent = packagesIn(agent.urls);
    for (const pkg of ['mqtt', 'pino']) assert.ok(byAgent.has(pkg), `the agent loaded ${pkg}`);
    assert.ok(!byAgent.has('prom-client'), 'no metrics package without a metrics port');
    const sim = await consumer('sim', `import { startSim } from 'c8y-tunnel/sim'; console.log(typeof startSim);`);
    assert.equal(sim.stdout, 'function\n');
    assert.ok(packagesIn(sim.urls).has('aedes'), 'the emulator loaded aedes');
  });

  it('the export map publishes the root, ./sim and ./connect; internals are not reachable from outside', { timeout: 20_000 }, async () => {
    const { stdout } = await consumer(
      'exports',
      `const tryImport = (s) => import(s).then((m) => Object.keys(m).length > 0, (e) => e.code);
       console.log(JSON.stringify({
         connect: await import('c8y-tunnel/connect').then((m) => typeof m.connectListen),
         root: await import('c8y-tunnel').then((m) => ['startSim', 'connectListen', 'smartrest'].filter((k) => k in m)),
         oldInternal: await tryImport('c8y-tunnel/internal/engine/engine'),
         dist: await tryImport('c8y-tunnel/dist/engine/engine.js'),
         hash: await tryImport('#internal/engine/engine'),
       }));`,
    );
    assert.deepEqual(JSON.parse(stdout), {
      connect: 'function',
      root: [],
      oldInternal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      dist: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      hash: 'ERR_PACKAGE_IMPORT_NOT_DEFINED',
    });
  });
});
