/**
 * The engine's public types: the spec of a tunnel, its summary, the engine's options and stats. All of it
 * is plain data, so a spec can cross to a worker and a summary back (structured clone); the messages that
 * carry them between threads are in wire.ts.
 */
import type { ErrorCode } from '../errors.js';
import type { MaskKind } from './mask-kernel.js';

/** TLS settings for the WebSocket leg (plain data, so it can cross to a worker). */
export interface TunnelTlsOptions {
  /** Extra CA certificates (PEM) trusted in addition to Node's bundled roots. */
  ca?: string[];
  /** Verify the cloud's certificate (default true). Turning it off is an explicit, logged opt-out. */
  rejectUnauthorized?: boolean;
  /** SNI server name, when it differs from the URL's host. */
  servername?: string;
}

/** One tunnel: the local TCP target and the cloud WebSocket. The engine knows nothing else of Cumulocity. */
export interface TunnelSpec {
  /** Target host name or address. */
  host: string;
  /** Target TCP port, 1..65535. */
  port: number;
  /** WebSocket URL (ws: or wss:). */
  url: string;
  /** Extra request headers for the upgrade (Authorization, ...). */
  headers?: Record<string, string>;
  /** TCP connect timeout in ms (default 10 000). */
  tcpConnectTimeoutMs?: number;
  /** WebSocket upgrade timeout in ms (default 15 000). */
  wsConnectTimeoutMs?: number;
  /** Largest WebSocket message accepted, in bytes (default 1 MiB). */
  maxPayload?: number;
  /** Bytes held per tunnel while the other leg is not up yet (default 256 KiB). */
  bootstrapLimit?: number;
  /**
   * Pause TCP reads while the WebSocket holds more than this many unsent bytes (default 256 KiB). Also the
   * largest cloud read, and the most a burst of full cloud reads waits before it goes to the target as
   * one write (at most 256 KiB).
   */
  highWaterMark?: number;
  /**
   * Read coalescing on the cloud leg: after a read of 8 KiB to 64 KiB that did not fill the read buffer (a
   * stream, not keystrokes), the next cloud read waits this many ms, so that a stream of small WebSocket
   * messages (go-c8y-cli sends one per 1 KiB) is read in large pieces rather than one wake-up per few
   * messages (default 1; 0 reads at once; at most 1 000). The bytes of a stream that arrive during the
   * wait are delayed by up to about a millisecond more than it (Node's timers); a short read, and the
   * first read after a quiet spell, never wait. A backpressure pause outlasts the wait; our end cuts it short.
   */
  coalesceMs?: number;
  /** After one leg ends, how long the other may take to flush and close before it is destroyed (default 5 000 ms). */
  closeGraceMs?: number;
  /** Idle timeout in ms: no byte either way for this long ends the tunnel (default 0 = none). */
  idleTimeoutMs?: number;
  /** TLS settings for wss:. */
  tls?: TunnelTlsOptions;
  /** HTTP(S) proxy URL for the WebSocket leg (CONNECT), e.g. http://user:pass@proxy:3128. */
  proxy?: string;
  /**
   * Mask client frames with an all-zero key (RFC 6455 requires a random key; opt-in, for links you own).
   * It saves an allocation and a copy per frame.
   */
  zeroMask?: boolean;
  /** A label carried into events and the summary (e.g. the operation id); never a secret. */
  label?: string;
}

/** Which side ended the tunnel first. */
export type EndedBy = 'tcp' | 'ws' | 'local' | 'engine' | 'worker' | 'setup';

/** Why a tunnel ended: a code plus who ended it. Codes of clean ends are TUN_END_*; errors are TUN_ERR_*. */
export type EndCode = 'TUN_END_TCP_EOF' | 'TUN_END_WS_CLOSED' | 'TUN_END_LOCAL' | 'TUN_END_IDLE' | ErrorCode;

/** What `closed` resolves to. */
export interface TunnelSummary {
  id: number;
  label?: string;
  /** Bytes read from the target and sent to the cloud. */
  bytesUp: number;
  /** Bytes received from the cloud and written to the target. */
  bytesDown: number;
  /** Text frames received from the cloud (forwarded as bytes; the cloud should never send them). */
  textFrames: number;
  /** Wall time from open() to the end, ms. */
  durationMs: number;
  /** Time from open() until both legs were up, ms (undefined if never established). */
  setupMs?: number;
  established: boolean;
  endedBy: EndedBy;
  code: EndCode;
  /** Message of the ending error or close reason. */
  message?: string;
  /** HTTP status of a refused upgrade or proxy CONNECT, when that ended the tunnel. */
  status?: number;
  /** System error code (ECONNREFUSED, ...), when one ended the tunnel. */
  syscode?: string;
  /** WebSocket close code, when the cloud closed. */
  wsCloseCode?: number;
  /** The worker thread that carried the tunnel; 0 on the main thread. */
  threadId: number;
  /** Peak bytes held in the bootstrap queue. */
  peakBootstrapBytes: number;
  /** Peak bytes queued in user space toward the cloud (WebSocket bufferedAmount, frame included). */
  peakBufferedUp?: number;
  /** Peak bytes queued in user space toward the target (TCP writableLength). */
  peakBufferedDown?: number;
  /** Bytes that arrived on one leg after the other had closed: counted here, not in bytesUp/bytesDown. */
  bytesDiscarded?: number;
}

/** Options of createEngine(). */
export interface EngineOptions {
  /** Worker threads; 0 runs tunnels on the main thread. Default: os.availableParallelism(). */
  threads?: number;
  /** Tunnels one worker carries at once (Piscina concurrentTasksPerWorker). Default 512. */
  tunnelsPerWorker?: number;
  /** Defaults merged into every spec (timeouts, limits, tls, proxy). */
  defaults?: Partial<Omit<TunnelSpec, 'host' | 'port' | 'url'>>;
  /** Worker resource limits (passed to worker_threads). */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /** How often workers report live byte counters, ms (default 1 000). */
  statsIntervalMs?: number;
}

/** A snapshot of the engine. */
export interface EngineStats {
  threads: number;
  open: number;
  opened: number;
  established: number;
  closed: number;
  /** Open tunnels per worker thread id (0 = main thread). */
  perWorker: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** Failures and ends by code. */
  endsByCode: Record<string, number>;
  failuresByCode: Record<string, number>;
  workersStarted: number;
  workerDeaths: number;
  /** Whether the masking kernel is the bufferutil addon (in every thread). */
  bufferutil: boolean;
  /** The masking kernel the workers (or, with `threads: 0`, the main thread) use. */
  mask: MaskKind;
}
