/**
 * Dialing the cloud: the WebSocket opening handshake (RFC 6455 section 4.1) done with Node's own HTTP
 * client, optionally through an HTTP CONNECT proxy, over TLS for wss:. What it hands back is the raw
 * socket and the bytes that followed the 101 answer; the data phase is ours (ws-codec.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { toWireError, type WireError } from '../errors.js';
import { cloudConnectError } from './classify.js';
import { connectViaProxy } from '../net/proxy.js';
import { CLOUD_ONREAD, tagCloud, type LegEvents } from './listeners.js';
import { capCloudRead } from './read-buffer.js';
import type { ResolvedSpec } from './spec.js';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface DialHandlers {
  /** The upgrade succeeded: the socket is the tunnel's, `head` holds bytes already read past the answer. */
  onOpen(socket: net.Socket, head: Buffer): void;
  onFail(err: WireError): void;
}

export interface Dialing {
  /** Stops dialing (a timeout, the tunnel closed during set-up): no handler is called after this. */
  abort(): void;
}

/**
 * Starts the WebSocket handshake; exactly one of the handlers is called, unless aborted first. A socket
 * dialed here (not through a proxy) is read through `onread` (listeners.ts) from the start, and `h` hands
 * its reads of the answer on to Node's HTTP client as 'data', the event the client reads a socket by
 * (its `socketOnData` listener, on every line from Node 20 to 26; the suite runs on 20 and 24 in CI). A
 * client that read the socket another way would leave the answer unread: every dial would end in
 * TUN_ERR_WS_TIMEOUT, which every engine test would show.
 */
export function dialCloud(spec: ResolvedSpec, h: DialHandlers & LegEvents): Dialing {
  let done = false;
  let req: http.ClientRequest | null = null;
  let raw: net.Socket | null = null;
  const finish = (err: WireError | null, socket?: net.Socket, head?: Buffer): void => {
    if (done) return;
    done = true;
    if (err) {
      req?.destroy();
      raw?.destroy();
      h.onFail(err);
    } else {
      h.onOpen(socket!, head!);
    }
  };
  const dialing: Dialing = {
    abort() {
      if (done) return;
      done = true;
      req?.destroy();
      raw?.destroy();
    },
  };
  const u = new URL(spec.url);
  const secure = u.protocol === 'wss:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port) || (secure ? 443 : 80);
  const start = (via: net.Socket | null): void => {
    if (done) {
      via?.destroy();
      return;
    }
    raw = via;
    try {
      req = upgradeRequest(spec, u, secure, host, port, via, h, finish);
    } catch (err) {
      finish({ code: 'TUN_ERR_WS_CONNECT', message: `invalid WebSocket request (${(err as Error).message})` });
    }
  };
  if (spec.proxy) {
    connectViaProxy(spec.proxy, host, port, spec.wsConnectTimeoutMs).then(start, (err: unknown) => finish(toWireError(err, 'TUN_ERR_PROXY')));
  } else {
    start(null);
  }
  return dialing;
}

function upgradeRequest(
  spec: ResolvedSpec,
  u: URL,
  secure: boolean,
  host: string,
  port: number,
  via: net.Socket | null,
  h: LegEvents,
  finish: (err: WireError | null, socket?: net.Socket, head?: Buffer) => void,
): http.ClientRequest {
  const key = randomBytes(16).toString('base64');
  const servername = spec.tls?.servername ?? (net.isIP(host) ? undefined : host);
  const tlsOptions = (): tls.ConnectionOptions => {
    const o: tls.ConnectionOptions = { host, port, rejectUnauthorized: spec.tls?.rejectUnauthorized !== false };
    if (servername !== undefined) o.servername = servername;
    if (spec.tls?.ca) o.ca = spec.tls.ca;
    return o;
  };
  const createConnection = (): net.Socket => {
    // Through a proxy the socket keeps Node's own reads (a TLS socket over another socket ignores onread).
    if (via) return secure ? tls.connect({ ...tlsOptions(), socket: via }) : via;
    // The first read of a socket dialed here is capped like every later one (tunnel.ts, fromCloudRead):
    // what follows the answer in it may go to an empty bootstrap queue.
    capCloudRead(Math.min(spec.highWaterMark, spec.bootstrapLimit));
    // tls.connect takes net's `onread` when it opens the socket itself (Node's tls docs); @types/node lacks it.
    const s = secure
      ? tls.connect({ ...tlsOptions(), onread: CLOUD_ONREAD } as tls.ConnectionOptions)
      : net.connect({ host, port, onread: CLOUD_ONREAD } as net.NetConnectOpts);
    tagCloud(h, s);
    return s;
  };
  const opts: http.RequestOptions = {
    host,
    port,
    path: `${u.pathname}${u.search}`,
    method: 'GET',
    headers: {
      ...spec.headers,
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      // Always offered: Cumulocity answers `binary` whatever the client asked for.
      'Sec-WebSocket-Protocol': 'binary',
    },
    createConnection: createConnection as unknown as http.RequestOptions['createConnection'],
  };
  const req = (secure ? https : http).request(opts);
  req.on('upgrade', (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const bad = checkAnswer(res, key);
    if (bad) {
      socket.destroy();
      finish({ code: 'TUN_ERR_WS_PROTOCOL', message: `cloud WebSocket handshake invalid (${bad})` });
      return;
    }
    socket.setNoDelay(true);
    socket.setTimeout(0);
    finish(null, socket, head);
  });
  req.on('response', (res: http.IncomingMessage) => {
    const status = res.statusCode ?? 0;
    res.resume();
    finish({ code: 'TUN_ERR_WS_HTTP_STATUS', message: `cloud refused WebSocket: HTTP ${status}`, status });
  });
  req.on('error', (err: NodeJS.ErrnoException) => finish(cloudConnectError(err)));
  req.end();
  return req;
}

/** What is wrong with a 101 answer, or null (RFC 6455 section 4.1, the client's checks). */
function checkAnswer(res: http.IncomingMessage, key: string): string | null {
  if (res.statusCode !== 101) return `status ${res.statusCode}`;
  if (String(res.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'Upgrade header is not websocket';
  const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
  if (res.headers['sec-websocket-accept'] !== accept) return 'Sec-WebSocket-Accept does not match the key';
  // A reply without a subprotocol is tolerated (a lenient server); one we did not offer is not.
  const proto = res.headers['sec-websocket-protocol'];
  if (proto !== undefined && proto.trim() !== 'binary') return `subprotocol ${JSON.stringify(String(proto).slice(0, 40))} was not offered`;
  if (res.headers['sec-websocket-extensions'] !== undefined) return 'extension was not offered';
  return null;
}
