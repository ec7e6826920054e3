/**
 * `npm run package` for real: builds the linux-x64 bundle and .deb (Node from the npm registry, cached in
 * dist-pkg/cache/), unpacks the tarball elsewhere and runs its agent against the emulator (one
 * c8y_RemoteAccessConnect, bytes echoed through the bundle's own `connect`); installs the .deb with dpkg when
 * root (files, user, unit verified, then purged), else checks its contents. Slow (a 50 MiB download the first
 * time, then ~1 min) and it installs a system package: `npm test` skips it; .ci/run runs it as its own step with
 * C8Y_TUNNEL_PACKAGING_TEST=1 (`C8Y_TUNNEL_PACKAGING_TEST=1 node --test dist-test/test/packaging/`).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { echoServer, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { childEnv } from '#internal/cli/child-env';
import { agentEnv } from '#internal/cli/demo/agent-process';
import { CLI, ROOT, spawnNode } from '../helpers/cli.js';
import { readBytes } from '../start/bytes.js';

const OUT = join(ROOT, 'dist-pkg', 'test');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TGZ = join(OUT, `c8y-tunnel-${VERSION}-linux-x64.tar.gz`);
const DEB = join(OUT, `c8y-tunnel_${VERSION}_amd64.deb`);

/** Runs a command to completion; throws with its output when it fails. */
function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; ok?: boolean } = {}): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, timeout: 600_000 });
  if (r.error) throw r.error;
  const out = `${r.stdout}${r.stderr}`;
  if (opts.ok !== false && r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${out}`);
  return { status: r.status ?? -1, out };
}

/** Environment without the caller's C8Y_* settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return childEnv(extra, { drop: /^npm_/ });
}

interface Run {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  exited: Promise<number | string>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(cmd, args, { env, stdio: 'pipe' });
  let text = '';
  child.stdout.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr.on('data', (d: Buffer) => (text += d.toString()));
  child.stdin.on('error', () => {});
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output: () => text, exited };
}

const enabled = process.env.C8Y_TUNNEL_PACKAGING_TEST === '1';

describe('npm run package (linux-x64)', { timeout: 900_000, skip: enabled ? false : 'set C8Y_TUNNEL_PACKAGING_TEST=1 (run by .ci/run)' }, () => {
  before(() => {
    rmSync(OUT, { recursive: true, force: true });
    // dist/ was just built by the caller (npm run build); --fast: gzip -1, the test checks layout and behaviour.
    const r = sh(process.execPath, [join(ROOT, 'scripts', 'package.js'), '--arch', 'x64', '--out', OUT, '--skip-build', '--fast']);
    assert.match(r.out, /package: \[x64\] .*c8y-tunnel-.*-linux-x64\.tar\.gz: [\d.]+ MiB/);
  });

  it('the unpacked bundle runs on its own Node, with no native addon, and its agent serves a tunnel from the emulator', { timeout: 120_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'c8y-bundle-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    sh('tar', ['-xzf', TGZ, '-C', dir]);
    const top = join(dir, `c8y-tunnel-${VERSION}-linux-x64`);
    const bin = join(top, 'bin', 'c8y-tunnel');
    assert.equal(sh(join(top, 'node', 'bin', 'node'), ['--version']).out.trim().split('.')[0], 'v24');
    assert.equal(sh(bin, ['--version']).out.trim(), VERSION);
    assert.ok(!existsSync(join(top, 'node_modules', 'bufferutil')), 'bufferutil is left out');
    const natives = sh('find', [top, '-name', '*.node']).out.trim();
    assert.equal(natives, '', 'no native addon in the bundle');
    assert.ok(!existsSync(join(top, 'node_modules', 'typescript')), 'no dev dependency');

    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const serial = 'bundle-gw';
    const dev = await sim.createDevice(serial);
    await sim.createConfiguration(dev.id, { name: 'echo', hostname: '127.0.0.1', port: echo.port, protocol: 'PASSTHROUGH' });
    // PATH without any node: the launcher must use the bundle's own binary.
    const agent = start(bin, ['agent', '--log-format', 'json', '--allow', `127.0.0.1:${echo.port}`], agentEnv(sim, serial, cleanEnv({ PATH: '/usr/bin:/bin' })));
    t.after(() => agent.child.kill('SIGKILL'));
    await waitFor(() => (sim.supportedOperations(serial) ?? []).includes('c8y_RemoteAccessConnect'), 30_000, `the bundled agent announced c8y_RemoteAccessConnect\n${agent.output()}`);

    const conn = start(bin, ['connect', '--device', serial, '--config', 'echo', '--stdio'], cleanEnv({
      PATH: '/usr/bin:/bin',
      C8Y_HOST: sim.httpUrl,
      C8Y_TENANT: sim.tenant,
      C8Y_USER: sim.user,
      C8Y_PASSWORD: sim.password,
    }));
    t.after(() => conn.child.kill('SIGKILL'));
    const data = randomBytesSeeded(1024 * 1024, 11);
    conn.child.stdout.removeAllListeners('data');
    const got = readBytes(conn.child.stdout, data.length);
    conn.child.stdin.write(data);
    assert.equal(sha256(await withTimeout(got, 30_000, `1 MiB echoed through the bundle\n${conn.output()}\n${agent.output()}`)), sha256(data));
    conn.child.stdin.end();
    assert.equal(await withTimeout(conn.exited, 15_000, 'connect exit'), 0, conn.output());
    const ops = sim.listOperations({ deviceId: dev.id });
    assert.equal(ops.length, 1);
    assert.equal(ops[0]!.status, 'SUCCESSFUL');

    agent.child.kill('SIGTERM');
    assert.equal(await withTimeout(agent.exited, 20_000, 'agent exit'), 0, agent.output());
  });

  it("the bundle's demo prints a connect command that runs the bundle's own launcher, and it works", { timeout: 90_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'c8y-bundle-demo-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    sh('tar', ['-xzf', TGZ, '-C', dir]);
    const bin = join(dir, `c8y-tunnel-${VERSION}-linux-x64`, 'bin', 'c8y-tunnel');
    const demo = start(bin, ['demo', '--http-port', '0', '--mqtt-port', '0'], cleanEnv({ PATH: '/usr/bin:/bin' }));
    t.after(() => demo.child.kill('SIGKILL'));
    await waitFor(() => /Ctrl-C stops everything/.test(demo.output()), 40_000, `the bundle's demo is up\n${demo.output()}`);
    const line = /^ {2}(C8Y_HOST=\S+ .* connect --device demo-device --config echo) --listen \S+$/m.exec(demo.output())?.[1];
    assert.ok(line, demo.output());
    const words = line.split(' ');
    const env: Record<string, string> = {};
    while (/^[A-Z0-9_]+=/.test(words[0]!)) {
      const w = words.shift()!;
      env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    }
    assert.equal(words[0], bin, 'the printed command is the launcher itself, no npx');
    const conn = start(words[0]!, [...words.slice(1), '--stdio'], cleanEnv({ PATH: '/usr/bin:/bin', ...env }));
    t.after(() => conn.child.kill('SIGKILL'));
    conn.child.stdout.removeAllListeners('data');
    const hello = Buffer.from('hello through the bundle\n');
    const got = readBytes(conn.child.stdout, hello.length);
    conn.child.stdin.write(hello);
    assert.equal((await withTimeout(got, 20_000, 'echo')).toString(), hello.toString());
    conn.child.stdin.end();
    assert.equal(await withTimeout(conn.exited, 15_000, 'connect exit'), 0, conn.output());
    demo.child.kill('SIGINT');
    assert.equal(await withTimeout(demo.exited, 20_000, 'demo exit'), 0, demo.output());
  });

  const qemu = existsSync('/usr/bin/qemu-aarch64-static') && existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6');
  it('the linux-arm64 bundle, under qemu-user, serves a tunnel from the emulator', { timeout: 300_000, skip: qemu ? false : 'needs qemu-user-static, libc6-arm64-cross, libstdc++6-arm64-cross' }, async (t) => {
    const out = join(OUT, 'arm64');
    sh(process.execPath, [join(ROOT, 'scripts', 'package.js'), '--arch', 'arm64', '--out', out, '--skip-build', '--fast', '--no-deb']);
    const dir = mkdtempSync(join(tmpdir(), 'c8y-bundle-arm64-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    sh('tar', ['-xzf', join(out, `c8y-tunnel-${VERSION}-linux-arm64.tar.gz`), '-C', dir]);
    const top = join(dir, `c8y-tunnel-${VERSION}-linux-arm64`);
    const arm = (args: string[]): string[] => ['-L', '/usr/aarch64-linux-gnu', join(top, 'node', 'bin', 'node'), join(top, 'bin', 'c8y-tunnel.js'), ...args];
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const echo = await echoServer();
    t.after(() => echo.close());
    const dev = await sim.createDevice('arm-gw');
    await sim.createConfiguration(dev.id, { name: 'echo', hostname: '127.0.0.1', port: echo.port, protocol: 'PASSTHROUGH' });
    const agent = start('qemu-aarch64-static', arm(['agent', '--log-format', 'json']), agentEnv(sim, 'arm-gw', cleanEnv({ PATH: '/usr/bin:/bin' })));
    t.after(() => agent.child.kill('SIGKILL'));
    // Emulated, the agent takes ~20 s to start on two busy cores.
    await waitFor(() => (sim.supportedOperations('arm-gw') ?? []).includes('c8y_RemoteAccessConnect'), 180_000, `the arm64 agent announced c8y_RemoteAccessConnect\n${agent.output()}`);
    const conn = spawnNode(CLI, ['connect', '--device', 'arm-gw', '--config', 'echo', '--stdio'], { C8Y_HOST: sim.httpUrl, C8Y_TENANT: sim.tenant, C8Y_USER: sim.user, C8Y_PASSWORD: sim.password }, { binaryStdout: true });
    t.after(() => conn.child.kill('SIGKILL'));
    const data = randomBytesSeeded(4 * 1024 * 1024, 13);
    const got = readBytes(conn.child.stdout, data.length);
    conn.child.stdin.write(data);
    assert.equal(sha256(await withTimeout(got, 120_000, `4 MiB through the arm64 agent\n${agent.output()}`)), sha256(data));
    conn.child.stdin.end();
    assert.equal(await withTimeout(conn.exited, 30_000, 'connect exit'), 0);
    agent.child.kill('SIGTERM');
    assert.equal(await withTimeout(agent.exited, 60_000, 'arm64 agent exit'), 0, agent.output());
  });

  it('the .deb has the bundle, the command, the unit and the env file as a conffile', { timeout: 60_000 }, () => {
    const info = sh('dpkg-deb', ['-I', DEB]).out;
    assert.match(info, /Package: c8y-tunnel/);
    assert.match(info, /Architecture: amd64/);
    assert.match(info, new RegExp(`Version: ${VERSION.replace(/\./g, '\\.')}`));
    assert.match(info, /postinst/);
    assert.equal(sh('dpkg-deb', ['-f', DEB, 'Depends']).out.trim(), 'libc6 (>= 2.28), libstdc++6, libgcc-s1, adduser');
    const list = sh('dpkg-deb', ['-c', DEB]).out;
    assert.match(list, /-rwxr-xr-x root\/root .* \.\/opt\/c8y-tunnel\/node\/bin\/node\n/);
    assert.match(list, /-rwxr-xr-x root\/root .* \.\/opt\/c8y-tunnel\/bin\/c8y-tunnel\n/);
    assert.match(list, /lrwxrwxrwx root\/root .* \.\/usr\/bin\/c8y-tunnel -> \/opt\/c8y-tunnel\/bin\/c8y-tunnel\n/);
    assert.match(list, /-rw-r--r-- root\/root .* \.\/usr\/lib\/systemd\/system\/c8y-tunnel\.service\n/);
    assert.match(list, /-rw-r----- root\/root .* \.\/etc\/c8y-tunnel\/c8y-tunnel\.env\n/);
    assert.doesNotMatch(list, /\.node\n|bufferutil/);
    const dir = mkdtempSync(join(tmpdir(), 'c8y-deb-'));
    try {
      sh('dpkg-deb', ['-e', DEB, dir]);
      assert.equal(readFileSync(join(dir, 'conffiles'), 'utf8'), '/etc/c8y-tunnel/c8y-tunnel.env\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const root = process.getuid?.() === 0 && sh('dpkg', ['-s', 'c8y-tunnel'], { ok: false }).status !== 0;
  it('dpkg -i installs it: command, system user, env file 0640 root:c8y-tunnel, a unit that verifies and rates <= 3.0; --purge removes it all', { timeout: 180_000, skip: root ? false : 'needs root and no c8y-tunnel package installed' }, (t) => {
    t.after(() => sh('dpkg', ['--purge', 'c8y-tunnel'], { ok: false }));
    const inst = sh('dpkg', ['-i', DEB]).out;
    assert.match(inst, /set the device's credentials in \/etc\/c8y-tunnel\/c8y-tunnel\.env/);
    assert.equal(sh('/usr/bin/c8y-tunnel', ['--version'], { env: cleanEnv({ PATH: '/usr/bin:/bin' }) }).out.trim(), VERSION);
    assert.equal(readlinkSync('/usr/bin/c8y-tunnel'), '/opt/c8y-tunnel/bin/c8y-tunnel');
    // The system user: no login shell, no home.
    const pw = sh('getent', ['passwd', 'c8y-tunnel']).out.trim().split(':');
    assert.ok(Number(pw[2]) < 1000, `a system uid, got ${pw[2]}`);
    assert.match(pw[6]!, /\/(nologin|false)$/);
    assert.ok(!existsSync(pw[5]!), `no home directory (${pw[5]})`);
    const gid = Number(sh('getent', ['group', 'c8y-tunnel']).out.split(':')[2]);
    const env = statSync('/etc/c8y-tunnel/c8y-tunnel.env');
    assert.equal(env.mode & 0o777, 0o640);
    assert.equal(env.uid, 0);
    assert.equal(env.gid, gid);
    // The service user can run the command (and read its settings); others cannot read the settings.
    assert.equal(sh('runuser', ['-u', 'c8y-tunnel', '--', '/usr/bin/c8y-tunnel', '--version']).out.trim(), VERSION);
    assert.equal(sh('runuser', ['-u', 'c8y-tunnel', '--', 'cat', '/etc/c8y-tunnel/c8y-tunnel.env']).status, 0);
    assert.notEqual(sh('runuser', ['-u', 'nobody', '--', 'cat', '/etc/c8y-tunnel/c8y-tunnel.env'], { ok: false }).status, 0);
    const unit = '/usr/lib/systemd/system/c8y-tunnel.service';
    const verify = sh('systemd-analyze', ['verify', unit], { ok: false });
    assert.equal(verify.status, 0, verify.out);
    const sec = sh('systemd-analyze', ['security', '--offline=yes', unit]).out;
    const score = Number(/Overall exposure level for c8y-tunnel\.service: ([\d.]+)/.exec(sec)?.[1]);
    assert.ok(score <= 3.0, `exposure ${score} <= 3.0`);
    assert.ok(lstatSync('/opt/c8y-tunnel/node/bin/node').isFile());

    sh('dpkg', ['--purge', 'c8y-tunnel']);
    assert.ok(!existsSync('/opt/c8y-tunnel'), '/opt/c8y-tunnel removed');
    assert.ok(!existsSync('/etc/c8y-tunnel'), '/etc/c8y-tunnel removed on purge');
    assert.ok(!existsSync('/usr/bin/c8y-tunnel'));
    assert.notEqual(sh('getent', ['passwd', 'c8y-tunnel'], { ok: false }).status, 0, 'the system user removed on purge');
    assert.ok(!readdirSync('/usr/lib/systemd/system').includes('c8y-tunnel.service'));
  });
});
