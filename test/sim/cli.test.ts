import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { HELP, parseSimArgs } from '#internal/cli/sim';
import { waitFor, withTimeout } from '../helpers/net.js';

const BIN = fileURLToPath(new URL('../../../bin/c8y-tunnel.js', import.meta.url));

function runCli(args: string[], onStdout?: (text: string, kill: () => void) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return withTimeout(
    new Promise((resolve) => {
      const p = spawn(process.execPath, [BIN, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let killed = false;
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        onStdout?.(stdout, () => {
          if (!killed) p.kill('SIGTERM');
          killed = true;
        });
      });
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.on('close', (code) => resolve({ code, stdout, stderr }));
    }),
    15_000,
    'c8y-tunnel sim',
  );
}

describe('c8y-tunnel sim', () => {
  it('parses every option; defaults bind loopback on 8080/1883', () => {
    const d = parseSimArgs([]);
    assert.equal(d.options.host, '127.0.0.1');
    assert.equal(d.options.httpPort, 8080);
    assert.equal(d.options.mqttPort, 1883);
    const a = parseSimArgs(['--host', '0.0.0.0', '--http-port', '0', '--mqtt-port', '0', '--tenant', 't7', '--user', 'root', '--password', 'pw', '--device-password', 'dp', '--bootstrap-password', 'bp', '--operation-timeout', '5', '--jwt-lifetime', '60', '--idle-timeout', '10', '--history-limit', '50', '-q']);
    assert.deepEqual(a.options, { host: '0.0.0.0', httpPort: 0, mqttPort: 0, tenant: 't7', user: 'root', password: 'pw', devicePassword: 'dp', bootstrapPassword: 'bp', operationTimeoutMs: 5000, jwtLifetimeSec: 60, idleTimeoutMs: 10_000, historyLimit: 50 });
    assert.equal(a.quiet, true);
    for (const flag of ['--host', '--http-port', '--mqtt-port', '--tenant', '--user', '--password', '--device-password', '--bootstrap-password', '--operation-timeout', '--jwt-lifetime', '--idle-timeout', '--history-limit', '--quiet', '--help']) {
      assert.ok(HELP.includes(flag), `--help explains ${flag}`);
    }
  });

  it('refuses bad values with one clear line', () => {
    for (const argv of [['--http-port', 'x'], ['--mqtt-port', '70000'], ['--tenant', 'a/b'], ['--user', 'device_x'], ['--operation-timeout', '0'], ['--nope'], ['extra']]) {
      assert.throws(() => parseSimArgs(argv), (err: { code?: string; message: string }) => err.code === 'SIM_ERR_CONFIG' && !err.message.includes('\n'), argv.join(' '));
    }
  });

  it('prints URLs and credentials, and exits 0 on SIGTERM', { timeout: 20_000 }, async () => {
    const r = await runCli(['--http-port', '0', '--mqtt-port', '0', '--quiet'], (out, kill) => {
      if (out.includes('Ctrl-C')) kill();
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /http:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /mqtt:\/\/127\.0\.0\.1:\d+/);
    assert.match(r.stdout, /t1\/admin {2}password admin/);
    assert.match(r.stdout, /t1\/device_<serial> {2}password device/);
  });

  it('exits 2 with one line on a bad option, 0 on --help', { timeout: 20_000 }, async () => {
    const bad = await runCli(['--http-port', 'abc']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr.split('\n')[0]!, /--http-port must be an integer/);
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith('Usage: c8y-tunnel sim'));
  });
});

/** Starts `c8y-tunnel sim` on free ports; resolves with the process and its REST URL once the banner is out. */
function startCli(t: import('node:test').TestContext): Promise<{ p: import('node:child_process').ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [BIN, 'sim', '--http-port', '0', '--mqtt-port', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
      t.after(() => p.kill('SIGKILL'));
      let stdout = '';
      let stderr = '';
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /REST \+ remote access: +(http:\/\/\S+)/.exec(stdout);
        if (m && stdout.includes('Ctrl-C')) resolve({ p, url: m[1]!, stderr: () => stderr });
      });
      p.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    }),
    15_000,
    'c8y-tunnel sim start',
  );
}

const ADMIN = { authorization: 'Basic ' + Buffer.from('t1/admin:admin').toString('base64'), 'content-type': 'application/json' };

async function operationWithText(url: string, text: string): Promise<void> {
  const mo = (await (await fetch(`${url}/inventory/managedObjects`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ name: 'd', c8y_IsDevice: {} }) })).json()) as { id: string };
  const op = (await (await fetch(`${url}/devicecontrol/operations`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ deviceId: mo.id, description: text, c8y_Command: {} }) })).json()) as { id: string };
  const put = await fetch(`${url}/devicecontrol/operations/${op.id}`, { method: 'PUT', headers: ADMIN, body: JSON.stringify({ status: 'FAILED', failureReason: text }) });
  assert.equal(put.status, 200);
}

describe('c8y-tunnel sim: its log', () => {
  it('prints device-supplied text with control characters escaped (no terminal escape injection)', { timeout: 20_000 }, async (t) => {
    const { p, url, stderr } = await startCli(t);
    await operationWithText(url, 'evil\u001b]0;owned\u0007\u001b[2J\r\nfake line\u009b31m');
    await waitFor(() => stderr().includes('-> FAILED'), 5000, 'the FAILED line');
    const log = stderr();
    assert.doesNotMatch(log, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no raw control character but line ends');
    assert.ok(log.includes('evil\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x0afake line\\x9b31m'), log);
    p.kill('SIGTERM');
  });

  it('keeps running when its stderr reader goes away (EPIPE), and still exits 0 on SIGTERM', { timeout: 20_000 }, async (t) => {
    const { p, url } = await startCli(t);
    p.stderr.destroy();
    for (let i = 0; i < 3; i++) await operationWithText(url, `op ${i}`);
    assert.equal((await fetch(`${url}/service/remoteaccess/health`)).status, 200);
    const code = new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
    p.kill('SIGTERM');
    assert.equal(await withTimeout(code, 10_000, 'exit'), 0);
  });
});
