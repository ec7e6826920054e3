/**
 * One tunnel: a TCP connection to the target and a WebSocket to the cloud, connected concurrently,
 * then bytes pumped both ways with backpressure until either side ends.
 *
 * The same code runs on a worker thread and, with `threads: 0`, on the main thread. It must never throw
 * where it would take its thread down: every socket has an error listener, and every listener is a
 * module-level function that finds its tunnel through a symbol on the emitter (the ws idiom), so an idle
 * tunnel costs no closures.
 */
import net from 'node:net';
import tls from 'node:tls';
import { threadId } from 'node:worker_threads';
import WebSocket from 'ws';
import {
  DEFAULT_BOOTSTRAP_LIMIT,
  DEFAULT_CLOSE_GRACE_MS,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_TCP_CONNECT_TIMEOUT_MS,
  DEFAULT_WS_CONNECT_TIMEOUT_MS,
} from '../constants.js';
import { TunnelError, toWireError, type ErrorCode, type WireError } from '../errors.js';
import { sendOwned } from './mask.js';
import { connectViaProxy } from './proxy.js';
import type { EndCode, EndedBy, TunnelSpec, TunnelSummary } from './types.js';

const kTunnel = Symbol('tunnel');
type Tagged<T> = T & { [kTunnel]: Tunnel };
const tunnelOf = (e: object): Tunnel => (e as Tagged<object>)[kTunnel];

/** Callbacks a host (worker or main-thread engine) passes in. */
export interface TunnelHooks {
  onUp(t: Tunnel, setupMs: number): void;
  onFail(t: Tunnel, err: WireError): void;
  onEnd(t: Tunnel, summary: TunnelSummary): void;
}

const ZERO_MASK = (mask: Buffer): void => {
  mask.fill(0);
};

// Phases of the tunnel.
const SETUP = 0;
const OPEN = 1;
const ENDING = 2;
const DONE = 3;

/** A running tunnel. Created by startTunnel(). */
export class Tunnel {
  readonly id: number;
  readonly label: string | undefined;
  bytesUp = 0;
  bytesDown = 0;
  textFrames = 0;
  /** Byte counts the worker last reported to the coordinator (worker.ts). */
  reportedUp = 0;
  reportedDown = 0;

  private phase = SETUP;
  private readonly started: number;
  private setupMs: number | undefined;
  private readonly hooks: TunnelHooks;
  private readonly spec: TunnelSpec;
  private tcp: Tagged<net.Socket> | null = null;
  private ws: Tagged<WebSocket> | null = null;
  private tcpUp = false;
  private wsUp = false;
  private tcpClosed = false;
  private wsClosed = false;
  private tcpEnded = false;
  private timer: NodeJS.Timeout | null = null;
  private tcpTimer: NodeJS.Timeout | null = null;
  // Bootstrap queue: bytes that arrived on one leg before the other was up, in order.
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  peakHeld = 0;
  /** Bytes that arrived after their destination had closed (counted, not forwarded). */
  discarded = 0;
  private peakUp = 0;
  private peakDown = 0;
  private upPaused = false;
  private downPaused = false;
  private endedBy: EndedBy = 'setup';
  private endCode: EndCode = 'TUN_END_LOCAL';
  private endMessage: string | undefined;
  private wsCloseCode: number | undefined;
  private endStatus: number | undefined;
  private endSyscode: string | undefined;
  private readonly hwm: number;
  private readonly holdLimit: number;
  private heldFromWs = false;
  private graceOverride: number | undefined;
  private idleMark = 0;
  private idleSince = 0;

  constructor(id: number, spec: TunnelSpec, hooks: TunnelHooks) {
    this.id = id;
    this.label = spec.label;
    this.spec = spec;
    this.hooks = hooks;
    this.started = Date.now();
    this.hwm = spec.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.holdLimit = spec.bootstrapLimit ?? DEFAULT_BOOTSTRAP_LIMIT;
  }

  /** Starts both legs at once. */
  start(): void {
    this.connectTcp();
    this.timer = setTimeout(onWsTimeout, this.spec.wsConnectTimeoutMs ?? DEFAULT_WS_CONNECT_TIMEOUT_MS, this);
    if (this.spec.proxy) {
      const u = new URL(this.spec.url);
      const port = Number(u.port) || (u.protocol === 'wss:' ? 443 : 80);
      connectViaProxy(this.spec.proxy, u.hostname.replace(/^\[|\]$/g, ''), port, this.spec.wsConnectTimeoutMs ?? DEFAULT_WS_CONNECT_TIMEOUT_MS).then(
        (sock) => {
          if (this.phase !== SETUP) {
            sock.destroy();
            return;
          }
          this.connectWs(sock);
        },
        (err: unknown) => {
          this.wsClosed = true;
          this.failSetup(toWireError(err, 'TUN_ERR_PROXY'));
        },
      );
    } else {
      this.connectWs(null);
    }
  }

  private connectTcp(): void {
    const sock = net.connect({ host: this.spec.host, port: this.spec.port, noDelay: true }) as Tagged<net.Socket>;
    sock[kTunnel] = this;
    this.tcp = sock;
    this.tcpTimer = setTimeout(onTcpTimeout, this.spec.tcpConnectTimeoutMs ?? DEFAULT_TCP_CONNECT_TIMEOUT_MS, this);
    sock.on('connect', onTcpConnect);
    sock.on('data', onTcpData);
    sock.on('end', onTcpEnd);
    sock.on('error', onTcpError);
    sock.on('close', onTcpClose);
    sock.on('drain', onTcpDrain);
  }

  private connectWs(viaProxy: net.Socket | null): void {
    const spec = this.spec;
    const secure = spec.url.startsWith('wss:');
    const opts: WebSocket.ClientOptions = {
      headers: spec.headers ?? {},
      perMessageDeflate: false,
      maxPayload: spec.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      followRedirects: false,
      skipUTF8Validation: true,
    };
    if (spec.zeroMask) opts.generateMask = ZERO_MASK;
    if (secure && spec.tls) {
      if (spec.tls.ca) opts.ca = spec.tls.ca;
      if (spec.tls.rejectUnauthorized === false) opts.rejectUnauthorized = false;
      if (spec.tls.servername) (opts as { servername?: string }).servername = spec.tls.servername;
    }
    if (viaProxy) {
      opts.createConnection = (() => {
        if (!secure) return viaProxy;
        const host = new URL(spec.url).hostname;
        return tls.connect({
          socket: viaProxy,
          servername: spec.tls?.servername ?? (net.isIP(host) ? undefined : host),
          ca: spec.tls?.ca,
          rejectUnauthorized: spec.tls?.rejectUnauthorized !== false,
        });
      }) as unknown as WebSocket.ClientOptions['createConnection'];
    }
    let ws: Tagged<WebSocket>;
    try {
      // Always offer `binary`: Cumulocity forces it in the reply, and ws aborts on a subprotocol it did not offer.
      ws = new WebSocket(spec.url, ['binary'], opts) as Tagged<WebSocket>;
    } catch (err) {
      this.wsClosed = true;
      this.failSetup({ code: 'TUN_ERR_WS_CONNECT', message: `invalid WebSocket URL (${(err as Error).message})` });
      return;
    }
    ws[kTunnel] = this;
    this.ws = ws;
    ws.on('upgrade', onWsUpgrade);
    ws.on('unexpected-response', onWsUnexpectedResponse);
    ws.on('open', onWsOpen);
    ws.on('message', onWsMessage);
    ws.on('error', onWsError);
    ws.on('close', onWsClose);
  }

  // ---- set-up ----

  /** @internal */ tcpConnected(): void {
    if (this.tcpTimer) clearTimeout(this.tcpTimer);
    this.tcpTimer = null;
    this.tcpUp = true;
    this.maybeEstablish();
  }

  /** @internal */ wsOpened(): void {
    this.wsUp = true;
    this.maybeEstablish();
  }

  private maybeEstablish(): void {
    if (this.phase !== SETUP || !this.tcpUp || !this.wsUp) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.phase = OPEN;
    this.setupMs = Date.now() - this.started;
    if (this.spec.idleTimeoutMs) {
      this.idleMark = this.bytesUp + this.bytesDown;
      this.idleSince = Date.now();
      watchIdle(this);
    }
    this.flushHeld();
    this.hooks.onUp(this, this.setupMs);
    if (this.tcpEnded) this.endFirst('tcp', 'TUN_END_TCP_EOF');
  }

  private flushHeld(): void {
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    // A leg paused at the bootstrap bound stays paused until the flush is through; the flush itself may
    // pause it again through normal backpressure, whose wake-up then resumes it.
    const wasUpPaused = this.upPaused;
    const wasDownPaused = this.downPaused;
    this.upPaused = false;
    this.downPaused = false;
    if (held) {
      for (const buf of held) this.forward(buf);
    }
    if (wasUpPaused && !this.upPaused && !this.tcpEnded) this.tcp!.resume();
    if (wasDownPaused && !this.downPaused) this.ws!.resume();
  }

  /** @internal */ hold(buf: Buffer, from: 'tcp' | 'ws'): void {
    if (this.held === null) {
      this.held = [];
      this.heldFromWs = from === 'ws';
    }
    if (from === 'tcp' && this.heldBytes + buf.length > this.holdLimit) {
      // Keep exactly up to the bound and hand the rest back to the socket, which stays paused: the bound
      // is never passed and nothing is dropped. The returned bytes are read (and counted) again later.
      const keep = this.holdLimit - this.heldBytes;
      const rest = buf.subarray(keep);
      this.bytesUp -= rest.length;
      buf = buf.subarray(0, keep);
      this.upPaused = true;
      this.tcp!.pause();
      this.tcp!.unshift(rest);
      if (buf.length === 0) return;
    }
    this.held.push(buf);
    this.heldBytes += buf.length;
    if (this.heldBytes > this.peakHeld) this.peakHeld = this.heldBytes;
    if (this.heldBytes >= this.holdLimit) {
      // At the bound the producing leg pauses. A WebSocket message cannot be split, so that side may pass
      // the bound by at most one message (<= maxPayload).
      if (from === 'tcp' && !this.upPaused) {
        this.upPaused = true;
        this.tcp!.pause();
      } else if (from === 'ws' && !this.downPaused) {
        this.downPaused = true;
        this.ws!.pause();
      }
    }
  }

  /** @internal */ failSetup(err: WireError): void {
    if (this.phase !== SETUP) return;
    this.phase = ENDING;
    this.endedBy = 'setup';
    this.endCode = err.code;
    this.endMessage = err.message;
    this.endStatus = err.status;
    this.endSyscode = err.syscode;
    this.clearTimers();
    this.held = null;
    this.heldBytes = 0;
    this.hooks.onFail(this, err);
    if (this.tcp && !this.tcpClosed) this.tcp.destroy();
    else this.tcpClosed = true;
    if (this.ws && !this.wsClosed) this.ws.terminate();
    else this.wsClosed = true;
    this.maybeFinish();
  }

  // ---- forwarding ----

  /** @internal */ fromTcp(chunk: Buffer): void {
    if (this.phase === OPEN) {
      this.bytesUp += chunk.length;
      this.sendWs(chunk);
    } else if (this.phase === SETUP) {
      this.bytesUp += chunk.length;
      this.hold(chunk, 'tcp');
    } else {
      // ENDING: the cloud leg is closing and can take nothing more; said in the summary, never hidden.
      this.discarded += chunk.length;
    }
  }

  /** @internal */ fromWs(data: Buffer, isBinary: boolean): void {
    if (!isBinary) this.textFrames++;
    if (this.phase === OPEN || (this.phase === ENDING && this.tcp && this.tcp.writable)) {
      this.bytesDown += data.length;
      this.writeTcp(data);
    } else if (this.phase === SETUP) {
      this.bytesDown += data.length;
      this.hold(data, 'ws');
    } else {
      this.discarded += data.length;
    }
  }

  private forward(buf: Buffer): void {
    // Only one leg can be up while bytes are held, so the whole queue goes one way.
    if (this.heldFromWs) this.writeTcp(buf);
    else this.sendWs(buf);
  }

  /** Sends a chunk read from the target (or held since): the tunnel owns it, so it is masked in place. */
  private sendWs(chunk: Buffer): void {
    const ws = this.ws!;
    const queued = ws.bufferedAmount + chunk.length;
    if (queued > this.peakUp) this.peakUp = queued;
    if (queued > this.hwm && !this.upPaused) {
      // The last frame before the pause carries the wake-up: when it reaches the kernel, so has all before it.
      this.upPaused = true;
      this.tcp!.pause();
      sendOwned(ws, chunk, this.onSent);
    } else {
      sendOwned(ws, chunk);
    }
  }

  private readonly onSent = (err?: Error): void => {
    // Everything queued before this frame has reached the kernel, and TCP reads were paused meanwhile.
    if (err || !this.upPaused || this.phase !== OPEN) return;
    this.upPaused = false;
    this.tcp!.resume();
  };

  private writeTcp(data: Buffer): void {
    const tcp = this.tcp!;
    const ok = tcp.write(data);
    if (tcp.writableLength > this.peakDown) this.peakDown = tcp.writableLength;
    if (!ok && !this.downPaused) {
      this.downPaused = true;
      this.ws!.pause();
    }
  }

  /** @internal */ tcpDrained(): void {
    if (this.downPaused && this.phase === OPEN) {
      this.downPaused = false;
      this.ws!.resume();
    }
  }

  // ---- ending ----

  /** Closes the tunnel from our side (both legs, after a flush). */
  close(reason?: string, graceMs?: number): void {
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_ABORTED', message: reason ?? 'closed before the tunnel was established' });
      this.endedBy = 'local';
      return;
    }
    if (graceMs !== undefined) this.graceOverride = graceMs;
    this.endFirst('local', 'TUN_END_LOCAL', reason);
  }

  /** Destroys both legs at once (engine shutdown after the grace). */
  destroy(reason?: string): void {
    if (this.phase === DONE) return;
    if (this.phase === SETUP) {
      this.close(reason);
      return;
    }
    this.endFirst('engine', 'TUN_ERR_ENGINE_CLOSED', reason);
    this.tcp?.destroy();
    this.ws?.terminate();
  }

  /** @internal */ endFirst(by: EndedBy, code: EndCode, message?: string, wsCode = 1000): void {
    if (this.phase === SETUP) {
      if (by === 'tcp' && code === 'TUN_END_TCP_EOF') {
        // The target said what it had to say before the cloud leg was up: keep it and flush when the WebSocket opens.
        this.tcpEnded = true;
        return;
      }
      this.failSetup({ code: code as ErrorCode, message: message ?? code });
      return;
    }
    if (this.phase !== OPEN) return;
    this.phase = ENDING;
    this.endedBy = by;
    this.endCode = code;
    this.endMessage = message;
    if (!this.wsClosed) this.ws!.close(wsCode);
    const grace = this.graceOverride ?? this.spec.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    if ((by === 'local' || by === 'engine') && !this.wsClosed && !this.tcpClosed) {
      // Our own close: the cloud may still have bytes in flight for the target. Keep the target writable
      // until the cloud answers the close (wsGone ends it), and stop reading it: nothing read now could go
      // out. If the cloud is slow to answer, the target still gets an orderly end at half the grace.
      this.tcp!.pause();
      this.tcpTimer = setTimeout(onEndTargetDue, grace / 2, this);
    } else if (!this.tcpClosed) {
      this.tcp!.end();
    }
    if (this.downPaused) this.ws!.resume();
    this.timer = setTimeout(onGraceExpired, grace, this);
    this.maybeFinish();
  }

  /** @internal */ tcpGone(): void {
    this.tcpClosed = true;
    if (this.phase === OPEN) this.endFirst('tcp', 'TUN_END_TCP_EOF');
    this.maybeFinish();
  }

  /** @internal */ wsGone(code: number, reason: string): void {
    this.wsClosed = true;
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_WS_CONNECT', message: `cloud closed the WebSocket during the handshake (${code})` });
      return;
    }
    if (this.phase === OPEN) {
      this.wsCloseCode = code;
      if (code === 1006) this.endFirst('ws', 'TUN_ERR_WS_DROPPED', 'cloud connection dropped without a close frame (1006)');
      else this.endFirst('ws', 'TUN_END_WS_CLOSED', reason || `close code ${code}`);
    } else if (this.wsCloseCode === undefined) {
      this.wsCloseCode = code;
    }
    // The cloud is gone: let the target drain what it was sent, then end it.
    if (this.tcp && !this.tcpClosed && !this.tcp.writableEnded) this.tcp.end();
    this.maybeFinish();
  }

  /** @internal */ recordError(by: EndedBy, code: ErrorCode, message: string): void {
    if (this.phase === OPEN) {
      this.endFirst(by, code, message, by === 'tcp' ? 1011 : 1000);
      if (by === 'tcp') this.tcp?.destroy();
    } else if (this.phase === ENDING && this.endCode.startsWith('TUN_END')) {
      // An error while closing: keep who ended first, but surface the error.
      this.endMessage = this.endMessage ?? message;
    }
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.tcpTimer) clearTimeout(this.tcpTimer);
    this.timer = null;
    this.tcpTimer = null;
  }

  /** @internal */ endTarget(): void {
    this.tcpTimer = null;
    if (this.tcp && !this.tcpClosed && !this.tcp.writableEnded) this.tcp.end();
  }

  /** @internal */ graceExpired(): void {
    this.timer = null;
    this.tcp?.destroy();
    this.ws?.terminate();
  }

  private maybeFinish(): void {
    if (this.phase === DONE || !this.tcpClosed || !this.wsClosed) return;
    this.phase = DONE;
    this.clearTimers();
    idle.delete(this);
    const s: TunnelSummary = {
      id: this.id,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      textFrames: this.textFrames,
      durationMs: Date.now() - this.started,
      established: this.setupMs !== undefined,
      endedBy: this.endedBy,
      code: this.endCode,
      threadId,
      peakBootstrapBytes: this.peakHeld,
      peakBufferedUp: this.peakUp,
      peakBufferedDown: this.peakDown,
      bytesDiscarded: this.discarded,
    };
    if (this.label !== undefined) s.label = this.label;
    if (this.setupMs !== undefined) s.setupMs = this.setupMs;
    if (this.endMessage !== undefined) s.message = this.endMessage;
    if (this.wsCloseCode !== undefined) s.wsCloseCode = this.wsCloseCode;
    if (this.endStatus !== undefined) s.status = this.endStatus;
    if (this.endSyscode !== undefined) s.syscode = this.endSyscode;
    this.tcp = null;
    this.ws = null;
    this.hooks.onEnd(this, s);
  }

  /**
   * @internal Called by the idle sweep. Activity is seen as a change of the byte counters between sweeps,
   * so the data path carries no clock reads; a tunnel ends no earlier than idleTimeoutMs after its last byte.
   */
  checkIdle(now: number): void {
    const moved = this.bytesUp + this.bytesDown + this.discarded + this.textFrames;
    if (moved !== this.idleMark) {
      this.idleMark = moved;
      this.idleSince = now;
      return;
    }
    if (this.phase === OPEN && now - this.idleSince >= this.spec.idleTimeoutMs!) {
      idle.delete(this);
      this.endFirst('local', 'TUN_END_IDLE', `no traffic for ${this.spec.idleTimeoutMs} ms`);
    }
  }

  /** @internal test and stats access */
  get heldNow(): number {
    return this.heldBytes;
  }
  get isEstablished(): boolean {
    return this.setupMs !== undefined;
  }
  /** Bytes this tunnel holds in user space right now (bootstrap queue plus unsent WebSocket and TCP bytes). */
  get bufferedBytes(): number {
    return this.heldBytes + (this.ws?.bufferedAmount ?? 0) + (this.tcp?.writableLength ?? 0);
  }
}


// ---- idle timeouts: one coarse sweep for all tunnels instead of a timer each ----

const idle = new Set<Tunnel>();
let idleSweep: NodeJS.Timeout | null = null;

function watchIdle(t: Tunnel): void {
  idle.add(t);
  if (idleSweep) return;
  idleSweep = setInterval(() => {
    const now = Date.now();
    for (const x of idle) x.checkIdle(now);
    if (idle.size === 0 && idleSweep) {
      clearInterval(idleSweep);
      idleSweep = null;
    }
  }, 1000);
  idleSweep.unref();
}

// ---- listeners (module level: `this` is the emitter) ----

function onTcpConnect(this: net.Socket): void {
  tunnelOf(this).tcpConnected();
}
function onTcpData(this: net.Socket, chunk: Buffer): void {
  tunnelOf(this).fromTcp(chunk);
}
function onTcpEnd(this: net.Socket): void {
  tunnelOf(this).endFirst('tcp', 'TUN_END_TCP_EOF');
}
function onTcpDrain(this: net.Socket): void {
  tunnelOf(this).tcpDrained();
}
function onTcpClose(this: net.Socket): void {
  tunnelOf(this).tcpGone();
}
function onTcpError(this: net.Socket, err: NodeJS.ErrnoException): void {
  const t = tunnelOf(this);
  if (!t.isEstablished) {
    t.failSetup(tcpConnectError(err, t));
    return;
  }
  const code: ErrorCode = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'TUN_ERR_TCP_RESET' : 'TUN_ERR_TCP_ERROR';
  t.recordError('tcp', code, `target connection ${err.code === 'ECONNRESET' ? 'reset' : 'failed'} (${err.code ?? err.message})`);
}
function onTcpTimeout(t: Tunnel): void {
  t.failSetup({ code: 'TUN_ERR_TCP_TIMEOUT', message: `target ${t['spec'].host}:${t['spec'].port} did not accept the connection in time` });
}
function onWsTimeout(t: Tunnel): void {
  t.failSetup({ code: 'TUN_ERR_WS_TIMEOUT', message: 'cloud did not answer the WebSocket upgrade in time' });
}
function onEndTargetDue(t: Tunnel): void {
  t.endTarget();
}
function onGraceExpired(t: Tunnel): void {
  t.graceExpired();
}

function onWsUpgrade(this: WebSocket, res: { headers: Record<string, string | string[] | undefined> }): void {
  // Cumulocity always answers `binary`; tolerate a (lenient) server that leaves it out, which ws would refuse.
  if (res.headers['sec-websocket-protocol'] === undefined) res.headers['sec-websocket-protocol'] = 'binary';
}
function onWsUnexpectedResponse(this: WebSocket, _req: unknown, res: { statusCode?: number; resume(): void }): void {
  const status = res.statusCode ?? 0;
  res.resume();
  tunnelOf(this).failSetup({ code: 'TUN_ERR_WS_HTTP_STATUS', message: `cloud refused WebSocket: HTTP ${status}`, status });
}
function onWsOpen(this: WebSocket): void {
  tunnelOf(this).wsOpened();
}
function onWsMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  tunnelOf(this).fromWs(data, isBinary);
}
function onWsError(this: WebSocket, err: Error & { code?: string }): void {
  const t = tunnelOf(this);
  if (!t.isEstablished) {
    t.failSetup(wsConnectError(err));
    return;
  }
  const code: ErrorCode = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'TUN_ERR_WS_PAYLOAD_TOO_BIG' : 'TUN_ERR_WS_ERROR';
  t.recordError('ws', code, `cloud WebSocket error (${err.code ?? err.message})`);
}
function onWsClose(this: WebSocket, code: number, reason: Buffer): void {
  tunnelOf(this).wsGone(code, reason.length > 0 ? reason.toString('utf8').slice(0, 120) : '');
}

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

function tcpConnectError(err: NodeJS.ErrnoException, t: Tunnel): WireError {
  const target = `target ${t['spec'].host}:${t['spec'].port}`;
  const sys = err.code ?? 'EUNKNOWN';
  switch (sys) {
    case 'ECONNREFUSED':
      return { code: 'TUN_ERR_TCP_REFUSED', message: `${target} refused connection (ECONNREFUSED)`, syscode: sys };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return { code: 'TUN_ERR_TCP_DNS', message: `${target} did not resolve (${sys})`, syscode: sys };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return { code: 'TUN_ERR_TCP_UNREACHABLE', message: `${target} unreachable (${sys})`, syscode: sys };
    case 'ETIMEDOUT':
      return { code: 'TUN_ERR_TCP_TIMEOUT', message: `${target} did not accept the connection in time (ETIMEDOUT)`, syscode: sys };
    case 'ECONNRESET':
      return { code: 'TUN_ERR_TCP_RESET', message: `${target} reset the connection during set-up (ECONNRESET)`, syscode: sys };
    default:
      return { code: 'TUN_ERR_TCP_CONNECT', message: `${target} connection failed (${sys})`, syscode: sys };
  }
}

function wsConnectError(err: Error & { code?: string }): WireError {
  const sys = err.code;
  if (sys && TLS_CODES.has(sys)) return { code: 'TUN_ERR_WS_TLS', message: `cloud TLS certificate rejected (${sys})`, syscode: sys };
  if (sys && /^E[A-Z]+$/.test(sys)) {
    const kind = sys === 'ECONNREFUSED' ? 'refused connection' : sys === 'ENOTFOUND' || sys === 'EAI_AGAIN' ? 'did not resolve' : 'failed';
    return { code: 'TUN_ERR_WS_CONNECT', message: `cloud endpoint ${kind} (${sys})`, syscode: sys };
  }
  if (/subprotocol|Sec-WebSocket|Upgrade header|extension/i.test(err.message)) {
    return { code: 'TUN_ERR_WS_PROTOCOL', message: `cloud WebSocket handshake invalid (${err.message})` };
  }
  return { code: 'TUN_ERR_WS_CONNECT', message: `cloud WebSocket failed (${sys ?? err.message})` };
}

/** The summary of a tunnel that never got going (invalid spec, engine closed, worker lost). */
export function failedSummary(id: number, err: WireError, label: string | undefined, threadId = 0): TunnelSummary {
  const s: TunnelSummary = {
    id,
    bytesUp: 0,
    bytesDown: 0,
    textFrames: 0,
    durationMs: 0,
    established: false,
    endedBy: 'setup',
    code: err.code,
    message: err.message,
    threadId,
    peakBootstrapBytes: 0,
  };
  if (label !== undefined) s.label = label;
  if (err.status !== undefined) s.status = err.status;
  if (err.syscode !== undefined) s.syscode = err.syscode;
  return s;
}

/** Opens one tunnel. */
export function startTunnel(id: number, spec: TunnelSpec, hooks: TunnelHooks): Tunnel {
  const t = new Tunnel(id, spec, hooks);
  t.start();
  return t;
}

/** Validates a spec at the boundary; throws TUN_ERR_INVALID_SPEC. */
export function validateSpec(spec: TunnelSpec): void {
  if (!spec || typeof spec !== 'object') throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec must be an object');
  if (typeof spec.host !== 'string' || spec.host === '' || /[\s\u0000-\u001f\u007f]/.test(spec.host) || spec.host.length > 253) {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.host must be a host name or address');
  }
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.port must be an integer 1-65535');
  }
  let u: URL;
  try {
    u = new URL(spec.url);
  } catch {
    throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.url must be a ws: or wss: URL');
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TunnelError('TUN_ERR_INVALID_SPEC', 'spec.url must be a ws: or wss: URL');
  for (const k of ['tcpConnectTimeoutMs', 'wsConnectTimeoutMs', 'maxPayload', 'bootstrapLimit', 'highWaterMark', 'closeGraceMs', 'idleTimeoutMs'] as const) {
    const v = spec[k];
    if (v !== undefined && (!Number.isFinite(v) || v <= 0) && !(k === 'idleTimeoutMs' && v === 0)) throw new TunnelError('TUN_ERR_INVALID_SPEC', `spec.${k} must be a positive number`);
  }
}
