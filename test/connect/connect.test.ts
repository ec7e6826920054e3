/**
 * `c8y-tunnel connect` end to end: the real CLI, the emulator, the agent (a child process) and an echo
 * target; sha256 of what went in and what came back, and each failure line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { startAgentProcess, type AgentProcess } from '#internal/cli/demo/agent-process';
import { startEchoService, type EchoService } from '#internal/cli/demo/echo';
import { listenLocal, prepareSession, runSession } from 'c8y-tunnel/connect';
import { collect, randomBytesSeeded, sha256, waitFor, withTimeout } from '../helpers/net.js';
import { CLI, spawnNode, type Proc } from '../helpers/cli.js';
import { connectProxy, type ConnectProxy } from '../helpers/connect-proxy.js';

const T = { timeout: 30_000 };
const MiB = 1024 * 1024;

let sim: Sim;
let echo: EchoService;
let agent: AgentProcess;
let env: Record<string, string>;
let dev1: { id: string; echoConfigId: string };
const procs: Proc[] = [];

function connect(args: string[], extraEnv: Record<string, string> = {}, binaryStdout = false): Proc {
  const p = spawnNode(CLI, ['connect', ...args], { ...env, ...extraEnv }, { binaryStdout });
  procs.push(p);
  return p;
}

/** Sends `data` on a socket-like pair and resolves with everything echoed until `data.length` bytes came back. */
function roundTrip(write: (b: Buffer) => void, onData: (cb: (d: Buffer) => void) => void, data: Buffer): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  return new Promise((resolve) => {
    onData((d) => {
      parts.push(d);
      n += d.length;
      if (n >= data.length) resolve(Buffer.concat(parts));
    });
    for (let i = 0; i < data.length; i += 64 * 1024) write(data.subarray(i, i + 64 * 1024));
  });
}

/** `connect <args>` on stdio echoes `data` intact (sha256), then exits 0 once its stdin ends. */
async function stdioEcho(args: string[], extraEnv: Record<string, string>, data: Buffer, what: string): Promise<void> {
  const p = connect(args, extraEnv, true);
  const got = await withTimeout(roundTrip((b) => p.child.stdin.write(b), (cb) => p.child.stdout.on('data', cb), data), 15_000, what);
  assert.equal(sha256(got), sha256(data));
  p.child.stdin.end();
  assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
}

async function tcpEcho(port: number, data: Buffer): Promise<{ got: Buffer; sock: net.Socket }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const got = await withTimeout(roundTrip((b) => sock.write(b), (cb) => sock.on('data', cb), data), 15_000, 'echo through the tunnel');
  return { got, sock };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

before(async () => {
  sim = await startSim({ quiet: true, operationTimeoutMs: 1500 });
  echo = await startEchoService();
  const dev = await sim.createDevice('dev-1');
  const echoCfg = await sim.createConfiguration(dev.id, { name: 'echo', hostname: echo.host, port: echo.port });
  dev1 = { id: dev.id, echoConfigId: echoCfg.id };
  await sim.createConfiguration(dev.id, { name: 'web-ssh', hostname: '127.0.0.1', port: 22, protocol: 'SSH' });
  await sim.createConfiguration(dev.id, { name: 'closed', hostname: '127.0.0.1', port: await closedPort() });
  const off = await sim.createDevice('dev-offline');
  await sim.createConfiguration(off.id, { name: 'echo', hostname: echo.host, port: echo.port });
  agent = startAgentProcess(sim, 'dev-1');
  await agent.ready(20_000);
  env = { C8Y_HOST: sim.httpUrl, C8Y_TENANT: sim.tenant, C8Y_USER: sim.user, C8Y_PASSWORD: sim.password };
});

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await agent?.stop(5000);
  await echo?.close();
  await sim?.close();
});

describe('c8y-tunnel connect --listen', () => {
  it('opens one session per local connection and moves 1 MiB each way intact on two at once', T, async () => {
    const p = connect(['--device', 'dev-1', '--config', 'echo', '--listen', '127.0.0.1:0']);
    const m = await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000);
    const port = Number(m[1]);
    const before = sim.sessions().length;
    const a = randomBytesSeeded(MiB, 7);
    const b = randomBytesSeeded(MiB, 8);
    const [ra, rb] = await Promise.all([tcpEcho(port, a), tcpEcho(port, b)]);
    assert.equal(sha256(ra.got), sha256(a));
    assert.equal(sha256(rb.got), sha256(b));
    assert.equal(sim.sessions().length - before, 2, 'two sessions on the cloud side');
    ra.sock.end();
    rb.sock.end();
    await waitFor(() => sim.sessions().slice(before).every((s) => s.state === 'closed'), 10_000, 'both cloud sessions closed after the local sockets ended');
    p.child.kill('SIGINT');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
  });

  it('closes the local socket when the cloud closes the session', T, async () => {
    const p = connect(['-d', 'dev-1', '-c', 'echo', '-l', '127.0.0.1:0', '--quiet']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const before = sim.sessions().length;
    const { sock } = await tcpEcho(port, Buffer.from('ping'));
    const s = sim.sessions()[before];
    assert.ok(s, 'a cloud session');
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    assert.equal(sim.closeSession(s.key), true);
    await withTimeout(closed, 10_000, 'local socket closed after the cloud closed');
    p.child.kill('SIGTERM');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
  });
});

describe('c8y-tunnel connect half-close', () => {
  it('a local client that half-closes (nc -N style) still reads the answer, then the socket closes', T, async () => {
    const p = connect(['-d', 'dev-1', '-c', 'echo', '-l', '127.0.0.1:0', '--linger', '0.3']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    sock.on('error', () => {});
    const got = collect(sock);
    sock.end('ping\n');
    assert.equal((await withTimeout(got, 10_000, 'answer after half-close')).toString(), 'ping\n');
    p.child.kill('SIGINT');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
  });
});

describe('c8y-tunnel connect shutdown', () => {
  it('SIGINT with a session open closes it on the cloud side and exits 0', T, async () => {
    const p = connect(['-d', 'dev-1', '-c', 'echo', '-l', '127.0.0.1:0']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const before = sim.sessions().length;
    const { sock } = await tcpEcho(port, Buffer.from('ping'));
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    p.child.kill('SIGINT');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit with a session open'), 0);
    await withTimeout(closed, 5000, 'local socket closed');
    await waitFor(() => sim.sessions()[before]?.state === 'closed', 5000, 'the cloud session closed');
  });
});

describe('c8y-tunnel connect --stdio', () => {
  it('carries 1 MiB through stdin/stdout intact and exits 0 when stdin ends', T, async () => {
    const p = connect(['--device', 'dev-1', '--config', 'echo', '--stdio', '--linger', '0.1'], {}, true);
    const data = randomBytesSeeded(MiB, 9);
    const got = await withTimeout(
      roundTrip((b) => p.child.stdin.write(b), (cb) => p.child.stdout.on('data', cb), data),
      15_000,
      'echo over stdio',
    );
    assert.equal(sha256(got), sha256(data));
    p.child.stdin.end();
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
    assert.equal(p.stderr(), '', 'nothing on stderr in stdio mode');
  });

  it('piped input (write, then EOF at once) still gets its answer: the session lingers until the device is quiet', T, async () => {
    const p = connect(['--device', 'dev-1', '--config', 'echo', '--stdio', '--linger', '0.5'], {}, true);
    const parts: Buffer[] = [];
    p.child.stdout.on('data', (d: Buffer) => parts.push(d));
    p.child.stdin.end('hello through the tunnel\n');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
    assert.equal(Buffer.concat(parts).toString(), 'hello through the tunnel\n');
  });

  it('takes the managed object id for --device and the configuration id for --config', T, async () => {
    assert.notEqual(dev1.id, 'dev-1');
    const data = randomBytesSeeded(4096, 13);
    await stdioEcho(['--device', dev1.id, '--config', dev1.echoConfigId, '--stdio', '--linger', '0.1'], {}, data, 'echo by ids');
  });

  it('authenticates with C8Y_TOKEN as a Bearer token (an OAI-Secure login token) instead of the password', T, async () => {
    const login = await fetch(`${sim.httpUrl}/tenant/oauth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: `${sim.tenant}/${sim.user}`, password: sim.password }).toString(),
    });
    const token = /authorization=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    assert.ok(token, 'a token from the login');
    const data = randomBytesSeeded(64 * 1024, 11);
    await stdioEcho(['--device', 'dev-1', '--config', 'echo', '--stdio', '--linger', '0.1'], { C8Y_USER: '', C8Y_PASSWORD: '', C8Y_TOKEN: token }, data, 'echo with a token');
  });

  it('ends (exit 0, stdout closed) when the cloud closes the session', T, async () => {
    const p = connect(['--device', 'dev-1', '--config', 'echo', '--stdio'], {}, true);
    const before = sim.sessions().length;
    await withTimeout(roundTrip((b) => p.child.stdin.write(b), (cb) => p.child.stdout.on('data', cb), Buffer.from('hello')), 10_000, 'hello');
    const s = sim.sessions()[before];
    assert.ok(s);
    sim.closeSession(s.key);
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit after the cloud closed'), 0);
  });
});

describe('c8y-tunnel connect failure lines', () => {
  const cases: Array<{ name: string; args: string[]; env?: Record<string, string>; code: string; line: RegExp }> = [
    { name: 'wrong password', args: ['-d', 'dev-1', '-c', 'echo', '--stdio'], env: { C8Y_PASSWORD: 'wrong' }, code: 'CONNECT_ERR_AUTH', line: /rejected the credentials \(HTTP 401\)/ },
    { name: 'unknown device', args: ['-d', 'no-such-device', '-c', 'echo', '--stdio'], code: 'CONNECT_ERR_NOT_FOUND', line: /no device with serial or id "no-such-device"/ },
    { name: 'unknown configuration', args: ['-d', 'dev-1', '-c', 'vnc', '--stdio'], code: 'CONNECT_ERR_NOT_FOUND', line: /no PASSTHROUGH configuration "vnc" \(it has: echo, closed\)/ },
    { name: 'not a PASSTHROUGH configuration', args: ['-d', 'dev-1', '-c', 'web-ssh', '--stdio'], code: 'CONNECT_ERR_NOT_FOUND', line: /is SSH, not PASSTHROUGH/ },
    { name: 'device offline', args: ['-d', 'dev-offline', '-c', 'echo', '--stdio'], code: 'CONNECT_ERR_OFFLINE', line: /did not answer: the operation timed out/ },
    { name: 'target refused on the device', args: ['-d', 'dev-1', '-c', 'closed', '--stdio'], code: 'CONNECT_ERR_DEVICE_FAILED', line: /the device could not open the session: .*refused/ },
    { name: 'missing credentials', args: ['-d', 'dev-1', '-c', 'echo', '--stdio'], env: { C8Y_PASSWORD: '' }, code: 'CONNECT_ERR_CONFIG', line: /set C8Y_USER and C8Y_PASSWORD/ },
  ];
  for (const c of cases) {
    it(`${c.name}: one line with ${c.code}, exit code non-zero`, T, async () => {
      const p = connect(c.args, c.env ?? {});
      const code = await withTimeout(p.exited, 15_000, 'connect exit');
      assert.notEqual(code, 0);
      // Progress lines ("session: waiting ...") are informational; the failure is one line.
      const lines = p.stderr().trim().split('\n').filter((l) => !/^See c8y-tunnel connect --help$/.test(l) && !/^session\b/.test(l));
      assert.equal(lines.length, 1, `exactly one line, got:\n${p.stderr()}`);
      assert.match(lines[0]!, c.line);
      assert.ok(lines[0]!.startsWith(`c8y-tunnel connect: ${c.code}: `), lines[0]);
    });
  }

  it('device offline in listen mode: the line is printed, the socket closed, the listener keeps serving', T, async () => {
    const p = connect(['-d', 'dev-offline', '-c', 'echo', '-l', '127.0.0.1:0']);
    const port = Number((await p.waitFor(/listening on 127\.0\.0\.1:(\d+)/, 10_000))[1]);
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => {});
    await withTimeout(new Promise<void>((r) => sock.once('close', () => r())), 15_000, 'socket closed after the operation timed out');
    await p.waitFor(/CONNECT_ERR_OFFLINE: .*did not answer: the operation timed out/, 5_000);
    p.child.kill('SIGINT');
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 0);
  });

  it('a user without the remote access role gets CONNECT_ERR_AUTH (403)', T, async () => {
    const s2 = await startSim({ quiet: true, users: [{ user: 'viewer', password: 'pw', roles: ['ROLE_INVENTORY_READ'] }] });
    try {
      const d = await s2.createDevice('d2');
      await s2.createConfiguration(d.id, { name: 'echo', hostname: echo.host, port: echo.port });
      const p = connect(['-d', 'd2', '-c', 'echo', '--stdio'], { C8Y_HOST: s2.httpUrl, C8Y_USER: 'viewer', C8Y_PASSWORD: 'pw' });
      assert.equal(await withTimeout(p.exited, 15_000, 'connect exit'), 1);
      assert.match(p.stderr(), /CONNECT_ERR_AUTH: .*HTTP 403[^\n]*\n$/);
    } finally {
      await s2.close();
    }
  });
});

describe('c8y-tunnel connect over TLS', () => {
  const fixture = (f: string): string => readFileSync(new URL(`../../../test/fixtures/tls/${f}`, import.meta.url), 'utf8');
  const caFile = fileURLToPath(new URL('../../../test/fixtures/tls/ca.pem', import.meta.url));

  /** A TLS front for the emulator (a plain byte relay, like a load balancer terminating TLS). */
  async function tlsFront(t: { after(fn: () => void | Promise<void>): void }): Promise<string> {
    const url = new URL(sim.httpUrl);
    const conns = new Set<net.Socket>();
    const srv = tls.createServer({ key: fixture('server.key'), cert: fixture('server.pem') }, (c) => {
      const up = net.connect(Number(url.port), url.hostname);
      for (const s of [c, up]) {
        conns.add(s);
        s.on('error', () => {});
        s.on('close', () => conns.delete(s));
      }
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    t.after(() => new Promise<void>((r) => {
      for (const s of conns) s.destroy();
      srv.close(() => r());
    }));
    return `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  }

  it('verifies the tenant with --ca and carries a session over wss', T, async (t) => {
    const host = await tlsFront(t);
    const data = randomBytesSeeded(64 * 1024, 12);
    await stdioEcho(['-d', 'dev-1', '-c', 'echo', '--stdio', '--linger', '0.1', '--ca', caFile], { C8Y_HOST: host }, data, 'echo over wss');
  });

  it('through HTTPS_PROXY: REST and wss tunnelled by CONNECT, the tenant still verified with --ca (and refused without it)', T, async (t) => {
    const host = await tlsFront(t);
    const px = await connectProxy();
    t.after(() => px.close());
    const data = randomBytesSeeded(64 * 1024, 24);
    await stdioEcho(['-d', 'dev-1', '-c', 'echo', '--stdio', '--linger', '0.1', '--ca', caFile], { C8Y_HOST: host, HTTPS_PROXY: px.url }, data, 'echo over wss through the proxy');
    assert.ok(px.connects >= 2 && px.carried.up > data.length && px.carried.down > data.length, `${px.connects} CONNECTs, ${JSON.stringify(px.carried)}`);
    const bare = connect(['-d', 'dev-1', '-c', 'echo', '--stdio'], { C8Y_HOST: host, HTTPS_PROXY: px.url });
    assert.equal(await withTimeout(bare.exited, 10_000, 'connect exit'), 1);
    assert.match(bare.stderr(), /CONNECT_ERR_CONFIG: TLS verification of 127\.0\.0\.1:\d+ failed \(\w+\)/);
  });

  it('without the CA: one line saying TLS verification failed and how to fix it', T, async (t) => {
    const host = await tlsFront(t);
    const p = connect(['-d', 'dev-1', '-c', 'echo', '--stdio'], { C8Y_HOST: host });
    assert.equal(await withTimeout(p.exited, 10_000, 'connect exit'), 1);
    assert.match(p.stderr(), /^c8y-tunnel connect: CONNECT_ERR_CONFIG: TLS verification of 127\.0\.0\.1:\d+ failed \(\w+\): pass its CA with --ca <file>\n$/);
  });
});

describe('c8y-tunnel connect through an HTTP CONNECT proxy', () => {
  const proxies: ConnectProxy[] = [];
  const proxy = async (opts: { refuse?: number; requireAuth?: string } = {}): Promise<ConnectProxy> => {
    const p = await connectProxy(opts);
    proxies.push(p);
    return p;
  };
  after(() => Promise.all(proxies.map((p) => p.close())));
  const simTarget = (): string => `CONNECT 127.0.0.1:${new URL(sim.httpUrl).port} HTTP/1.1`;

  it('HTTPS_PROXY: the REST look-ups and the session WebSocket go through the proxy; 1 MiB each way intact', T, async () => {
    const px = await proxy({ requireAuth: 'pu:pp' });
    const data = randomBytesSeeded(MiB, 21);
    await stdioEcho(['-d', 'dev-1', '-c', 'echo', '--stdio', '--linger', '0.1'], { HTTPS_PROXY: px.withAuth('pu:pp') }, data, 'echo over stdio through the proxy');
    assert.ok(px.connects >= 2, `the REST connection and the WebSocket each made a CONNECT (got ${px.connects})`);
    assert.ok(px.requests.every((r) => r === simTarget()), px.requests.join('; '));
    // The session's bytes crossed the proxy both ways (WebSocket framing on top of the 1 MiB).
    assert.ok(px.carried.up > MiB && px.carried.down > MiB, JSON.stringify(px.carried));
  });

  it('https_proxy (lower case) wins over HTTPS_PROXY, as in curl; --proxy wins over both', T, async () => {
    const good = await proxy();
    const bad = await proxy({ refuse: 403 });
    for (const [args, env] of [
      [[], { https_proxy: good.url, HTTPS_PROXY: bad.url }],
      [['--proxy', good.url], { https_proxy: bad.url, HTTPS_PROXY: bad.url }],
    ] as const) {
      const before = good.connects;
      const data = randomBytesSeeded(4096, 22);
      await stdioEcho(['-d', 'dev-1', '-c', 'echo', '--stdio', '--linger', '0.1', ...args], env, data, 'echo through the chosen proxy');
      assert.ok(good.connects - before >= 2, `${JSON.stringify(args)}: through the chosen proxy`);
    }
    assert.equal(bad.connects, 0, 'the other proxy saw nothing');
  });

  it('NO_PROXY (or --no-proxy) bypasses the proxy for the tenant: nothing reaches it', T, async () => {
    const px = await proxy({ refuse: 403 });
    for (const [args, env] of [
      [[], { HTTPS_PROXY: px.url, NO_PROXY: 'example.com, 127.0.0.1' }],
      [['--no-proxy', `127.0.0.1:${new URL(sim.httpUrl).port}`], { https_proxy: px.url }],
    ] as const) {
      const data = randomBytesSeeded(4096, 23);
      await stdioEcho(['-d', 'dev-1', '-c', 'echo', '--stdio', '--linger', '0.1', ...args], env, data, 'echo without the proxy');
    }
    assert.equal(px.connects, 0);
  });

  it('a proxy that refuses the CONNECT: one CONNECT_ERR_PROXY line with its status, never the cloud\'s CONNECT_ERR_AUTH', T, async () => {
    const px = await proxy({ refuse: 403 });
    const p = connect(['-d', 'dev-1', '-c', 'echo', '--stdio'], { HTTPS_PROXY: px.url });
    assert.equal(await withTimeout(p.exited, 15_000, 'connect exit'), 1);
    assert.match(p.stderr(), /^c8y-tunnel connect: CONNECT_ERR_PROXY: the proxy refused to connect to 127\.0\.0\.1:\d+ \(HTTP 403\): check --proxy\/https_proxy and the proxy's credentials\n$/);
    assert.equal(px.refused, 1);
    const down = connect(['-d', 'dev-1', '-c', 'echo', '--stdio'], { HTTPS_PROXY: `http://127.0.0.1:${await closedPort()}` });
    assert.equal(await withTimeout(down.exited, 15_000, 'connect exit'), 1);
    assert.match(down.stderr(), /^c8y-tunnel connect: CONNECT_ERR_PROXY: proxy 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\): check --proxy\/https_proxy\n$/);
  });

  it('library: a proxy that lets the REST look-ups through but refuses the WebSocket ends the session with CONNECT_ERR_PROXY (407)', T, async () => {
    const px = await proxy();
    const { target } = await prepareSession({
      baseUrl: sim.httpUrl,
      credentials: { kind: 'basic', tenant: sim.tenant, user: sim.user, password: sim.password },
      device: 'dev-1',
      config: 'echo',
      proxy: px.url,
      handshakeTimeoutMs: 5000,
    });
    assert.equal(target.proxy, px.url);
    px.refuse(407);
    const local = new PassThrough();
    const r = await withTimeout(runSession(local, new PassThrough(), { ...target, watch: undefined }), 10_000, 'session result');
    assert.equal(r.endedBy, 'error');
    assert.equal(r.error?.code, 'CONNECT_ERR_PROXY');
    assert.equal(r.error?.status, 407);
    assert.match(r.error?.message ?? '', /the proxy refused to connect to 127\.0\.0\.1:\d+ \(HTTP 407\)/);
  });
});

describe('connect library API', () => {
  it('listenLocal: a refused upgrade (unknown configuration id) ends the session with CONNECT_ERR_NOT_FOUND', T, async () => {
    const dev = await sim.createDevice('dev-1');
    const url = `${sim.wsUrl}/service/remoteaccess/client/${dev.id}/configurations/999999`;
    const results: string[] = [];
    const proxy = await listenLocal('127.0.0.1', 0, { url, authorization: sim.adminAuthHeader(), handshakeTimeoutMs: 5000 }, (r) => results.push(r.error?.code ?? 'ok'));
    try {
      const sock = net.connect(proxy.port, '127.0.0.1');
      sock.on('error', () => {});
      await withTimeout(new Promise<void>((r) => sock.once('close', () => r())), 10_000, 'socket closed');
      await waitFor(() => results.length === 1, 5000, 'session result');
      assert.deepEqual(results, ['CONNECT_ERR_NOT_FOUND']);
      assert.equal(proxy.stats().failed, 1);
    } finally {
      await proxy.close();
    }
  });
});
