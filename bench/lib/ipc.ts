/**
 * The control channel between the harness and each benchmark process: request/response JSON over the
 * Node IPC channel (fork), or, when the process runs under a wrapper such as clinic that hides the IPC
 * channel, over a Unix socket named in BENCH_CTRL (one JSON message per line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A request from the harness. */
export interface Request {
  id: number;
  cmd: string;
  args?: unknown;
}
/** A reply, or an unsolicited event (`ev`). */
export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string } | { ev: string; data: unknown };

/** A command handler in a benchmark process. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (args: any) => unknown;

/** Process usage as seen from inside (all threads). */
export interface SelfUsage {
  pid: number;
  cpuSec: number;
  rssKiB: number;
  maxRssKiB: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Calls `fn` with every non-empty line a socket receives. */
function onLines(sock: net.Socket, fn: (line: string) => void): void {
  let buf = '';
  sock.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line) fn(line);
    }
  });
}

function selfUsage(): SelfUsage {
  const c = process.cpuUsage();
  const m = process.memoryUsage();
  return {
    pid: process.pid,
    cpuSec: (c.user + c.system) / 1e6,
    rssKiB: Math.round(m.rss / 1024),
    maxRssKiB: process.resourceUsage().maxRSS,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

/** Serves commands in a benchmark process. Adds `usage`, `gc` and `exit`. */
export function serve(handlers: Record<string, Handler>): { emit(ev: string, data: unknown): void } {
  let send: (m: Reply) => void;
  const all: Record<string, Handler> = {
    usage: () => selfUsage(),
    gc: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc) {
        gc();
        await new Promise((r) => setImmediate(r));
        gc();
      }
      return selfUsage();
    },
    exit: () => {
      setTimeout(() => process.exit(0), 20);
      return true;
    },
    ...handlers,
  };
  const onRequest = (req: Request): void => {
    const h = all[req.cmd];
    if (!h) {
      send({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => h(req.args ?? {}))
      .then(
        (result) => send({ id: req.id, ok: true, result: result ?? null }),
        (err: unknown) => send({ id: req.id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  };
  const ctrl = process.env.BENCH_CTRL;
  if (process.send && !ctrl) {
    send = (m) => {
      if (process.connected) process.send!(m);
    };
    process.on('message', (m) => onRequest(m as Request));
    process.on('disconnect', () => process.exit(0));
  } else if (ctrl) {
    const sock = net.connect(ctrl);
    sock.setNoDelay(true);
    sock.on('error', () => process.exit(1));
    sock.on('close', () => process.exit(0));
    send = (m) => {
      if (!sock.destroyed) sock.write(JSON.stringify(m) + '\n');
    };
    onLines(sock, (line) => onRequest(JSON.parse(line) as Request));
  } else {
    throw new Error('a benchmark process needs an IPC channel or BENCH_CTRL');
  }
  send({ ev: 'ready', data: { pid: process.pid } });
  return { emit: (ev, data) => send({ ev, data }) };
}

/** A benchmark process seen from the harness. */
export interface Proc {
  readonly name: string;
  /** The process to account CPU and memory to (the node process itself, even under a wrapper). */
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  call<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  on(ev: string, fn: (data: unknown) => void): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  args?: string[];
  execArgv?: string[];
  env?: Record<string, string | undefined>;
  /** Run under a wrapper command, e.g. ['npx', 'clinic', 'flame', '--']: the control channel then uses a Unix socket. */
  wrap?: string[];
  cwd?: string;
  /** Where the child's stderr goes (default: inherited, prefixed lines are too costly on hot paths). */
  quiet?: boolean;
}

/**
 * The Node binary every benchmark process runs with: BENCH_NODE (set by `--node PATH`) or the harness's own.
 * The harness itself stays on the machine's Node; only the measured processes change.
 */
export function benchNode(): string {
  return process.env.BENCH_NODE || process.execPath;
}

/** Starts a Node benchmark process and waits for its `ready`. */
export async function startNode(name: string, script: string, opts: StartOptions = {}): Promise<Proc> {
  const env = { ...process.env, ...opts.env };
  let child: ChildProcess;
  let sendRaw: (m: Request) => void;
  const listeners = new Map<string, Array<(d: unknown) => void>>();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  const onReply = (m: Reply): void => {
    if ('ev' in m) {
      for (const fn of listeners.get(m.ev) ?? []) fn(m.data);
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${name}: ${m.error}`));
  };
  const stdio = opts.quiet ? (['ignore', 'ignore', 'pipe'] as const) : (['ignore', 'inherit', 'inherit'] as const);
  let ctrlServer: net.Server | null = null;
  let ctrlPath = '';
  if (opts.wrap) {
    ctrlPath = join(tmpdir(), `bench-ctrl-${randomBytes(6).toString('hex')}.sock`);
    ctrlServer = net.createServer();
    await new Promise<void>((r) => ctrlServer!.listen(ctrlPath, r));
    const [cmd, ...wrapArgs] = opts.wrap;
    child = spawn(cmd!, [...wrapArgs, benchNode(), ...(opts.execArgv ?? []), script, ...(opts.args ?? [])], {
      env: { ...env, BENCH_CTRL: ctrlPath },
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: opts.cwd,
    });
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      ctrlServer!.once('connection', resolve);
      child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before connecting`)));
    });
    sock.setNoDelay(true);
    sock.on('error', () => {});
    onLines(sock, (line) => onReply(JSON.parse(line) as Reply));
    sendRaw = (m) => sock.write(JSON.stringify(m) + '\n');
  } else {
    child = spawn(benchNode(), [...(opts.execArgv ?? []), script, ...(opts.args ?? [])], {
      env,
      stdio: [...stdio, 'ipc'],
      cwd: opts.cwd,
    });
    child.on('message', (m) => onReply(m as Reply));
    sendRaw = (m) => {
      if (child.connected) child.send(m);
    };
  }
  if (opts.quiet && child.stderr) {
    let tail = '';
    child.stderr.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    child.once('exit', (code) => {
      if (code) process.stderr.write(`[${name}] exited ${code}: ${tail}\n`);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then((code) => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${name} exited (${code})`));
    }
    pending.clear();
    if (ctrlServer) {
      ctrlServer.close();
      rmSync(ctrlPath, { force: true });
    }
  });
  const ready = await new Promise<{ pid: number }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not start in 30 s`)), 30_000);
    listeners.set('ready', [
      (d) => {
        clearTimeout(t);
        resolve(d as { pid: number });
      },
    ]);
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`${name} exited (${code}) during start`));
    });
  });
  let seq = 0;
  const proc: Proc = {
    name,
    pid: ready.pid,
    child,
    exited,
    call<T>(cmd: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
        sendRaw({ id, cmd, args });
      });
    },
    on(ev, fn) {
      const l = listeners.get(ev) ?? [];
      l.push(fn);
      listeners.set(ev, l);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        await proc.call('exit', {}, 5_000);
      } catch {
        // fall through to the signal
      }
      // A profiler wrapper writes its report after the process exits; give it time.
      const t = setTimeout(() => child.kill('SIGKILL'), opts.wrap ? 300_000 : 15_000);
      if (!opts.wrap) setTimeout(() => child.kill('SIGTERM'), 3_000).unref();
      await exited;
      clearTimeout(t);
    },
  };
  return proc;
}
