/**
 * The "naive ws tunnel" baseline: what a first attempt looks like. TCP and WebSocket connected at once,
 * then `createWebSocketStream` piped both ways; ws defaults (random mask, bufferutil when installed),
 * except permessage-deflate, which no tunnel should offer.
 */
import net from 'node:net';
import WebSocket, { createWebSocketStream } from 'ws';

/** The same shape the harness uses for engine handles. */
export interface NaiveHandle {
  established: Promise<void>;
  closed: Promise<void>;
  close(): void;
}

/** Opens one naive tunnel. */
export function openNaive(spec: { host: string; port: number; url: string; headers?: Record<string, string> }): NaiveHandle {
  const tcp = net.connect({ host: spec.host, port: spec.port, noDelay: true });
  const ws = new WebSocket(spec.url, ['binary'], { perMessageDeflate: false, headers: spec.headers ?? {} });
  tcp.pause();
  const tcpUp = new Promise<void>((res, rej) => {
    tcp.once('connect', res);
    tcp.once('error', rej);
  });
  const wsUp = new Promise<void>((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });
  const closed = new Promise<void>((res) => {
    let n = 0;
    const one = (): void => {
      if (++n === 2) res();
    };
    tcp.once('close', one);
    ws.once('close', one);
  });
  tcp.on('error', () => ws.terminate());
  ws.on('error', () => tcp.destroy());
  const established = Promise.all([tcpUp, wsUp]).then(() => {
    const duplex = createWebSocketStream(ws);
    duplex.on('error', () => tcp.destroy());
    tcp.pipe(duplex);
    duplex.pipe(tcp);
    tcp.resume();
  });
  established.catch(() => {
    tcp.destroy();
    ws.terminate();
  });
  return {
    established,
    closed,
    close() {
      tcp.end();
      ws.close();
    },
  };
}
