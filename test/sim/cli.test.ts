import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { HELP, parseSimArgs } from 'c8y-tunnel/internal/cli/sim';
import { withTimeout } from '../helpers/net.js';

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
    const a = parseSimArgs(['--host', '0.0.0.0', '--http-port', '0', '--mqtt-port', '0', '--tenant', 't7', '--user', 'root', '--password', 'pw', '--device-password', 'dp', '--operation-timeout', '5', '--jwt-lifetime', '60', '--idle-timeout', '10', '-q']);
    assert.deepEqual(a.options, { host: '0.0.0.0', httpPort: 0, mqttPort: 0, tenant: 't7', user: 'root', password: 'pw', devicePassword: 'dp', operationTimeoutMs: 5000, jwtLifetimeSec: 60, idleTimeoutMs: 10_000 });
    assert.equal(a.quiet, true);
    for (const flag of ['--host', '--http-port', '--mqtt-port', '--tenant', '--user', '--password', '--device-password', '--operation-timeout', '--jwt-lifetime', '--idle-timeout', '--quiet', '--help']) {
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
