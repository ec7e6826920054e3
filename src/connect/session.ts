/**
 * One user-side session: a local byte stream (an accepted TCP socket, or stdin/stdout) joined to one client
 * WebSocket at /service/remoteaccess/client/{device}/configurations/{config}. When either side ends, the
 * other is closed; a session is never resumed (a reconnect is a new operation on the cloud side).
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import { WebSocket } from 'ws';
import { CONNECT_LOW_WATER_MARK, DEFAULT_CLOSE_GRACE_MS, DEFAULT_HIGH_WATER_MARK } from '../constants.js';
import { C8yTunnelError, ConnectError, errorFor } from '../errors.js';
import { connectViaProxy } from '../net/proxy.js';
import { proxyError } from './rest.js';
import type { OperationWatch } from './watch.js';

/** Where and how to open the client WebSocket. */
export interface SessionTarget {
  /** ws:// or wss:// URL of the client endpoint. */
  url: string;
  authorization: string;
  ca?: string[];
  /** HTTP(S) proxy to open the WebSocket through (HTTP CONNECT); NO_PROXY already applied. */
  proxy?: string;
  handshakeTimeoutMs: number;
  /** Makes a watch of the session's operation (one per session), so a device's FAILED ends it with its reason. */
  watch?: () => OperationWatch;
  /** How often the watch looks, ms (default 1000). */
  watchIntervalMs?: number;
  /** After local EOF, close once the device has been quiet this long, ms (default 2000; 0 = at once). */
  lingerMs?: number;
}

/** What a finished session reports. */
export interface SessionResult {
  /** Bytes read locally and sent to the device. */
  bytesUp: number;
  /** Bytes received from the device and written locally. */
  bytesDown: number;
  /** Who ended it: the local side, the cloud, or a failure before/while connecting. */
  endedBy: 'local' | 'cloud' | 'error';
  /** WebSocket close code, when the cloud closed. */
  closeCode?: number;
  /** Set when the session failed (auth, not found, device offline, network). */
  error?: C8yTunnelError;
}

/** Moments of a session's set-up, for progress lines. */
export interface SessionHooks {
  /** The client WebSocket is open: the cloud now asks the device (up to its 30 s operation timeout). */
  waiting?(): void;
  /** The device joined: its first byte came, or its operation is SUCCESSFUL. */
  up?(): void;
}

/** Live counters of one session (read by status lines). */
export interface SessionCounters {
  bytesUp: number;
  bytesDown: number;
  open: boolean;
}

/** After local EOF, how long the device must be quiet before the session closes. */
export const DEFAULT_LINGER_MS = 2_000;

/** Client WebSocket URL for a device and configuration under a tenant base URL. */
export function clientUrl(baseUrl: string, deviceId: string, configId: string): string {
  const ws = baseUrl.replace(/^http/i, 'ws');
  return `${ws}/service/remoteaccess/client/${encodeURIComponent(deviceId)}/configurations/${encodeURIComponent(configId)}`;
}

/** Maps a refused upgrade to one clear, coded error. */
export function upgradeError(status: number): C8yTunnelError {
  if (status === 401) return new ConnectError('CONNECT_ERR_AUTH', 'the cloud rejected the credentials (HTTP 401)', { status });
  if (status === 403) return new ConnectError('CONNECT_ERR_AUTH', 'the user may not open remote access sessions (HTTP 403: missing Remote access role?)', { status });
  if (status === 404) return new ConnectError('CONNECT_ERR_NOT_FOUND', 'the cloud knows no such device or configuration (HTTP 404)', { status });
  return new ConnectError('CONNECT_ERR_NOT_FOUND', `the cloud refused the session (HTTP ${status})`, { status });
}

/**
 * A close before the device sent a byte, with an error code or a reason naming a timeout, means the device
 * never joined: the operation timed out on the cloud side.
 */
export function isOfflineClose(code: number, reason: string, bytesDown: number): boolean {
  if (bytesDown > 0 || /idle/i.test(reason)) return false;
  return /did not connect|time(d)?[ -]?out|offline/i.test(reason) || code === 1011;
}

/** The error for an operation the device reported FAILED. */
export function deviceFailedError(reason: string | undefined): C8yTunnelError {
  const why = (reason ?? 'no reason given').replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, 300);
  if (/did not connect|time(d)?[ -]?out/i.test(why)) return new ConnectError('CONNECT_ERR_OFFLINE', `the device did not answer: ${why}`);
  return new ConnectError('CONNECT_ERR_DEVICE_FAILED', `the device could not open the session: ${why}`);
}

/** Runs one session until either side ends; resolves (never rejects) with its result. */
export async function runSession(input: Readable, output: Writable, target: SessionTarget, counters?: SessionCounters, hooks: SessionHooks = {}): Promise<SessionResult> {
  input.pause();
  const watch = target.watch?.();
  if (watch) await watch.baseline().catch(() => {});
  let via: net.Socket | undefined;
  if (target.proxy) {
    const u = new URL(target.url);
    const port = Number(u.port) || (u.protocol === 'wss:' ? 443 : 80);
    try {
      via = await connectViaProxy(target.proxy, u.hostname.replace(/^\[|\]$/g, ''), port, target.handshakeTimeoutMs);
    } catch (err) {
      if (!output.writableEnded && !output.destroyed) output.end();
      input.destroy();
      const e = err instanceof C8yTunnelError ? err : undefined;
      const extra = { cause: err, ...(e?.status !== undefined ? { status: e.status } : {}), ...(e?.syscode !== undefined ? { syscode: e.syscode } : {}) };
      return { bytesUp: 0, bytesDown: 0, endedBy: 'error', error: proxyError(u.host, e?.status, (err as Error).message, extra) };
    }
  }
  return new ClientSession(input, output, target, counters ?? { bytesUp: 0, bytesDown: 0, open: false }, watch, hooks, via).done;
}

/**
 * ws's `createConnection` for a socket already tunnelled through the proxy: TLS on top of it for wss:
 * (ws's own options: CA, host name for SNI and the certificate check), the socket itself for ws:.
 */
function overSocket(via: net.Socket, secure: boolean): (o: tls.ConnectionOptions) => net.Socket {
  return (o) => {
    if (!secure) return via;
    const servername = o.servername || (o.host && !net.isIP(o.host) ? o.host : undefined);
    return tls.connect({ ...o, socket: via, ...(servername ? { servername } : {}) });
  };
}

/** One session's state machine: set-up, the byte pump both ways, linger after local EOF, and the end. */
class ClientSession {
  readonly done: Promise<SessionResult>;
  private resolveDone!: (r: SessionResult) => void;
  private readonly ws: WebSocket;
  private opened = false;
  private finished = false;
  /** Local EOF seen: nothing more is read. */
  private localEnded = false;
  /** Our close frame is on its way. */
  private wsClosing = false;
  private inputPaused = false;
  private wsPaused = false;
  /** The device has joined: a first byte came, or its operation is SUCCESSFUL. */
  private deviceUp = false;
  private lastDownAt = 0;
  private watchTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly target: SessionTarget,
    private readonly c: SessionCounters,
    private readonly watch: OperationWatch | undefined,
    private readonly hooks: SessionHooks,
    via: net.Socket | undefined,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    c.open = true;
    this.ws = new WebSocket(target.url, ['binary'], {
      headers: { Authorization: target.authorization },
      perMessageDeflate: false,
      handshakeTimeout: target.handshakeTimeoutMs,
      maxPayload: 64 * 1024 * 1024,
      ...(target.ca ? { ca: target.ca } : {}),
      ...(via ? { createConnection: overSocket(via, target.url.startsWith('wss:')) as unknown as typeof net.createConnection } : {}),
    });
    this.ws.on('open', this.onOpen);
    this.ws.on('message', this.onMessage);
    this.ws.on('unexpected-response', this.onRefused);
    this.ws.on('error', this.onWsError);
    this.ws.on('close', this.onWsClose);
    input.on('end', this.onLocalEof);
    input.on('close', this.onLocalClose);
    input.on('error', this.onLocalGone);
    output.on('error', this.onOutputError);
  }

  private finish(endedBy: SessionResult['endedBy'], extra: { closeCode?: number; error?: C8yTunnelError }): void {
    if (this.finished) return;
    this.finished = true;
    this.c.open = false;
    clearTimeout(this.watchTimer);
    clearTimeout(this.lingerTimer);
    const { input, output, ws } = this;
    input.removeListener('data', this.onLocalData);
    input.removeListener('end', this.onLocalEof);
    input.removeListener('close', this.onLocalClose);
    if (!output.writableEnded && !output.destroyed) output.end();
    setTimeout(() => {
      input.destroy();
      ws.terminate();
    }, DEFAULT_CLOSE_GRACE_MS).unref();
    this.resolveDone({ bytesUp: this.c.bytesUp, bytesDown: this.c.bytesDown, endedBy, ...extra });
  }

  private readonly onOpen = (): void => {
    this.opened = true;
    this.hooks.waiting?.();
    this.input.on('data', this.onLocalData);
    this.input.resume();
    this.watchOperation();
  };

  // Local -> cloud, pausing the input while the WebSocket holds too much (ws-style backpressure).
  private readonly onLocalData = (chunk: Buffer): void => {
    this.c.bytesUp += chunk.length;
    this.ws.send(chunk, { binary: true }, this.onSent);
    if (this.ws.bufferedAmount > DEFAULT_HIGH_WATER_MARK && !this.inputPaused) {
      this.inputPaused = true;
      this.input.pause();
    }
  };

  private readonly onSent = (): void => {
    if (this.inputPaused && this.ws.bufferedAmount < CONNECT_LOW_WATER_MARK && !this.localEnded) {
      this.inputPaused = false;
      this.input.resume();
    }
  };

  // Cloud -> local, pausing the WebSocket while the output does not drain.
  private readonly onMessage = (data: Buffer, isBinary: boolean): void => {
    if (this.finished) return;
    const buf = isBinary ? data : Buffer.from(data);
    this.c.bytesDown += buf.length;
    this.lastDownAt = Date.now();
    this.joined();
    if (!this.output.write(buf) && !this.wsPaused) {
      this.wsPaused = true;
      this.ws.pause();
      this.output.once('drain', () => {
        this.wsPaused = false;
        this.ws.resume();
      });
    }
  };

  // CRA has no half-close. On local EOF (`printf hello | nc`, a piped file) the session stays open until
  // the device has been quiet for `lingerMs`, so its answer still arrives (the local socket stays
  // writable: allowHalfOpen); then the WebSocket closes. A local socket that is gone closes it at once.
  private readonly onLocalEof = (): void => {
    if (this.localEnded || this.finished) return;
    const linger = this.target.lingerMs ?? DEFAULT_LINGER_MS;
    if (this.ws.readyState !== WebSocket.OPEN || linger <= 0) return this.onLocalGone();
    this.localEnded = true;
    this.input.removeListener('data', this.onLocalData);
    const endAt = Date.now();
    const tick = (): void => {
      if (this.finished || this.wsClosing) return;
      // The quiet clock starts once the device has joined (when the watch can tell); until then the
      // cloud's own operation timeout bounds the wait.
      if (!this.deviceUp && this.watch?.enabled()) {
        this.lingerTimer = setTimeout(tick, 100);
        return;
      }
      const quiet = Date.now() - Math.max(endAt, this.lastDownAt);
      if (quiet >= linger) this.onLocalGone();
      else this.lingerTimer = setTimeout(tick, linger - quiet);
    };
    tick();
  };

  // A socket closes when destroyed (listener shutdown) or closed both ways: the session ends. stdin
  // closes right after its EOF (autoDestroy) while stdout is still writable: that is a plain EOF.
  private readonly onLocalClose = (): void => {
    if ((this.input as unknown) !== this.output && this.input.readableEnded) return;
    this.onLocalGone();
  };

  private readonly onLocalGone = (): void => {
    if (this.wsClosing || this.finished) return;
    this.wsClosing = true;
    this.localEnded = true;
    this.input.removeListener('data', this.onLocalData);
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000);
      setTimeout(() => this.ws.terminate(), DEFAULT_CLOSE_GRACE_MS).unref();
    } else {
      this.ws.terminate();
      this.finish('local', {});
    }
  };

  // Nobody reads any more: stop at once.
  private readonly onOutputError = (): void => {
    this.ws.terminate();
    this.finish('local', {});
  };

  private joined(): void {
    if (this.deviceUp) return;
    this.deviceUp = true;
    this.hooks.up?.();
  }

  // Until the first byte from the device (or SUCCESSFUL), look for the device's verdict.
  private watchOperation(): void {
    const w = this.watch;
    if (!w || this.finished || this.c.bytesDown > 0) return;
    this.watchTimer = setTimeout(() => {
      void w.check().then(
        (st) => {
          if (st?.status === 'SUCCESSFUL') this.joined();
          if (this.finished || this.c.bytesDown > 0 || st?.status === 'SUCCESSFUL') return;
          if (st?.status === 'FAILED') {
            this.finish('error', { error: deviceFailedError(st.failureReason) });
            this.ws.close(1000);
          } else this.watchOperation();
        },
        () => this.watchOperation(),
      );
    }, this.target.watchIntervalMs ?? 1000);
  }

  private readonly onRefused = (_req: unknown, res: IncomingMessage): void => {
    res.resume();
    this.finish('error', { error: upgradeError(res.statusCode ?? 0) });
    this.ws.terminate();
  };

  private readonly onWsError = (err: NodeJS.ErrnoException): void => {
    if (this.finished) return;
    if (!this.opened && /handshake has timed out/i.test(err.message)) {
      this.finish('error', { error: new ConnectError('CONNECT_ERR_OFFLINE', 'the device did not answer: the session was not set up in time', { cause: err }) });
      return;
    }
    // Before the upgrade the tenant could not be reached (a setting to check); after it, the running session broke.
    const [code, where] = this.opened ? (['CONNECT_ERR_SESSION', 'the session WebSocket failed'] as const) : (['CONNECT_ERR_CONFIG', 'could not open the session WebSocket'] as const);
    this.finish('error', { error: errorFor(code, `${where} (${err.code ?? err.message})`, { syscode: err.code, cause: err }) });
  };

  private readonly onWsClose = (code: number, reasonBuf: Buffer): void => {
    if (this.finished) return;
    if (this.localEnded) return this.finish('local', { closeCode: code });
    const reason = reasonBuf.toString('utf8');
    if (isOfflineClose(code, reason, this.c.bytesDown)) {
      const why = reason ? `: ${reason}` : '';
      this.finish('error', { closeCode: code, error: new ConnectError('CONNECT_ERR_OFFLINE', `the device did not answer: the operation timed out (close ${code}${why})`) });
    } else this.finish('cloud', { closeCode: code });
  };
}
