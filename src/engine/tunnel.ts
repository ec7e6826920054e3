/**
 * One tunnel: a TCP connection to the target and a WebSocket to the cloud, connected concurrently, then
 * bytes pumped both ways with backpressure until either side ends.
 *
 * The WebSocket is a byte stream here: after the handshake (dial.ts) the cloud socket is ours, its
 * frames are parsed as they arrive (ws-codec.ts) and their payload slices go to the target with one
 * writev per cloud read; the target is read into one shared buffer per thread and each read becomes one
 * masked frame, written as one contiguous buffer.
 *
 * The same code runs on a worker thread and, with `threads: 0`, on the main thread. It must never throw
 * where it would take its thread down: every socket has an error listener, and every listener is a
 * module-level function that finds its tunnel through a symbol on the emitter, so an idle tunnel costs no
 * closures.
 */
import net from 'node:net';
import { threadId } from 'node:worker_threads';
import { KiB } from '../constants.js';
import type { ErrorCode, WireError } from '../errors.js';
import { BootstrapQueue } from './bootstrap.js';
import { cloudConnectError, cloudRunError, targetConnectError, targetRunError } from './classify.js';
import { dialCloud, type Dialing } from './dial.js';
import { unwatchIdle, watchIdle } from './idle.js';
import { resolveSpec, type ResolvedSpec } from './spec.js';
import { buildSummary, type EndRecord, type TunnelCounters } from './summary.js';
import type { EndCode, EndedBy, TunnelSpec, TunnelSummary } from './types.js';
import {
  buildFrame,
  closeBody,
  CLOSE_ABNORMAL,
  CLOSE_INTERNAL,
  CLOSE_NO_STATUS,
  CLOSE_NORMAL,
  CLOSE_TOO_BIG,
  FrameParser,
  OP_BINARY,
  OP_CLOSE,
  OP_PONG,
  type FrameSink,
} from './ws-codec.js';

export { failedSummary } from './summary.js';
export { validateSpec } from './spec.js';

const kTunnel = Symbol('tunnel');
type Tagged<T> = T & { [kTunnel]: Tunnel };
const tunnelOf = (e: object): Tunnel => (e as Tagged<object>)[kTunnel];

/** Callbacks a host (worker or main-thread engine) passes in. */
export interface TunnelHooks {
  onUp(t: Tunnel, setupMs: number): void;
  onFail(t: Tunnel, err: WireError): void;
  onEnd(t: Tunnel, summary: TunnelSummary): void;
}

// ---- the target's reads: one shared buffer per thread ----

/**
 * The largest target read. Read size is the lever of the device-to-cloud cost (a syscall, a frame and a
 * write per read): 64 KiB reads cost 1.10 CPU-s/GiB in the prototype of issue #10, 256 KiB 0.81, 1 MiB 0.70.
 * One buffer serves every target socket of the thread (a read is consumed, copied-and-masked into its
 * frame, before the next socket reads), so an idle tunnel holds no read buffer.
 */
const READ_SIZE = 256 * KiB;
/** Below this average size, the payload slices of one cloud read are copied into one buffer (flushSlices). */
const SMALL_SLICE = 4 * KiB;
/** How much a target may send after our end that is still read (and discarded) while the tunnel ends. */
const ENDING_READ_LIMIT = 1024 * KiB;
/** A read never takes the tunnel more than this past its high-water mark (or bootstrap bound). */
const READ_SLACK = 64 * KiB;
/**
 * The target socket's writable high-water mark: cloud reads pause once this much waits toward the target.
 * Set explicitly because Node's default changed from 16 KiB to 64 KiB in Node 22, and the bound toward the
 * target (this + one cloud read) is documented and tested the same on every supported line.
 */
const TARGET_WRITE_HIGH_WATER = 16 * KiB;
let shared: Buffer | null = null;
/**
 * Size of the next read. Node asks `onread.buffer()` for the next buffer right after each read's callback
 * (and once at connect), synchronously on the same socket, so the callback sets this for its own socket.
 * Were that order to change, reads would just be READ_SIZE and the bounds would be "+ one read".
 */
let nextRead = READ_SIZE;

function readBuffer(): Buffer {
  shared ??= Buffer.allocUnsafeSlow(READ_SIZE);
  const n = nextRead;
  nextRead = READ_SIZE;
  return n >= READ_SIZE ? shared : shared.subarray(0, Math.max(1, n));
}

// Phases of the tunnel.
const SETUP = 0;
const OPEN = 1;
const ENDING = 2;
const DONE = 3;

/** The target leg. */
interface TargetLeg {
  socket: Tagged<net.Socket> | null;
  up: boolean;
  closed: boolean;
  /** The target sent end-of-stream. */
  eof: boolean;
  /** Reads paused by backpressure or the bootstrap bound. */
  paused: boolean;
  /** Bytes read and discarded since the tunnel began to end. */
  discardedEnding: number;
}

/** The cloud leg. */
interface CloudLeg {
  socket: Tagged<net.Socket> | null;
  dialing: Dialing | null;
  up: boolean;
  closed: boolean;
  /** Reads paused by backpressure or the bootstrap bound. */
  paused: boolean;
  closeSent: boolean;
  closeReceived: boolean;
}

/** A running tunnel. Created by startTunnel(). */
export class Tunnel implements FrameSink {
  readonly id: number;
  readonly label: string | undefined;
  /** Byte counts the worker last reported to the coordinator (worker.ts). */
  reportedUp = 0;
  reportedDown = 0;
  readonly c: TunnelCounters = { bytesUp: 0, bytesDown: 0, textFrames: 0, discarded: 0, peakBootstrap: 0, peakUp: 0, peakDown: 0 };

  private phase = SETUP;
  private readonly started: number;
  private setupMs: number | undefined;
  private readonly hooks: TunnelHooks;
  private readonly spec: ResolvedSpec;
  private readonly target: TargetLeg = { socket: null, up: false, closed: false, eof: false, paused: false, discardedEnding: 0 };
  private readonly cloud: CloudLeg = { socket: null, dialing: null, up: false, closed: false, paused: false, closeSent: false, closeReceived: false };
  private readonly parser: FrameParser;
  private readonly queue: BootstrapQueue;
  private end: EndRecord = { endedBy: 'setup', code: 'TUN_END_LOCAL' };
  private timer: NodeJS.Timeout | null = null;
  private tcpTimer: NodeJS.Timeout | null = null;
  private graceOverride: number | undefined;
  private idleMark = 0;
  private idleSince = 0;
  /** Payload slices of the cloud read being parsed (empty between reads). */
  private readonly slices: Buffer[] = [];

  constructor(id: number, spec: TunnelSpec, hooks: TunnelHooks) {
    this.id = id;
    this.label = spec.label;
    this.spec = resolveSpec(spec);
    this.hooks = hooks;
    this.started = Date.now();
    this.queue = new BootstrapQueue(this.spec.bootstrapLimit);
    this.parser = new FrameParser(this, this.spec.maxPayload);
  }

  get bytesUp(): number {
    return this.c.bytesUp;
  }
  get bytesDown(): number {
    return this.c.bytesDown;
  }

  /** Starts both legs at once. */
  start(): void {
    nextRead = Math.min(READ_SIZE, this.queue.limit);
    const sock = net.connect({
      host: this.spec.host,
      port: this.spec.port,
      noDelay: true,
      writableHighWaterMark: TARGET_WRITE_HIGH_WATER,
      onread: { buffer: readBuffer, callback: onTargetRead },
    } as net.NetConnectOpts) as Tagged<net.Socket>;
    sock[kTunnel] = this;
    this.target.socket = sock;
    this.tcpTimer = setTimeout(onTcpTimeout, this.spec.tcpConnectTimeoutMs, this);
    sock.on('connect', onTargetConnect);
    sock.on('end', onTargetEnd);
    sock.on('error', onTargetError);
    sock.on('close', onTargetClose);
    sock.on('drain', onTargetDrain);
    this.timer = setTimeout(onWsTimeout, this.spec.wsConnectTimeoutMs, this);
    this.cloud.dialing = dialCloud(this.spec, this);
  }

  // ---- set-up ----

  /** @internal dial.ts: the upgrade succeeded. */
  onOpen(socket: net.Socket, head: Buffer): void {
    this.cloud.dialing = null;
    const s = socket as Tagged<net.Socket>;
    s[kTunnel] = this;
    this.cloud.socket = s;
    this.cloud.up = true;
    s.on('data', onCloudData);
    s.on('error', onCloudError);
    s.on('close', onCloudClose);
    s.on('drain', onCloudDrain);
    // Establish first: the queue may hold the target's frames, and the head must not join them.
    this.maybeEstablish();
    if (head.length > 0) this.fromCloud(head);
  }

  /** @internal dial.ts: the upgrade failed. */
  onFail(err: WireError): void {
    this.cloud.dialing = null;
    this.cloud.closed = true;
    this.failSetup(err);
  }

  /** @internal */ targetConnected(): void {
    if (this.tcpTimer) clearTimeout(this.tcpTimer);
    this.tcpTimer = null;
    this.target.up = true;
    this.maybeEstablish();
  }

  private maybeEstablish(): void {
    if (this.phase !== SETUP || !this.target.up || !this.cloud.up) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.phase = OPEN;
    this.setupMs = Date.now() - this.started;
    if (this.spec.idleTimeoutMs) {
      this.idleMark = this.activity();
      this.idleSince = Date.now();
      watchIdle(this);
    }
    this.flushQueue();
    this.hooks.onUp(this, this.setupMs);
    if (this.target.eof) this.endFirst('tcp', 'TUN_END_TCP_EOF');
  }

  /** Both legs are up: hand on what was held, in order, and let the paused leg go unless backpressure says no. */
  private flushQueue(): void {
    const from = this.queue.from;
    const items = this.queue.drain();
    const cloud = this.cloud.socket!;
    const target = this.target.socket!;
    if (from === 'target') {
      for (const frame of items) cloud.write(frame);
      this.notePeakUp(cloud.writableLength);
    } else if (from === 'cloud') {
      target.cork();
      for (const slice of items) target.write(slice);
      target.uncork();
      this.notePeakDown(target.writableLength);
    }
    if (this.target.paused && cloud.writableLength <= this.spec.highWaterMark) {
      this.target.paused = false;
      if (!this.target.eof) target.resume();
    }
    if (this.cloud.paused && !target.writableNeedDrain) {
      this.cloud.paused = false;
      cloud.resume();
    }
  }

  /** @internal */ failSetup(err: WireError, by: EndedBy = 'setup'): void {
    if (this.phase !== SETUP) return;
    this.phase = ENDING;
    this.end = { endedBy: by, code: err.code, message: err.message, status: err.status, syscode: err.syscode };
    this.clearTimers();
    this.queue.clear();
    this.hooks.onFail(this, err);
    this.cloud.dialing?.abort();
    this.cloud.dialing = null;
    if (this.cloud.socket && !this.cloud.closed) this.cloud.socket.destroy();
    else this.cloud.closed = true;
    if (this.target.socket && !this.target.closed) this.target.socket.destroy();
    else this.target.closed = true;
    this.maybeFinish();
  }

  // ---- device to cloud ----

  /** @internal A target read into the shared buffer; returns false to pause the target. */
  fromTarget(buf: Buffer, n: number): boolean {
    if (this.phase === OPEN) {
      this.c.bytesUp += n;
      const cloud = this.cloud.socket!;
      cloud.write(buildFrame(OP_BINARY, buf, 0, n, this.spec.zeroMask));
      const queued = cloud.writableLength;
      this.notePeakUp(queued);
      if (queued > this.spec.highWaterMark) {
        // 'drain' on the cloud socket resumes it: everything queued has then reached the kernel.
        this.target.paused = true;
        nextRead = READ_SLACK;
        return false;
      }
      nextRead = Math.min(READ_SIZE, this.spec.highWaterMark + READ_SLACK - queued);
      return true;
    }
    if (this.phase === SETUP) {
      // The frame is built now (the read buffer is shared), held until the WebSocket is up.
      this.c.bytesUp += n;
      const full = this.queue.push(buildFrame(OP_BINARY, buf, 0, n, this.spec.zeroMask), n, 'target');
      if (this.queue.peak > this.c.peakBootstrap) this.c.peakBootstrap = this.queue.peak;
      if (full) {
        this.target.paused = true;
        nextRead = READ_SLACK;
        return false;
      }
      // The next read takes at most the room left, so the bound is never passed.
      nextRead = Math.min(READ_SIZE, this.queue.room);
      return true;
    }
    // ENDING: the cloud leg is closing and can take nothing more; said in the summary, never hidden.
    // Reading on lets a target that answers our end with its own be seen at once; a target that keeps
    // streaming is not read past ENDING_READ_LIMIT (discarding at line rate would only burn both sides'
    // CPU, and starve its own processing of our end): it then waits, unread, for the grace.
    this.c.discarded += n;
    this.target.discardedEnding += n;
    return this.target.discardedEnding < ENDING_READ_LIMIT;
  }

  /** @internal */ cloudDrained(): void {
    if (this.target.paused && this.phase === OPEN) {
      this.target.paused = false;
      this.target.socket!.resume();
    }
  }

  private notePeakUp(q: number): void {
    if (q > this.c.peakUp) this.c.peakUp = q;
  }

  // ---- cloud to device ----

  /** @internal One cloud socket read: every payload slice in it goes to the target in one writev. */
  fromCloud(chunk: Buffer): void {
    if (this.parser.stopped) return;
    const target = this.target.socket;
    if (this.phase !== SETUP && target && target.writable) {
      this.parser.push(chunk);
      this.flushSlices();
      const queued = target.writableLength;
      this.notePeakDown(queued);
      if (target.writableNeedDrain && !this.cloud.paused && this.cloud.socket) {
        this.cloud.paused = true;
        this.cloud.socket.pause();
      }
    } else {
      this.parser.push(chunk);
    }
  }

  /**
   * Writes the payload slices of one cloud read to the target as one write: a single slice as it is,
   * several as one writev under cork(); small slices (messages of a few KiB) are copied into one buffer
   * instead, which costs less than a Writable.write and an iovec each. Copying large slices cost as much
   * as the write syscall itself in a profile (16 KiB messages), hence the threshold.
   */
  private flushSlices(): void {
    const slices = this.slices;
    const n = slices.length;
    if (n === 0) return;
    const target = this.target.socket!;
    if (n === 1) {
      target.write(slices[0]!);
    } else {
      let total = 0;
      for (let i = 0; i < n; i++) total += slices[i]!.length;
      if (total < n * SMALL_SLICE) {
        target.write(Buffer.concat(slices, total));
      } else {
        target.cork();
        for (let i = 0; i < n; i++) target.write(slices[i]!);
        target.uncork();
      }
    }
    slices.length = 0;
  }

  /** FrameSink: payload bytes of a data frame. */
  onData(slice: Buffer): void {
    const target = this.target.socket;
    if (this.phase === SETUP) {
      this.c.bytesDown += slice.length;
      // The slice is a view of a chunk Node allocated for this read alone: it can be held as it is.
      if (this.queue.push(slice, slice.length, 'cloud') && !this.cloud.paused) {
        this.cloud.paused = true;
        this.cloud.socket!.pause();
      }
      if (this.queue.peak > this.c.peakBootstrap) this.c.peakBootstrap = this.queue.peak;
    } else if (target && target.writable) {
      // Collected, and written when the read is parsed (fromCloud).
      this.c.bytesDown += slice.length;
      this.slices.push(slice);
    } else {
      this.c.discarded += slice.length;
    }
  }

  onText(): void {
    this.c.textFrames++;
  }

  onPing(payload: Buffer): void {
    if (!this.cloud.closeSent && this.cloud.socket) this.cloud.socket.write(buildFrame(OP_PONG, payload, 0, payload.length, this.spec.zeroMask));
  }

  onPong(): void {}

  onClose(code: number, reason: Buffer): void {
    this.cloud.closeReceived = true;
    // What came before the close frame in this read goes first.
    this.flushSlices();
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_WS_CONNECT', message: `cloud closed the WebSocket during set-up (${code})` });
      return;
    }
    if (this.end.wsCloseCode === undefined) this.end.wsCloseCode = code;
    // Echo the cloud's code (none when it sent none), then our side of the TCP connection ends.
    this.sendClose(code === CLOSE_NO_STATUS ? -1 : code);
    this.cloud.socket?.end();
    if (this.phase === OPEN) {
      const why = reason.length > 0 ? reason.toString('utf8').slice(0, 120) : `close code ${code}`;
      this.endFirst('ws', 'TUN_END_WS_CLOSED', why);
    } else {
      // Our own close was answered: the target gets what it was sent, then its end.
      this.endTarget();
    }
  }

  onProtocolError(code: number, message: string): void {
    this.flushSlices();
    const err: ErrorCode = code === CLOSE_TOO_BIG ? 'TUN_ERR_WS_PAYLOAD_TOO_BIG' : 'TUN_ERR_WS_PROTOCOL';
    if (this.phase === SETUP) {
      this.sendClose(code);
      this.failSetup({ code: err, message: `cloud WebSocket protocol error: ${message}` });
      return;
    }
    if (this.phase === OPEN) this.endFirst('ws', err, `cloud WebSocket protocol error: ${message} (close ${code})`, code);
    else this.sendClose(code);
    // Nothing more the cloud sends can be read: fail the connection (RFC 6455 section 7.1.7) once the close
    // frame is out.
    this.cloud.socket?.destroySoon();
    this.endTarget();
  }

  /** @internal */ targetDrained(): void {
    // In every phase: a cloud leg paused for a slow target must read on, or it never sees the close reply.
    if (this.cloud.paused && this.phase !== SETUP) {
      this.cloud.paused = false;
      this.cloud.socket?.resume();
    }
  }

  private notePeakDown(q: number): void {
    if (q > this.c.peakDown) this.c.peakDown = q;
  }

  /** Sends a close frame once; `code` -1 sends one with no body. */
  private sendClose(code: number): void {
    const s = this.cloud.socket;
    if (this.cloud.closeSent || !s || this.cloud.closed || !s.writable) return;
    this.cloud.closeSent = true;
    const body = code === -1 ? Buffer.alloc(0) : closeBody(code);
    s.write(buildFrame(OP_CLOSE, body, 0, body.length, this.spec.zeroMask));
  }

  // ---- ending ----

  /** Closes the tunnel from our side (both legs, after a flush). */
  close(reason?: string, graceMs?: number): void {
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_ABORTED', message: reason ?? 'closed before the tunnel was established' }, 'local');
      return;
    }
    if (graceMs !== undefined) this.graceOverride = graceMs;
    this.endFirst('local', 'TUN_END_LOCAL', reason);
  }

  /** The engine is shutting down: like close(), but the tunnel says the engine ended it. */
  shutdown(reason?: string, graceMs?: number): void {
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_ENGINE_CLOSED', message: reason ?? 'engine closing' }, 'engine');
      return;
    }
    if (graceMs !== undefined) this.graceOverride = graceMs;
    this.endFirst('engine', 'TUN_END_LOCAL', reason);
  }

  /** Destroys both legs at once (engine shutdown after the grace). */
  destroy(reason?: string): void {
    if (this.phase === DONE) return;
    if (this.phase === SETUP) {
      this.shutdown(reason);
      return;
    }
    this.endFirst('engine', 'TUN_ERR_ENGINE_CLOSED', reason);
    this.target.socket?.destroy();
    this.cloud.socket?.destroy();
  }

  /** @internal */ endFirst(by: EndedBy, code: EndCode, message?: string, wsCode = CLOSE_NORMAL): void {
    if (this.phase === SETUP) {
      if (by === 'tcp' && code === 'TUN_END_TCP_EOF') {
        // The target said what it had to say before the cloud leg was up: keep it and flush when the WebSocket opens.
        this.target.eof = true;
        return;
      }
      this.failSetup({ code: code as ErrorCode, message: message ?? code });
      return;
    }
    if (this.phase !== OPEN) return;
    this.phase = ENDING;
    this.end.endedBy = by;
    this.end.code = code;
    this.end.message = message;
    this.sendClose(wsCode);
    const grace = this.graceOverride ?? this.spec.closeGraceMs;
    if ((by === 'local' || by === 'engine') && !this.cloud.closed && !this.target.closed) {
      // Our own close: the cloud may still have bytes in flight for the target. Keep the target writable
      // until the cloud answers the close (onClose ends it), and stop reading it: nothing read now could go
      // out. If the cloud is slow to answer, the target gets an orderly end at half the grace, and the
      // cloud leg then reads on (discarding, counted) so that its close reply is still seen.
      this.target.socket!.pause();
      this.tcpTimer = setTimeout(onEndTargetDue, grace / 2, this);
    } else {
      this.endTarget();
    }
    this.timer = setTimeout(onGraceExpired, grace, this);
    this.maybeFinish();
  }

  /** @internal */ targetGone(): void {
    this.target.closed = true;
    if (this.phase === OPEN) this.endFirst('tcp', 'TUN_END_TCP_EOF');
    this.maybeFinish();
  }

  /** @internal */ cloudGone(): void {
    this.cloud.closed = true;
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_WS_CONNECT', message: 'cloud closed the connection during set-up' });
      return;
    }
    // 1006 is what a dropped connection is called, never sent; a tunnel that failed during set-up reports none.
    if (!this.cloud.closeReceived && this.setupMs !== undefined && this.end.wsCloseCode === undefined) this.end.wsCloseCode = CLOSE_ABNORMAL;
    if (this.phase === OPEN) this.endFirst('ws', 'TUN_ERR_WS_DROPPED', 'cloud connection dropped without a close frame (1006)');
    // The cloud is gone: let the target drain what it was sent, then end it.
    this.endTarget();
    this.maybeFinish();
  }

  /** @internal */ recordError(by: EndedBy, code: ErrorCode, message: string): void {
    if (this.phase === OPEN) {
      this.endFirst(by, code, message, by === 'tcp' ? CLOSE_INTERNAL : CLOSE_NORMAL);
      if (by === 'tcp') this.target.socket?.destroy();
    } else if (this.phase === ENDING && this.end.code.startsWith('TUN_END')) {
      // An error while closing: keep who ended first, but surface the error.
      this.end.message = this.end.message ?? message;
    }
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.tcpTimer) clearTimeout(this.tcpTimer);
    this.timer = null;
    this.tcpTimer = null;
  }

  /** @internal Ends the target after what it was sent (half the grace, or the cloud is done). */
  endTarget(): void {
    const t = this.target.socket;
    if (t && !this.target.closed && !t.writableEnded) {
      t.end();
      // Read on (discarding, counted), or the target's own end would never be seen.
      if (this.phase === ENDING) t.resume();
    }
    // The target can take nothing more: a cloud leg paused for it reads on (discarding) to see its close.
    if (this.cloud.paused && this.phase !== SETUP) {
      this.cloud.paused = false;
      this.cloud.socket?.resume();
    }
  }

  /** @internal */ endTargetDue(): void {
    this.tcpTimer = null;
    this.endTarget();
  }

  /** @internal */ graceExpired(): void {
    this.timer = null;
    this.target.socket?.destroy();
    this.cloud.socket?.destroy();
  }

  private maybeFinish(): void {
    if (this.phase === DONE || !this.target.closed || !this.cloud.closed) return;
    this.phase = DONE;
    this.clearTimers();
    unwatchIdle(this);
    const s = buildSummary(this.id, this.label, threadId, Date.now() - this.started, this.setupMs, this.c, this.end);
    this.target.socket = null;
    this.cloud.socket = null;
    this.hooks.onEnd(this, s);
  }

  private activity(): number {
    return this.c.bytesUp + this.c.bytesDown + this.c.discarded + this.c.textFrames;
  }

  /**
   * @internal Called by the idle sweep. Activity is seen as a change of the byte counters between sweeps,
   * so the data path carries no clock reads; a tunnel ends no earlier than idleTimeoutMs after its last byte.
   */
  checkIdle(now: number): void {
    const moved = this.activity();
    if (moved !== this.idleMark) {
      this.idleMark = moved;
      this.idleSince = now;
      return;
    }
    if (this.phase === OPEN && now - this.idleSince >= this.spec.idleTimeoutMs) {
      unwatchIdle(this);
      this.endFirst('local', 'TUN_END_IDLE', `no traffic for ${this.spec.idleTimeoutMs} ms`);
    }
  }

  /** @internal test and stats access */
  get heldNow(): number {
    return this.queue.bytes;
  }
  get isEstablished(): boolean {
    return this.setupMs !== undefined;
  }
  /** @internal */ get targetName(): string {
    return `target ${this.spec.host}:${this.spec.port}`;
  }
  /** @internal */ targetFailed(err: NodeJS.ErrnoException): void {
    if (this.phase === SETUP) this.failSetup(targetConnectError(err, this.spec.host, this.spec.port));
    else {
      const e = targetRunError(err);
      this.recordError('tcp', e.code, e.message);
    }
  }
  /** @internal */ cloudFailed(err: NodeJS.ErrnoException): void {
    if (this.phase === SETUP) this.failSetup(cloudConnectError(err));
    else {
      const e = cloudRunError(err);
      this.recordError('ws', e.code, e.message);
    }
  }
  /** Bytes this tunnel holds in user space right now (bootstrap queue plus unsent cloud and target bytes). */
  get bufferedBytes(): number {
    return this.queue.bytes + (this.cloud.socket?.writableLength ?? 0) + (this.target.socket?.writableLength ?? 0);
  }
}

// ---- listeners (module level: `this` is the emitter) ----

function onTargetRead(this: net.Socket, n: number, buf: Buffer): boolean {
  return tunnelOf(this).fromTarget(buf, n);
}
function onTargetConnect(this: net.Socket): void {
  tunnelOf(this).targetConnected();
}
function onTargetEnd(this: net.Socket): void {
  tunnelOf(this).endFirst('tcp', 'TUN_END_TCP_EOF');
}
function onTargetDrain(this: net.Socket): void {
  tunnelOf(this).targetDrained();
}
function onTargetClose(this: net.Socket): void {
  tunnelOf(this).targetGone();
}
function onTargetError(this: net.Socket, err: NodeJS.ErrnoException): void {
  tunnelOf(this).targetFailed(err);
}
function onCloudData(this: net.Socket, chunk: Buffer): void {
  tunnelOf(this).fromCloud(chunk);
}
function onCloudDrain(this: net.Socket): void {
  tunnelOf(this).cloudDrained();
}
function onCloudClose(this: net.Socket): void {
  tunnelOf(this).cloudGone();
}
function onCloudError(this: net.Socket, err: NodeJS.ErrnoException): void {
  tunnelOf(this).cloudFailed(err);
}
function onTcpTimeout(t: Tunnel): void {
  t.failSetup({ code: 'TUN_ERR_TCP_TIMEOUT', message: `${t.targetName} did not accept the connection in time` });
}
function onWsTimeout(t: Tunnel): void {
  t.failSetup({ code: 'TUN_ERR_WS_TIMEOUT', message: 'cloud did not answer the WebSocket upgrade in time' });
}
function onEndTargetDue(t: Tunnel): void {
  t.endTargetDue();
}
function onGraceExpired(t: Tunnel): void {
  t.graceExpired();
}

/** Opens one tunnel. */
export function startTunnel(id: number, spec: TunnelSpec, hooks: TunnelHooks): Tunnel {
  const t = new Tunnel(id, spec, hooks);
  t.start();
  return t;
}
