/**
 * A TCP end of a chain, in its own process: the target service or the load generator. It listens or
 * dials, and each group of connections plays one role: sink (counts and verifies the pattern), source
 * (sends the pattern on command), echo, or pinger (1-byte round trips).
 */
import net from 'node:net';
import { serve } from '../lib/ipc.js';
import { matches, slice } from '../lib/pattern.js';
import { latencySummary } from '../lib/stats.js';

type Role = 'sink' | 'source' | 'echo' | 'pinger';
const CHUNK = 64 * 1024;

interface Conn {
  s: net.Socket;
  rx: number;
  rxPhase: number;
  tx: number;
  bad: boolean;
  toSend: number;
  /** Bytes per write() of a source (default 64 KiB): the write size the far end is fed. */
  chunk: number;
}

interface Group {
  id: number;
  role: Role;
  server: net.Server | null;
  conns: Conn[];
  accepted: number;
  target: number;
  done: (() => void) | null;
  lastAt: number;
  firstAt: number;
  streamTimer: NodeJS.Timeout | null;
  sendDone: (() => void) | null;
  sending: number;
}

const groups = new Map<number, Group>();
let seq = 0;
const now = (): number => performance.timeOrigin + performance.now();

function group(id: number): Group {
  const g = groups.get(id);
  if (!g) throw new Error(`no group ${id}`);
  return g;
}

function attach(g: Group, s: net.Socket): void {
  s.setNoDelay(true);
  const c: Conn = { s, rx: 0, rxPhase: 0, tx: 0, bad: false, toSend: 0, chunk: CHUNK };
  g.conns.push(c);
  g.accepted++;
  s.on('error', () => {});
  s.on('close', () => {
    const i = g.conns.indexOf(c);
    if (i >= 0) g.conns.splice(i, 1);
  });
  if (g.role === 'echo') {
    s.pipe(s);
  } else if (g.role === 'sink' || g.role === 'source') {
    s.on('data', (d: Buffer) => onSinkData(g, c, d));
  }
}

function onSinkData(g: Group, c: Conn, d: Buffer): void {
  if (!c.bad && !matches(c.rx, d)) c.bad = true;
  c.rx += d.length;
  c.rxPhase += d.length;
  if (g.firstAt === 0) g.firstAt = now();
  g.lastAt = now();
  if (g.done && c.rxPhase >= g.target) checkDone(g);
}

function checkDone(g: Group): void {
  if (!g.done) return;
  for (const c of g.conns) if (c.rxPhase < g.target) return;
  const d = g.done;
  g.done = null;
  d();
}

function pump(g: Group, c: Conn): void {
  while (c.toSend > 0) {
    const n = Math.min(c.chunk, c.toSend);
    const b = slice(c.tx, n);
    c.tx += n;
    c.toSend -= n;
    if (!c.s.write(b)) {
      c.s.once('drain', () => pump(g, c));
      return;
    }
  }
  if (--g.sending === 0 && g.sendDone) g.sendDone();
}

function newGroup(role: Role): Group {
  const g: Group = { id: ++seq, role, server: null, conns: [], accepted: 0, target: 0, done: null, lastAt: 0, firstAt: 0, streamTimer: null, sendDone: null, sending: 0 };
  groups.set(g.id, g);
  return g;
}

serve({
  /** Listens on 127.0.0.1:0; every accepted connection joins the group. */
  async listen(a: { role: Role }) {
    const g = newGroup(a.role);
    const server = net.createServer({ noDelay: true }, (s) => attach(g, s));
    server.maxConnections = 30_000;
    g.server = server;
    await new Promise<void>((r) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r));
    return { group: g.id, port: (server.address() as net.AddressInfo).port };
  },
  /** Dials `count` connections (at most `window` at a time). */
  async dial(a: { host?: string; port: number; count: number; role: Role; window?: number }) {
    const g = newGroup(a.role);
    let next = 0;
    const one = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const s = net.connect({ host: a.host ?? '127.0.0.1', port: a.port, noDelay: true });
        s.once('connect', () => {
          attach(g, s);
          resolve();
        });
        s.once('error', reject);
      });
    const worker = async (): Promise<void> => {
      while (next < a.count) {
        next++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.min(a.window ?? 64, a.count) }, worker));
    return { group: g.id };
  },
  conns: (a: { group: number }) => group(a.group).conns.length,
  /** Resolves when the group holds `count` connections. */
  async waitConns(a: { group: number; count: number; timeoutMs?: number }) {
    const g = group(a.group);
    const end = Date.now() + (a.timeoutMs ?? 60_000);
    while (g.conns.length < a.count) {
      if (Date.now() > end) throw new Error(`group ${a.group}: ${g.conns.length} of ${a.count} connections`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return g.conns.length;
  },
  /** A sink phase: wait() resolves when every connection got `bytesPerConn` more bytes. */
  arm(a: { group: number; bytesPerConn: number }) {
    const g = group(a.group);
    g.target = a.bytesPerConn;
    g.firstAt = 0;
    g.lastAt = 0;
    for (const c of g.conns) c.rxPhase = 0;
    return true;
  },
  async wait(a: { group: number; timeoutMs?: number }) {
    const g = group(a.group);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        g.done = null;
        const got = g.conns.reduce((n, c) => n + c.rxPhase, 0);
        reject(new Error(`sink: ${got} of ${g.target * g.conns.length} bytes after ${a.timeoutMs ?? 600_000} ms`));
      }, a.timeoutMs ?? 600_000);
      g.done = () => {
        clearTimeout(t);
        resolve();
      };
      checkDone(g);
    });
    const bytes = g.conns.reduce((n, c) => n + c.rxPhase, 0);
    return { bytes, exact: g.conns.every((c) => c.rxPhase === g.target), verified: g.conns.every((c) => !c.bad), firstAt: g.firstAt, lastAt: g.lastAt, conns: g.conns.length };
  },
  /** Sends `bytesPerConn` pattern bytes on every connection in writes of `chunk` bytes (<= 1 MiB, default 64 KiB); resolves when all are handed to the kernel. */
  async send(a: { group: number; bytesPerConn: number; chunk?: number }) {
    const g = group(a.group);
    const startedAt = now();
    await new Promise<void>((resolve) => {
      g.sending = g.conns.length;
      g.sendDone = resolve;
      if (g.sending === 0) resolve();
      for (const c of g.conns) {
        c.chunk = a.chunk ?? CHUNK;
        c.toSend += a.bytesPerConn;
        pump(g, c);
      }
    });
    return { startedAt, endedAt: now() };
  },
  /** Starts sending without waiting (a stalled reader never lets it finish). */
  start(a: { group: number; bytesPerConn: number }) {
    const g = group(a.group);
    g.sending = g.conns.length;
    g.sendDone = null;
    for (const c of g.conns) {
      c.toSend += a.bytesPerConn;
      pump(g, c);
    }
    return { startedAt: now() };
  },
  /** Bytes sent and received so far, and bytes still queued in user space. */
  progress(a: { group: number }) {
    const g = group(a.group);
    let tx = 0;
    let rx = 0;
    let queued = 0;
    for (const c of g.conns) {
      tx += c.tx;
      rx += c.rx;
      queued += c.s.writableLength;
    }
    return { tx, rx, queued, kernel: tx - queued, conns: g.conns.length };
  },
  /** Busy neighbours: `bytesPerTick` on every connection each `intervalMs`, skipping a tick while the socket is full. */
  stream(a: { group: number; bytesPerTick: number; intervalMs: number }) {
    const g = group(a.group);
    if (g.streamTimer) clearInterval(g.streamTimer);
    g.streamTimer = setInterval(() => {
      for (const c of g.conns) {
        if (c.s.writableLength > 0) continue;
        c.s.write(slice(c.tx, a.bytesPerTick));
        c.tx += a.bytesPerTick;
      }
    }, a.intervalMs);
    return true;
  },
  stopStream(a: { group: number }) {
    const g = group(a.group);
    if (g.streamTimer) clearInterval(g.streamTimer);
    g.streamTimer = null;
    return true;
  },
  pause(a: { group: number }) {
    for (const c of group(a.group).conns) c.s.pause();
    return true;
  },
  resume(a: { group: number }) {
    for (const c of group(a.group).conns) c.s.resume();
    return true;
  },
  /** 1-byte ping-pong on the group's first connection; microseconds per round trip. */
  async ping(a: { group: number; count: number; warmup?: number; raw?: boolean }) {
    const g = group(a.group);
    const c = g.conns[0];
    if (!c) throw new Error('pinger has no connection');
    const s = c.s;
    const total = a.count + (a.warmup ?? 100);
    const rtts: number[] = [];
    const one = Buffer.from([0x2a]);
    let bad = 0;
    await new Promise<void>((resolve, reject) => {
      let t0 = 0n;
      let i = 0;
      const onData = (d: Buffer): void => {
        // One byte out, one byte back; anything else is an error of the chain.
        if (d.length !== 1 || d[0] !== 0x2a) bad++;
        const dt = Number(process.hrtime.bigint() - t0) / 1000;
        if (i >= total - a.count) rtts.push(dt);
        if (++i >= total) {
          s.off('data', onData);
          resolve();
          return;
        }
        t0 = process.hrtime.bigint();
        s.write(one);
      };
      s.on('data', onData);
      s.once('close', () => reject(new Error('pinger connection closed')));
      t0 = process.hrtime.bigint();
      s.write(one);
    });
    return { ...latencySummary(rtts), bad, ...(a.raw ? { rtts } : {}) };
  },
  /** Closes every connection of a group (end, then destroy after 2 s). */
  async closeAll(a: { group: number }) {
    const g = group(a.group);
    if (g.streamTimer) clearInterval(g.streamTimer);
    const conns = [...g.conns];
    for (const c of conns) c.s.end();
    const end = Date.now() + 2_000;
    while (g.conns.length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    for (const c of [...g.conns]) c.s.destroy();
    return true;
  },
});
