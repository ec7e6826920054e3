#!/usr/bin/env node
// `npm run package`: self-contained bundles (their own Node binary, dist/, production node_modules without
// native addons, a bin/c8y-tunnel launcher) as .tar.gz, and Debian packages of them, for linux-x64 and
// linux-arm64, into dist-pkg/. The Node binaries come from the npm registry's node-linux-<arch> packages
// (cached in dist-pkg/cache/); production modules come from `npm ci`; nothing else is downloaded.
//
//   node scripts/package.js [--arch x64,arm64] [--node 24] [--out dist-pkg] [--no-deb] [--skip-build] [--fast]
//
// Why a directory and not a single executable: see docs/deployment.md ("Packages, binary, container").
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
/** Our arch names, Debian's, and the ELF e_machine value a binary for it carries. */
const ARCHES = {
  x64: { deb: 'amd64', elfMachine: 0x3e },
  arm64: { deb: 'arm64', elfMachine: 0xb7 },
};
/** Native addons the product runs without (ws falls back to its JavaScript mask); any other one is an error. */
const OPTIONAL_NATIVE = new Set(['bufferutil']);

const HELP = `Usage: npm run package -- [options]

Builds dist-pkg/c8y-tunnel-<version>-linux-<arch>.tar.gz and dist-pkg/c8y-tunnel_<version>_<debarch>.deb.

  --arch <list>      x64, arm64 or both (default x64,arm64)
  --node <major>     Node major version from the npm registry's node-linux-<arch> packages (default 24)
  --out <dir>        output directory (default dist-pkg)
  --cache <dir>      where the Node tarballs are kept between runs (default dist-pkg/cache)
  --no-deb           tarballs only
  --skip-build       use dist/ as it is (default: npm run build first)
  --fast             light gzip for the tarball and the .deb (tests; the default .deb is xz, slower)
  -h, --help         this text
`;

function say(line) {
  process.stdout.write(`package: ${line}\n`);
}

function fail(line) {
  process.stderr.write(`package: ${line}\n`);
  process.exit(1);
}

/** Runs a command; its output goes to our stderr; a failure ends the script with a clear line. */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', opts.capture ? 'pipe' : 2, 2], encoding: 'utf8', ...opts });
  if (r.error) fail(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed with exit code ${r.status}`);
  return r.stdout ?? '';
}

/** npm's own CLI run by this node when we are under npm, else `npm` from the PATH. */
function npm(args, opts) {
  const cli = process.env.npm_execpath;
  return cli && /\.c?js$/.test(cli) ? run(process.execPath, [cli, ...args], opts) : run('npm', args, opts);
}

function duKiB(dir) {
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += statSync(p).size;
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Every file under dir, as paths relative to it. */
function files(dir, base = dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p, base));
    else out.push(relative(base, p));
  }
  return out;
}

/** The cached node-linux-<arch>-<major>.x.y.tgz with the highest version, or one fetched with npm pack. */
function nodeTarball(arch, major, cache) {
  mkdirSync(cache, { recursive: true });
  const re = new RegExp(`^node-linux-${arch}-(${major})\\.(\\d+)\\.(\\d+)\\.tgz$`);
  const cached = () =>
    readdirSync(cache)
      .map((f) => ({ f, m: re.exec(f) }))
      .filter((x) => x.m)
      .sort((a, b) => Number(b.m[2]) - Number(a.m[2]) || Number(b.m[3]) - Number(a.m[3]))[0];
  let hit = cached();
  if (hit) {
    say(`[${arch}] Node ${hit.f.slice(`node-linux-${arch}-`.length, -4)} (cached ${relative(ROOT, join(cache, hit.f))})`);
  } else {
    say(`[${arch}] fetching node-linux-${arch}@${major} from the npm registry (about 50 MiB)...`);
    npm(['pack', `node-linux-${arch}@${major}`, '--pack-destination', cache, '--silent'], { capture: true });
    hit = cached();
    if (!hit) fail(`npm pack node-linux-${arch}@${major} left no node-linux-${arch}-${major}.x.y.tgz in ${cache}`);
    say(`[${arch}] Node ${hit.f.slice(`node-linux-${arch}-`.length, -4)} fetched`);
  }
  return { file: join(cache, hit.f), version: hit.f.slice(`node-linux-${arch}-`.length, -4) };
}

/** Checks that an ELF file is for the given e_machine (so an x64 bundle can never carry an arm64 node). */
function checkElf(file, machine, what) {
  const head = readFileSync(file).subarray(0, 20);
  if (head.readUInt32BE(0) !== 0x7f454c46) fail(`${what} is not an ELF binary`);
  const got = head.readUInt16LE(18);
  if (got !== machine) fail(`${what} is for ELF machine 0x${got.toString(16)}, expected 0x${machine.toString(16)}`);
}

/** Production node_modules, once for every arch (no native code in it, so it is the same everywhere). */
function productionModules(work) {
  const dir = join(work, 'modules');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
  say('production node_modules: npm ci --omit=dev --omit=optional --ignore-scripts...');
  // --ignore-scripts: nothing compiles, so this works on a machine without build tools and for any arch.
  npm(['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  const nm = join(dir, 'node_modules');
  // Native addons: drop the ones the product runs without, refuse any other (it would not run on the other arch).
  const natives = new Set();
  for (const f of files(nm)) {
    if (/(^|\/)binding\.gyp$/.test(f) || /\.node$/.test(f)) {
      const parts = f.split('/');
      natives.add(parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]);
    }
  }
  for (const name of natives) {
    if (!OPTIONAL_NATIVE.has(name)) fail(`production dependency ${name} has native code; the bundle must have none`);
    rmSync(join(nm, name), { recursive: true, force: true });
    say(`production node_modules: left out the native addon ${name} (optional: ws masks in JavaScript without it)`);
  }
  // What a running agent never reads.
  for (const f of files(nm)) {
    if (/\.(d\.ts|d\.mts|d\.cts|map|markdown)$/.test(f) || /(^|node_modules\/)(@[^/]+\/)?[^/]+\/(test|tests|__tests__|\.github|benchmarks?|docs?|examples?)\//.test(f)) {
      rmSync(join(nm, f), { force: true });
    }
  }
  return nm;
}

const LAUNCHER = `#!/bin/sh
# c8y-tunnel launcher: the CLI on the Node binary shipped in this bundle (it works through a symlink,
# e.g. /usr/bin/c8y-tunnel -> /opt/c8y-tunnel/bin/c8y-tunnel).
self=$(readlink -f "$0")
here=$(dirname "$self")
# The demo prints commands that run this launcher (not npx, which would ask the registry).
export C8Y_TUNNEL_LAUNCHER="$self"
# --max-semi-space-size=16: Node 20's young-generation cap; Node 24 would let the main thread's grow to
# 128 MiB of RSS over a long run (docs/reliability.md, "Node 24: the young generation grows larger").
exec "$here/../node/bin/node" --max-semi-space-size=16 "$here/c8y-tunnel.js" "$@"
`;

/** Lays out the bundle directory for one arch. */
function stageBundle(arch, node, modules, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'node', 'bin'), { recursive: true });
  // The Node binary and its licence, straight out of the registry tarball.
  const tmp = join(dir, '.node-extract');
  mkdirSync(tmp);
  run('tar', ['-xzf', node.file, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
  copyFileSync(join(tmp, 'package', 'bin', 'node'), join(dir, 'node', 'bin', 'node'));
  copyFileSync(join(tmp, 'package', 'LICENSE'), join(dir, 'node', 'LICENSE'));
  rmSync(tmp, { recursive: true, force: true });
  chmodSync(join(dir, 'node', 'bin', 'node'), 0o755);
  checkElf(join(dir, 'node', 'bin', 'node'), ARCHES[arch].elfMachine, `node-linux-${arch}'s bin/node`);
  // The product: compiled JavaScript (no type declarations or source maps), the JS launcher, the package metadata.
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, filter: (src) => !/\.(d\.ts|map)$/.test(src) });
  copyFileSync(join(ROOT, 'bin', 'c8y-tunnel.js'), join(dir, 'bin', 'c8y-tunnel.js'));
  const pkg = { ...PKG };
  delete pkg.devDependencies;
  delete pkg.scripts;
  pkg.c8yTunnelBundle = { arch, node: node.version };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  cpSync(modules, join(dir, 'node_modules'), { recursive: true });
  for (const f of ['README.md', 'LICENSE']) if (existsSync(join(ROOT, f))) copyFileSync(join(ROOT, f), join(dir, f));
  writeFileSync(join(dir, 'bin', 'c8y-tunnel'), LAUNCHER);
  chmodSync(join(dir, 'bin', 'c8y-tunnel'), 0o755);
}

/** A reproducible tarball of dir (fixed owner, order and time). */
function tarball(dir, out, fast) {
  const mtime = `@${Math.floor(statSync(join(ROOT, 'package.json')).mtimeMs / 1000)}`;
  run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=${mtime}`, '-I', `gzip -n ${fast ? '-1' : '-6'}`, '-cf', out, '-C', dirname(dir), relative(dirname(dir), dir)]);
}

/** The Debian package tree for one arch, then dpkg-deb --build. */
function debian(arch, bundleDir, work, out, fast) {
  const root = join(work, `deb-${arch}`);
  rmSync(root, { recursive: true, force: true });
  const deb = join(ROOT, 'packaging', 'deb');
  mkdirSync(join(root, 'DEBIAN'), { recursive: true });
  mkdirSync(join(root, 'opt'), { recursive: true });
  cpSync(bundleDir, join(root, 'opt', 'c8y-tunnel'), { recursive: true });
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  symlinkSync('/opt/c8y-tunnel/bin/c8y-tunnel', join(root, 'usr', 'bin', 'c8y-tunnel'));
  mkdirSync(join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true });
  copyFileSync(join(ROOT, 'packaging', 'systemd', 'c8y-tunnel.service'), join(root, 'usr', 'lib', 'systemd', 'system', 'c8y-tunnel.service'));
  mkdirSync(join(root, 'etc', 'c8y-tunnel'), { recursive: true });
  copyFileSync(join(ROOT, 'packaging', 'c8y-tunnel.env'), join(root, 'etc', 'c8y-tunnel', 'c8y-tunnel.env'));
  // 0640 in the package already; postinst gives it to group c8y-tunnel once that exists.
  chmodSync(join(root, 'etc', 'c8y-tunnel', 'c8y-tunnel.env'), 0o640);
  mkdirSync(join(root, 'usr', 'share', 'doc', 'c8y-tunnel'), { recursive: true });
  copyFileSync(join(ROOT, 'packaging', 'deb', 'copyright'), join(root, 'usr', 'share', 'doc', 'c8y-tunnel', 'copyright'));
  const control = readFileSync(join(deb, 'control'), 'utf8')
    .replace('@VERSION@', PKG.version)
    .replace('@ARCH@', ARCHES[arch].deb)
    .replace('@SIZE@', String(duKiB(root)))
    .replace('@DESCRIPTION@', PKG.description);
  writeFileSync(join(root, 'DEBIAN', 'control'), control);
  copyFileSync(join(deb, 'conffiles'), join(root, 'DEBIAN', 'conffiles'));
  for (const s of ['postinst', 'prerm', 'postrm']) {
    copyFileSync(join(deb, s), join(root, 'DEBIAN', s));
    chmodSync(join(root, 'DEBIAN', s), 0o755);
  }
  // Directories 0755, files 0644 unless executable (umask-independent).
  const fix = (d) => {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (lstatSync(p).isSymbolicLink()) continue;
      if (e.isDirectory()) fix(p);
      else if (!p.startsWith(join(root, 'DEBIAN')) && !p.endsWith('c8y-tunnel.env')) chmodSync(p, statSync(p).mode & 0o111 ? 0o755 : 0o644);
    }
  };
  fix(root);
  // xz as Debian's own packages (a third smaller than gzip, but minutes of CPU for the 120 MiB Node binary).
  run('dpkg-deb', ['--root-owner-group', ...(fast ? ['-Zgzip', '-z1'] : ['-Zxz']), '--build', root, out], { stdio: ['ignore', 'ignore', 2] });
  rmSync(root, { recursive: true, force: true });
}

function main() {
  let v;
  try {
    v = parseArgs({
      options: {
        arch: { type: 'string', default: 'x64,arm64' },
        node: { type: 'string', default: '24' },
        out: { type: 'string', default: 'dist-pkg' },
        cache: { type: 'string', default: 'dist-pkg/cache' },
        'no-deb': { type: 'boolean', default: false },
        'skip-build': { type: 'boolean', default: false },
        fast: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    fail(`${err.message}\n${HELP}`);
  }
  if (v.help) {
    process.stdout.write(HELP);
    return;
  }
  const arches = v.arch.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of arches) if (!ARCHES[a]) fail(`--arch: unknown arch ${JSON.stringify(a)} (x64, arm64)`);
  if (!/^\d+$/.test(v.node)) fail(`--node must be a major version such as 24, got ${JSON.stringify(v.node)}`);
  const out = resolve(ROOT, v.out);
  const work = join(out, 'work');
  const cache = resolve(ROOT, v.cache);
  mkdirSync(work, { recursive: true });
  const t0 = Date.now();
  if (!v['skip-build']) {
    say('building dist/ (npm run build)...');
    npm(['run', 'build', '--silent'], { cwd: ROOT });
  }
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) fail('dist/ is missing: run npm run build');
  const deb = !v['no-deb'];
  if (deb) {
    try {
      execFileSync('dpkg-deb', ['--version'], { stdio: 'ignore' });
    } catch {
      fail('dpkg-deb is not installed (apt-get install dpkg, or use --no-deb)');
    }
  }
  const modules = productionModules(work);
  for (const arch of arches) {
    const node = nodeTarball(arch, v.node, cache);
    const name = `c8y-tunnel-${PKG.version}-linux-${arch}`;
    const dir = join(work, name);
    say(`[${arch}] staging ${relative(ROOT, dir)}/`);
    stageBundle(arch, node, modules, dir);
    const tgz = join(out, `${name}.tar.gz`);
    tarball(dir, tgz, v.fast);
    say(`[${arch}] ${relative(ROOT, tgz)}: ${mib(statSync(tgz).size)} (${mib(duKiB(dir) * 1024)} unpacked)`);
    if (deb) {
      const file = join(out, `c8y-tunnel_${PKG.version}_${ARCHES[arch].deb}.deb`);
      debian(arch, dir, work, file, v.fast);
      say(`[${arch}] ${relative(ROOT, file)}: ${mib(statSync(file).size)}`);
    }
  }
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main();
