/**
 * `npm start` smoke test: bin/start.js on free ports starts the emulator, the agent and the echo service,
 * prints a working connect line; a scripted `connect --stdio` session to `echo` passes bytes; SIGINT
 * ends every process with exit code 0.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSim } from 'c8y-tunnel/sim';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { echoServer, listen0, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { alive, CLI, spawnNode, START } from '../helpers/cli.js';
import { readBytes } from './bytes.js';

/** Splits a printed shell line into env assignments and arguments (the demo prints no quotes for its defaults). */
function parseLine(line: string): { env: Record<string, string>; args: string[] } {
  const words = line.trim().split(/\s+/);
  const env: Record<string, string> = {};
  while (words[0] && /^[A-Z0-9_]+=/.test(words[0])) {
    const w = words.shift()!;
    env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return { env, args: words };
}

describe('npm start (bin/start.js)', () => {
  it('starts the demo on free ports, a scripted connect --stdio session to echo passes bytes, SIGINT ends everything with 0', { timeout: 60_000 }, async (t) => {
    // The build check is covered by running start.js for real; here dist/ was just built by pretest, and
    // other engineers may be editing src/ at the same moment, so the test must not trigger a rebuild.
    const sshd = await echoServer(); // stands in for the SSH server the "ssh" configuration points at
    t.after(() => sshd.close());
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0', '--ssh-target', `127.0.0.1:${sshd.port}`], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const line = (await demo.waitFor(/^ +(C8Y_HOST=\S+ .*npx c8y-tunnel connect .*--config echo .*)$/m, 40_000))[1]!;
    const agentPid = Number((await demo.waitFor(/child process (\d+)/, 1000))[1]);
    assert.ok(alive(agentPid), 'the agent runs as its own process');
    const proxyCommand = (await demo.waitFor(/ssh -o ProxyCommand="(env C8Y_HOST=\S+ .*npx c8y-tunnel connect --device demo-device --config ssh --stdio)" /, 1000))[1]!;
    assert.doesNotMatch(line, /:8080|:1883/, 'port 0 was honoured and the real ports are printed');

    // Run exactly the printed command, with --stdio instead of the fixed example port.
    const { env, args } = parseLine(line);
    assert.deepEqual(args.slice(0, 3), ['npx', 'c8y-tunnel', 'connect']);
    const connectArgs = args.slice(3).join(' ').replace(/--listen \S+/, '--stdio').split(' ');
    const conn = spawnNode(CLI, ['connect', ...connectArgs], env, { binaryStdout: true });
    t.after(() => conn.child.kill('SIGKILL'));
    const data = randomBytesSeeded(256 * 1024, 3);
    const got = readBytes(conn.child.stdout, data.length);
    conn.child.stdin.write(data);
    assert.equal(sha256(await withTimeout(got, 20_000, 'echo through the demo')), sha256(data));
    await demo.waitFor(/session opened/, 5000);
    conn.child.stdin.end();
    assert.equal(await withTimeout(conn.exited, 10_000, 'connect exit'), 0);

    // The ssh line's ProxyCommand, run the way ssh runs it: `$SHELL -c "exec <command>"`.
    const viaSsh = spawn('/bin/sh', ['-c', `exec ${proxyCommand.replace('npx c8y-tunnel', `${process.execPath} ${CLI}`)}`], { stdio: 'pipe' });
    t.after(() => viaSsh.kill('SIGKILL'));
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.2p1 c8y-tunnel-test\r\n');
    let echoed = Buffer.alloc(0);
    const back = new Promise<Buffer>((resolve) =>
      viaSsh.stdout.on('data', (d: Buffer) => {
        echoed = Buffer.concat([echoed, d]);
        if (echoed.length >= banner.length) resolve(echoed);
      }),
    );
    viaSsh.stdin.write(banner);
    assert.equal((await withTimeout(back, 20_000, 'bytes through the ssh ProxyCommand')).toString(), banner.toString());
    viaSsh.stdin.end();
    assert.equal(await withTimeout(new Promise((r) => viaSsh.once('exit', r)), 10_000, 'ProxyCommand exit'), 0);

    demo.child.kill('SIGINT');
    assert.equal(await withTimeout(demo.exited, 20_000, 'demo exit after SIGINT'), 0, demo.stdout() + demo.stderr());
    assert.match(demo.stdout(), /agent stopped \(exit code 0\)/);
    await waitFor(() => !alive(agentPid), 5000, 'the agent process is gone');
  });

  it('with C8Y_HOST set, runs the agent against that tenant instead (here: an emulator standing in for it)', { timeout: 30_000 }, async (t) => {
    const sim = await startSim({ quiet: true });
    t.after(() => sim.close());
    const env = {
      C8Y_HOST: sim.httpUrl,
      C8Y_MQTT_URL: sim.mqttUrl,
      C8Y_TENANT: sim.tenant,
      C8Y_USER: 'device_gw-7',
      C8Y_PASSWORD: sim.devicePassword,
      C8Y_DEVICE_ID: 'gw-7',
      C8Y_TUNNEL_SKIP_BUILD: '1',
    };
    const agent = spawnNode(START, ['--log-format', 'json'], env);
    t.after(() => agent.child.kill('SIGKILL'));
    await waitFor(() => (sim.supportedOperations('gw-7') ?? []).includes('c8y_RemoteAccessConnect'), 20_000, 'the agent announced c8y_RemoteAccessConnect');
    assert.doesNotMatch(agent.stdout(), /emulator/, 'no demo: the agent alone');
    assert.match(agent.stderr(), /C8Y_HOST is set, so npm start runs the agent against http:\/\/127\.0\.0\.1:\d+ \(unset C8Y_HOST for the local demo\)/);
    agent.child.kill('SIGINT');
    assert.equal(await withTimeout(agent.exited, 15_000, 'agent exit'), 0, agent.stderr());
  });

  it('when the agent dies, the demo says so with its last log lines, stops everything and exits 1', { timeout: 30_000 }, async (t) => {
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const agentPid = Number((await demo.waitFor(/child process (\d+)/, 20_000))[1]);
    process.kill(agentPid, 'SIGKILL');
    assert.equal(await withTimeout(demo.exited, 15_000, 'demo exit after the agent died'), 1);
    assert.match(demo.stderr(), /the agent exited unexpectedly \(killed by SIGKILL\); its last lines:\n {2}INFO agent starting/);
  });

  it('a port in use or a bad flag: one line saying what to do, nothing left running', { timeout: 30_000 }, async (t) => {
    const busy = net.createServer();
    const port = await listen0(busy);
    t.after(() => busy.close());
    const p = spawnNode(START, ['--http-port', String(port), '--mqtt-port', '0'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    assert.equal(await withTimeout(p.exited, 15_000, 'demo exit'), 1);
    assert.match(p.stderr(), /^c8y-tunnel demo: a port is already in use .*EADDRINUSE.*; pick others with --http-port\/--mqtt-port \(0 = any free port\)\n$/);
    assert.doesNotMatch(p.stdout(), /starting the agent/);

    const bad = spawnNode(START, ['--http-port', 'eighty'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    assert.equal(await withTimeout(bad.exited, 15_000, 'demo exit'), 2);
    assert.match(bad.stderr(), /--http-port must be an integer 0-65535, got "eighty"/);
  });

  it('SIGHUP (the terminal closed) stops the demo and its agent too, exit 0', { timeout: 30_000 }, async (t) => {
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const agentPid = Number((await demo.waitFor(/child process (\d+)/, 20_000))[1]);
    demo.child.kill('SIGHUP');
    assert.equal(await withTimeout(demo.exited, 15_000, 'demo exit after SIGHUP'), 0);
    await waitFor(() => !alive(agentPid), 5000, 'the agent process is gone');
  });
});
