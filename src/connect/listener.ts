/**
 * The local listener of `connect --listen`: a TCP server that opens one client WebSocket per accepted
 * connection (like go-c8y-cli's `remoteaccess server`). `--stdio` needs no listener: it is one
 * `runSession` on stdin/stdout.
 */
import net from 'node:net';
import { listenOn } from '../net/listen.js';
import { ConnectError } from '../errors.js';
import { runSession, type SessionCounters, type SessionHooks, type SessionResult, type SessionTarget } from './session.js';

/** Default most concurrent sessions of one listener (each is a cloud operation and a few REST calls). */
export const DEFAULT_MAX_SESSIONS = 16;

/** Options of a listener. */
export interface ListenOptions {
  /** Most concurrent sessions; a connection beyond is closed at once and reported (CONNECT_ERR_LIMIT). */
  maxSessions?: number;
  /** Set-up progress of each session, by peer. */
  progress?: (event: 'waiting' | 'up', peer: string) => void;
}

/** A running local listener. */
export interface LocalProxy {
  readonly host: string;
  readonly port: number;
  /** Sessions currently open and the totals so far. */
  stats(): { open: number; total: number; failed: number; bytesUp: number; bytesDown: number };
  /** Stops listening and closes every session. */
  close(): Promise<void>;
}

/** Called once per finished session (failures included). */
export type SessionListener = (result: SessionResult, peer: string) => void;

/** Listens on host:port; each accepted connection becomes its own session. */
export async function listenLocal(host: string, port: number, target: SessionTarget, onSession?: SessionListener, opts: ListenOptions = {}): Promise<LocalProxy> {
  const live = new Map<net.Socket, SessionCounters>();
  const totals = { total: 0, failed: 0, bytesUp: 0, bytesDown: 0 };
  const max = opts.maxSessions ?? DEFAULT_MAX_SESSIONS;
  const server = net.createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (sock) => {
    const peer = `${sock.remoteAddress}:${sock.remotePort}`;
    sock.on('error', () => {});
    if (live.size >= max) {
      // Beyond the limit: no cloud operation, no REST call; the local client sees its connection close.
      totals.total++;
      totals.failed++;
      sock.destroy();
      onSession?.({ bytesUp: 0, bytesDown: 0, endedBy: 'error', error: new ConnectError('CONNECT_ERR_LIMIT', `${max} sessions are open (--max-sessions); connection from ${peer} closed`) }, peer);
      return;
    }
    const counters: SessionCounters = { bytesUp: 0, bytesDown: 0, open: true };
    live.set(sock, counters);
    totals.total++;
    const hooks: SessionHooks = opts.progress ? { waiting: () => opts.progress!('waiting', peer), up: () => opts.progress!('up', peer) } : {};
    void runSession(sock, sock, target, counters, hooks).then((r) => {
      live.delete(sock);
      totals.bytesUp += r.bytesUp;
      totals.bytesDown += r.bytesDown;
      if (r.error) {
        totals.failed++;
        sock.destroy();
      }
      onSession?.(r, peer);
    });
  });
  const addr = await listenOn(server, host, port).catch((err: NodeJS.ErrnoException) => {
    throw new ConnectError('CONNECT_ERR_CONFIG', `cannot listen on ${host}:${port} (${err.code ?? err.message})`, { syscode: err.code, cause: err });
  });
  return {
    host: addr.address,
    port: addr.port,
    stats: () => {
      let up = totals.bytesUp;
      let down = totals.bytesDown;
      for (const c of live.values()) {
        up += c.bytesUp;
        down += c.bytesDown;
      }
      return { open: live.size, total: totals.total, failed: totals.failed, bytesUp: up, bytesDown: down };
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live.keys()) s.destroy();
        server.close(() => resolve());
      }),
  };
}
