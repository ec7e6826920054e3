/**
 * First use of `npm start`, with real processes: flags given to npm instead of the demo get a hint; extra
 * --target configurations work and the device id is printed; the status line names each direction; a demo
 * killed with SIGKILL does not leave its agent running.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { childEnv } from '#internal/cli/child-env';
import { formatDirections } from '#internal/cli/status';
import { echoServer, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { alive, CLI, ROOT, spawnNode, START } from '../helpers/cli.js';
import { readBytes } from './bytes.js';

/** True once `pid` is gone (or a zombie nobody reaps, as under a container's PID 1). */
function gone(pid: number): boolean {
  if (!alive(pid)) return true;
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** The environment without the caller's npm_* and C8Y_* variables (this test may itself run under npm). */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return childEnv(extra, { drop: /^(npm_|c8y_)/i });
}

describe('npm start, first use', () => {
  it('`npm start --http-port 0` (without --) says to use `npm start -- --http-port 0` and starts nothing', { timeout: 60_000 }, async () => {
    const p = spawn('npm', ['start', '--http-port', '0', '--target', 'web=127.0.0.1:8000'], { cwd: ROOT, env: plainEnv({ C8Y_TUNNEL_SKIP_BUILD: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await withTimeout(new Promise<number | null>((r) => p.on('exit', (c) => r(c))), 50_000, 'npm start exit');
    assert.equal(code, 2, out);
    assert.match(out, /c8y-tunnel: npm took --http-port, --target for itself: npm passes a script only the flags after --\.\nRun: npm start -- --http-port <value> --target <value>\n/);
    assert.doesNotMatch(out, /emulator up/);
  });

  it('--target adds configurations to the demo device, whose id is printed; the status line names each direction', { timeout: 60_000 }, async (t) => {
    const web = await echoServer();
    t.after(() => web.close());
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0', '--target', `web=127.0.0.1:${web.port}`, '--target', 'db=127.0.0.1:5432'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const [, host, id] = await demo.waitFor(/emulator +(http:\/\/127\.0\.0\.1:\d+) [\s\S]*device "demo-device" \(device id (\d+)\)/, 40_000);
    await demo.waitFor(new RegExp(`^ +"web" -> 127\\.0\\.0\\.1:${web.port}\\n +"db" -> 127\\.0\\.0\\.1:5432\\n`, 'm'), 1000);
    await demo.waitFor(/^sessions: 0 open, 0 so far · to device 0 B\/s \(0 B\) · from device 0 B\/s \(0 B\)$/m, 5000);

    // The printed id is the device's managed object in the emulator, and "web" is a configuration on it.
    const auth = `Basic ${Buffer.from('t1/admin:admin').toString('base64')}`;
    const mo = await fetch(`${host}/inventory/managedObjects/${id}`, { headers: { authorization: auth } });
    assert.equal(mo.status, 200);
    assert.match(((await mo.json()) as { name: string }).name, /demo-device/);
    const conn = spawnNode(CLI, ['connect', '--device', 'demo-device', '--config', 'web', '--stdio'], { C8Y_HOST: host!, C8Y_TENANT: 't1', C8Y_USER: 'admin', C8Y_PASSWORD: 'admin' }, { binaryStdout: true });
    t.after(() => conn.child.kill('SIGKILL'));
    const data = randomBytesSeeded(64 * 1024, 5);
    const got = readBytes(conn.child.stdout, data.length);
    conn.child.stdin.write(data);
    assert.equal(sha256(await withTimeout(got, 20_000, 'echo through the "web" target')), sha256(data));
    conn.child.stdin.end();
    assert.equal(await withTimeout(conn.exited, 10_000, 'connect exit'), 0);
    assert.match((await demo.waitFor(/session closed .*: (.*)\n/, 10_000))[1]!, /^64\.0 KiB to the device, 64\.0 KiB back$/);

    demo.child.kill('SIGINT');
    assert.equal(await withTimeout(demo.exited, 20_000, 'demo exit'), 0, demo.stdout() + demo.stderr());
  });

  it('a bad --target: one line saying what is wrong, exit 2', { timeout: 30_000 }, async () => {
    for (const [arg, msg] of [
      ['web', /--target must be name=host:port with a name of letters/],
      ['web=nowhere', /--target must be name=host:port, got "web=nowhere"/],
      ['echo=127.0.0.1:7', /--target "echo": a configuration of that name exists already/],
    ] as const) {
      const p = spawnNode(START, ['--target', arg], { C8Y_TUNNEL_SKIP_BUILD: '1' });
      assert.equal(await withTimeout(p.exited, 15_000, 'demo exit'), 2);
      assert.match(p.stderr(), msg);
      assert.doesNotMatch(p.stdout(), /emulator up/);
    }
  });

  it('a demo killed with SIGKILL does not leave its agent child running', { timeout: 60_000 }, async (t) => {
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const agentPid = Number((await demo.waitFor(/child process (\d+), connected/, 40_000))[1]);
    t.after(() => {
      if (!gone(agentPid)) process.kill(agentPid, 'SIGKILL');
    });
    assert.ok(alive(agentPid));
    demo.child.kill('SIGKILL');
    assert.equal(await withTimeout(demo.exited, 10_000, 'demo exit after SIGKILL'), 'SIGKILL');
    // No handler of the demo ran: the agent noticed on its own (its IPC channel closed) and stopped.
    await waitFor(() => gone(agentPid), 20_000, 'the agent child exited after its parent was killed');
  });

  it('formatDirections spells out each way, rate and total', () => {
    assert.equal(formatDirections({ up: 1024 * 1024 * 5, down: 3482 }, { up: 1.2 * 1024 * 1024, down: 0 }), 'to device 1.2 MiB/s (5.0 MiB) · from device 0 B/s (3.4 KiB)');
  });
});
