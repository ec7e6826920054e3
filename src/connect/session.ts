/**
 * One user-side session: a local byte stream (an accepted TCP socket, or stdin/stdout) joined to one client
 * WebSocket at /service/remoteaccess/client/{device}/configurations/{config}. When either side ends, the
 * other is closed; a session is never resumed (a reconnect is a new operation on the cloud side).
 */
import type { Readable, Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { TunnelError } from '../errors.js';
import type { OperationWatch } from './watch.js';

/** Where and how to open the client WebSocket. */
export interface SessionTarget {
  /** ws:// or wss:// URL of the client endpoint. */
  url: string;
  authorization: string;
  ca?: string[];
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
  error?: TunnelError;
}

/** Live counters of one session (read by status lines). */
export interface SessionCounters {
  bytesUp: number;
  bytesDown: number;
  open: boolean;
}

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;
const CLOSE_GRACE_MS = 5_000;
/** After local EOF, how long the device must be quiet before the session closes. */
export const DEFAULT_LINGER_MS = 2_000;

/** Client WebSocket URL for a device and configuration under a tenant base URL. */
export function clientUrl(baseUrl: string, deviceId: string, configId: string): string {
  const ws = baseUrl.replace(/^http/i, 'ws');
  return `${ws}/service/remoteaccess/client/${encodeURIComponent(deviceId)}/configurations/${encodeURIComponent(configId)}`;
}

/** Maps a refused upgrade to one clear, coded error. */
export function upgradeError(status: number): TunnelError {
  if (status === 401) return new TunnelError('CONNECT_ERR_AUTH', 'the cloud rejected the credentials (HTTP 401)', { status });
  if (status === 403) return new TunnelError('CONNECT_ERR_AUTH', 'the user may not open remote access sessions (HTTP 403: missing Remote access role?)', { status });
  if (status === 404) return new TunnelError('CONNECT_ERR_NOT_FOUND', 'the cloud knows no such device or configuration (HTTP 404)', { status });
  return new TunnelError('CONNECT_ERR_NOT_FOUND', `the cloud refused the session (HTTP ${status})`, { status });
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
export function deviceFailedError(reason: string | undefined): TunnelError {
  const why = (reason ?? 'no reason given').replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, 300);
  if (/did not connect|time(d)?[ -]?out/i.test(why)) return new TunnelError('CONNECT_ERR_OFFLINE', `the device did not answer: ${why}`);
  return new TunnelError('CONNECT_ERR_DEVICE_FAILED', `the device could not open the session: ${why}`);
}

/** Runs one session until either side ends; resolves (never rejects) with its result. */
export async function runSession(input: Readable, output: Writable, target: SessionTarget, counters?: SessionCounters): Promise<SessionResult> {
  input.pause();
  const watch = target.watch?.();
  if (watch) await watch.baseline().catch(() => {});
  return pump(input, output, target, counters ?? { bytesUp: 0, bytesDown: 0, open: false }, watch);
}

function pump(input: Readable, output: Writable, target: SessionTarget, c: SessionCounters, watch: OperationWatch | undefined): Promise<SessionResult> {
  return new Promise((resolve) => {
    c.open = true;
    let opened = false;
    let finished = false;
    let localEnded = false;
    let paused = false;
    let watchTimer: NodeJS.Timeout | undefined;
    let lingerTimer: NodeJS.Timeout | undefined;
    let wsClosing = false;
    let lastDownAt = 0;
    /** The device has joined: a first byte came, or its operation is SUCCESSFUL. */
    let deviceUp = false;
    const ws = new WebSocket(target.url, ['binary'], {
      headers: { Authorization: target.authorization },
      perMessageDeflate: false,
      handshakeTimeout: target.handshakeTimeoutMs,
      maxPayload: 64 * 1024 * 1024,
      ...(target.ca ? { ca: target.ca } : {}),
    });

    const finish = (endedBy: SessionResult['endedBy'], extra: { closeCode?: number; error?: TunnelError }): void => {
      if (finished) return;
      finished = true;
      c.open = false;
      clearTimeout(watchTimer);
      input.removeListener('data', onLocalData);
      input.removeListener('end', onLocalEof);
      input.removeListener('close', onLocalClose);
      clearTimeout(lingerTimer);
      if (!output.writableEnded && !output.destroyed) output.end();
      const t = setTimeout(() => {
        if ('destroy' in input && typeof input.destroy === 'function') input.destroy();
        ws.terminate();
      }, CLOSE_GRACE_MS);
      t.unref();
      resolve({ bytesUp: c.bytesUp, bytesDown: c.bytesDown, endedBy, ...extra });
    };

    function onLocalData(chunk: Buffer): void {
      c.bytesUp += chunk.length;
      ws.send(chunk, { binary: true }, onSent);
      if (ws.bufferedAmount > HIGH_WATER && !paused) {
        paused = true;
        input.pause();
      }
    }
    function onSent(): void {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        input.resume();
      }
    }
    // CRA has no half-close. On local EOF (`printf hello | nc`, a piped file) the session stays open until
    // the device has been quiet for `lingerMs`, so its answer still arrives (the local socket stays
    // writable: allowHalfOpen); then the WebSocket closes. A local socket that is gone closes it at once.
    function onLocalEof(): void {
      if (localEnded || finished) return;
      const linger = target.lingerMs ?? DEFAULT_LINGER_MS;
      if (ws.readyState !== WebSocket.OPEN || linger <= 0) return onLocalGone();
      localEnded = true;
      input.removeListener('data', onLocalData);
      const endAt = Date.now();
      const tick = (): void => {
        if (finished || wsClosing) return;
        // The quiet clock starts once the device has joined (when the watch can tell); until then the
        // cloud's own operation timeout bounds the wait.
        if (!deviceUp && watch?.enabled()) {
          lingerTimer = setTimeout(tick, 100);
          return;
        }
        const quiet = Date.now() - Math.max(endAt, lastDownAt);
        if (quiet >= linger) onLocalGone();
        else lingerTimer = setTimeout(tick, linger - quiet);
      };
      tick();
    }
    // A socket closes when destroyed (listener shutdown) or closed both ways: the session ends. stdin
    // closes right after its EOF (autoDestroy) while stdout is still writable: that is a plain EOF.
    function onLocalClose(): void {
      if ((input as unknown) !== output && input.readableEnded) return;
      onLocalGone();
    }
    function onLocalGone(): void {
      if (wsClosing || finished) return;
      wsClosing = true;
      localEnded = true;
      input.removeListener('data', onLocalData);
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000);
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      } else {
        ws.terminate();
        finish('local', {});
      }
    }

    // Until the first byte from the device (or SUCCESSFUL), look for the device's verdict.
    function watchOperation(): void {
      const w = watch;
      if (!w || finished || c.bytesDown > 0) return;
      watchTimer = setTimeout(() => {
        void w.check().then((st) => {
          if (st?.status === 'SUCCESSFUL') deviceUp = true;
          if (finished || c.bytesDown > 0 || st?.status === 'SUCCESSFUL') return;
          if (st?.status === 'FAILED') {
            finish('error', { error: deviceFailedError(st.failureReason) });
            ws.close(1000);
          } else watchOperation();
        }, watchOperation);
      }, target.watchIntervalMs ?? 1000);
    }

    ws.on('open', () => {
      opened = true;
      input.on('data', onLocalData);
      input.resume();
      watchOperation();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (finished) return;
      const buf = isBinary ? data : Buffer.from(data);
      c.bytesDown += buf.length;
      lastDownAt = Date.now();
      deviceUp = true;
      if (!output.write(buf)) {
        ws.pause();
        output.once('drain', () => ws.resume());
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      finish('error', { error: upgradeError(res.statusCode ?? 0) });
      ws.terminate();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => {
      if (finished) return;
      if (!opened && /handshake has timed out/i.test(err.message)) {
        finish('error', { error: new TunnelError('CONNECT_ERR_OFFLINE', 'the device did not answer: the session was not set up in time') });
      } else {
        const where = opened ? 'the session WebSocket failed' : 'could not open the session WebSocket';
        finish('error', { error: new TunnelError('CONNECT_ERR_CONFIG', `${where} (${err.code ?? err.message})`, err.code ? { syscode: err.code } : undefined) });
      }
    });
    ws.on('close', (code: number, reasonBuf: Buffer) => {
      if (finished) return;
      if (localEnded) {
        finish('local', { closeCode: code });
        return;
      }
      const reason = reasonBuf.toString('utf8');
      if (isOfflineClose(code, reason, c.bytesDown)) {
        const why = reason ? `: ${reason}` : '';
        finish('error', { closeCode: code, error: new TunnelError('CONNECT_ERR_OFFLINE', `the device did not answer: the operation timed out (close ${code}${why})`) });
      } else finish('cloud', { closeCode: code });
    });

    input.on('end', onLocalEof);
    input.on('close', onLocalClose);
    input.on('error', () => onLocalGone());
    output.on('error', () => {
      // Nobody reads any more: stop at once.
      ws.terminate();
      finish('local', {});
    });
  });
}
