/**
 * One tunnel: a TCP connection to the target and a WebSocket to the cloud, connected concurrently, then
 * bytes pumped both ways with backpressure until either side ends. This file is the tunnel's phases
 * (set-up, open, ending, done) and the pump between the two legs; what acts on one leg's records alone is
 * in legs.ts, the target's read sizes in read-buffer.ts, the socket wiring in listeners.ts.
 *
 * The WebSocket is a byte stream here: after the handshake (dial.ts) the cloud socket is ours, read into
 * one shared buffer per thread; its frames are parsed as they arrive (ws-codec.ts) and the payload of
 * each read is copied out into one buffer and goes to the target as one write; the target is read into
 * another shared buffer and each read becomes one masked frame, written as one contiguous buffer.
 *
 * The same code runs on a worker thread and, with `threads: 0`, on the main thread. It must never throw
 * where it would take its thread down: every socket has an error listener. No socket listener or timer
 * is a closure (listeners.ts); the only closures are the handshake's (dial.ts), the host's hooks, and
 * each leg's one write callback for pooled buffers, made on its first big write (frame-pool.ts).
 */
import type net from 'node:net';
import { threadId } from 'node:worker_threads';
import { COALESCE_MAX_BYTES, COALESCE_MIN_BYTES } from '../constants.js';
import type { ErrorCode, WireError } from '../errors.js';
import { BootstrapQueue, handOn } from './bootstrap.js';
import { cloudConnectError, cloudRunError, targetConnectError, targetRunError } from './classify.js';
import { dialCloud } from './dial.js';
import { giveBack, isPooled, lendFrameBuffer, takeCopyBuffer, takeFrameBuffer, takePooled } from './frame-pool.js';
import { idleExpired, unwatchIdle, watchIdle, type IdleClock } from './idle.js';
import { answerClose, beginEnd, discardEnding, endTarget, noteDropped, noteLateError } from './ending.js';
import { cloudLeg, copyRanges, destroyLegs, dropLegs, endRest, pauseCloud, rangeBytes, restCloud, resumeCloud, sendClose, stopResting, targetLeg } from './legs.js';
import { adoptCloud, connectTarget, onBurstDue, onEndTargetDue, onGraceExpired, onTcpTimeout, onWsTimeout, type LegEvents } from './listeners.js';
import { capCloudRead, firstRead, hasFrameRoom, readOnAfterHold, readOnAfterSend } from './read-buffer.js';
import { forgetDialing, resolveSpec, type ResolvedSpec } from './spec.js';
import { activityOf, buildSummary, type EndRecord, type TunnelCounters } from './summary.js';
import type { EndCode, EndedBy, TunnelSpec, TunnelSummary } from './types.js';
import { buildFrame, buildFrameInPlace, CLOSE_INTERNAL, CLOSE_NORMAL, CLOSE_TOO_BIG, FrameParser, OP_BINARY, OP_PONG, type FrameSink } from './ws-codec.js';

/** Callbacks a host (worker or main-thread engine) passes in. */
export interface TunnelHooks {
  onUp(t: Tunnel, setupMs: number): void;
  onFail(t: Tunnel, err: WireError): void;
  onEnd(t: Tunnel, summary: TunnelSummary): void;
}

// Phases of the tunnel.
const SETUP = 0;
const OPEN = 1;
const ENDING = 2;
const DONE = 3;

/**
 * Bursts. A cloud read that filled its buffer means more is waiting: libuv reads a socket again at once
 * when a read filled its buffer, and Node's TLS layer decrypts one socket read into pieces of at most
 * 16 KiB (its clear-text chunk). Each read or piece reaches JavaScript on its own, ticks drained in
 * between, and each used to make its own target write. A full one now waits, its payload copied into the
 * burst's buffer (a pooled one: frame-pool.ts), and the burst goes to the target as one write at its first
 * short read or piece, before any end toward the target, or in this turn's check phase (setImmediate),
 * whichever comes first; a burst never holds more than the tunnel's high-water mark (at most BURST_MAX).
 * Interactive traffic (short reads) is written at once. s8.c2d.wss: the agent's read+write syscalls per
 * MiB 98 -> 43. A plain read through onread is already as large as a burst (read-buffer.ts), so it never waits.
 */
const TLS_PIECE = 16 * 1024;
const PLAIN_READ = 64 * 1024;
const BURST_MAX = 256 * 1024;

/** A running tunnel: constructed, then start() (the hosts: worker.ts, main-host.ts). */
export class Tunnel implements FrameSink, LegEvents, IdleClock {
  readonly id: number;
  readonly label: string | undefined;
  /** Byte counts the worker last reported to the coordinator (worker.ts). */
  reportedUp = 0;
  reportedDown = 0;
  /** The worker's task resolver, called with the summary after onEnd (worker.ts): a field, not a closure per tunnel. */
  settleTask: ((s: TunnelSummary) => void) | null = null;
  readonly c: TunnelCounters = { bytesUp: 0, bytesDown: 0, textFrames: 0, discarded: 0, peakBootstrap: 0, peakUp: 0, peakDown: 0 };

  private phase = SETUP;
  private readonly started: number;
  private setupMs: number | undefined;
  private readonly hooks: TunnelHooks;
  private readonly spec: ResolvedSpec;
  private readonly target = targetLeg();
  private readonly cloud = cloudLeg();
  private readonly parser: FrameParser;
  private readonly queue: BootstrapQueue;
  private end: EndRecord = { endedBy: 'setup', code: 'TUN_END_LOCAL' };
  private timer: NodeJS.Timeout | null = null;
  private tcpTimer: NodeJS.Timeout | null = null;
  private graceOverride: number | undefined;
  /** @internal idle.ts */ idleMark = 0;
  /** @internal idle.ts */ idleSince = 0;
  /** The cloud read being parsed, and its payload ranges (start, end pairs; empty between reads). */
  private chunk: Buffer | null = null;
  private readonly ranges: number[] = [];
  /** A burst's payload, copied from cloud reads and not yet written to the target (a pooled buffer), and its size. */
  private out: Buffer | null = null;
  private outBytes = 0;
  private outTick: NodeJS.Immediate | null = null;
  /** The size of a cloud read that filled its buffer (TLS piece, or a plain read of Node's), and the most a burst holds. */
  private readonly fullRead: number;
  private readonly burstLimit: number;

  constructor(id: number, spec: TunnelSpec, hooks: TunnelHooks) {
    this.id = id;
    this.label = spec.label;
    this.spec = resolveSpec(spec);
    this.fullRead = this.spec.url.startsWith('wss:') ? TLS_PIECE : PLAIN_READ;
    this.burstLimit = Math.min(BURST_MAX, this.spec.highWaterMark);
    this.hooks = hooks;
    this.started = Date.now();
    this.queue = new BootstrapQueue(this.spec.bootstrapLimit);
    this.parser = new FrameParser(this, this.spec.maxPayload);
  }

  /** Starts both legs at once. */
  start(): void {
    firstRead(this.queue.limit);
    this.target.socket = connectTarget(this, this.spec.host, this.spec.port);
    this.tcpTimer = setTimeout(onTcpTimeout, this.spec.tcpConnectTimeoutMs, this);
    this.timer = setTimeout(onWsTimeout, this.spec.wsConnectTimeoutMs, this);
    this.cloud.dialing = dialCloud(this.spec, this);
  }

  // ---- set-up ----

  /** @internal dial.ts: the upgrade succeeded. */
  onOpen(socket: net.Socket, head: Buffer): void {
    this.cloud.dialing = null;
    forgetDialing(this.spec);
    this.cloud.socket = adoptCloud(this, socket);
    this.cloud.up = true;
    // Establish first: the queue may hold the target's frames, and the head must not join them.
    this.maybeEstablish();
    if (head.length > 0) this.fromCloud(head);
  }

  /** @internal dial.ts: the upgrade failed. */
  onFail(err: WireError): void {
    this.cloud.dialing = null;
    forgetDialing(this.spec);
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
      this.idleMark = activityOf(this.c);
      this.idleSince = Date.now();
      watchIdle(this);
    }
    handOn(this.queue, this.target, this.cloud, this.spec.highWaterMark, this.c);
    this.hooks.onUp(this, this.setupMs);
    if (this.target.eof) this.endFirst('tcp', 'TUN_END_TCP_EOF');
  }

  /** @internal */ failSetup(err: WireError, by: EndedBy = 'setup'): void {
    if (this.phase !== SETUP) return;
    this.phase = ENDING;
    this.end = { endedBy: by, code: err.code, message: err.message, status: err.status, syscode: err.syscode };
    this.clearTimers();
    this.queue.clear();
    this.hooks.onFail(this, err);
    dropLegs(this.target, this.cloud);
    this.maybeFinish();
  }

  // ---- device to cloud ----

  /** @internal A target read into the shared buffer; returns false to pause the target. */
  fromTarget(buf: Buffer, n: number): boolean {
    if (this.phase === OPEN) {
      this.c.bytesUp += n;
      const cloud = this.cloud.socket!;
      if (cloud.writableLength === 0 && cloud.writableCorked === 0 && (cloud as { encrypted?: boolean }).encrypted === true && hasFrameRoom(buf)) {
        // Masked where it was read: with nothing queued (and no cork, which the engine never sets on a
        // cloud socket), Writable hands the frame straight to Node's TLS stream, which encrypts it
        // (SSL_write into its own buffer) or copies it before write() returns, so the shared read buffer is
        // free again for the next read (docs/architecture.md, "in-place frames over TLS").
        cloud.write(buildFrameInPlace(OP_BINARY, buf, n, this.spec.zeroMask));
      } else {
        const into = takeFrameBuffer(n);
        if (into) cloud.write(buildFrame(OP_BINARY, buf, 0, n, this.spec.zeroMask, into), lendFrameBuffer(this.cloud, into));
        else cloud.write(buildFrame(OP_BINARY, buf, 0, n, this.spec.zeroMask));
      }
      const queued = cloud.writableLength;
      if (queued > this.c.peakUp) this.c.peakUp = queued;
      if (readOnAfterSend(queued, this.spec.highWaterMark)) return true;
      // 'drain' on the cloud socket resumes it: everything queued has then reached the kernel.
      this.target.paused = true;
      return false;
    }
    if (this.phase === SETUP) {
      // The frame is built now (the read buffer is shared), held until the WebSocket is up.
      this.c.bytesUp += n;
      const full = this.queue.push(buildFrame(OP_BINARY, buf, 0, n, this.spec.zeroMask), n, 'target');
      if (this.queue.peak > this.c.peakBootstrap) this.c.peakBootstrap = this.queue.peak;
      if (readOnAfterHold(full, this.queue.room)) return true;
      this.target.paused = true;
      return false;
    }
    return discardEnding(this.target, this.c, n);
  }

  /** @internal */ cloudDrained(): void {
    if (this.target.paused && this.phase === OPEN) {
      this.target.paused = false;
      this.target.socket!.resume();
    }
  }

  // ---- cloud to device ----

  /** @internal A read of Node's own (listeners.ts): a socket dialed through a proxy, or the upgrade's head. */
  fromCloud(chunk: Buffer): void {
    this.cloudBytes(chunk, chunk.length === this.fullRead);
  }

  /** @internal A read into the shared cloud buffer (listeners.ts), `buf[0, n)`. */
  fromCloudRead(socket: net.Socket, buf: Buffer, n: number): void {
    const chunk = n === buf.length ? buf : buf.subarray(0, n);
    if (this.cloud.socket !== socket) {
      // The upgrade's answer: Node's HTTP client reads it from 'data' (a copy: the buffer is shared).
      if (!socket.destroyed) socket.emit('data', Buffer.from(chunk));
    } else {
      this.cloudBytes(chunk, n === buf.length || (this.fullRead === TLS_PIECE && n === TLS_PIECE));
    }
    // The socket's next read, which Node asks for right after this callback: within the burst limit, and
    // during set-up within the bootstrap queue's room, so that the queue never passes its bound (a full
    // queue has paused the cloud, and its next read comes once the queue is handed on).
    const room = this.phase === SETUP ? this.queue.room : 0;
    capCloudRead(room > 0 ? Math.min(room, this.burstLimit) : this.burstLimit);
  }

  /**
   * One cloud read: the parser collects its payload ranges, which are copied out, since the read buffer is
   * shared (read-buffer.ts), into one buffer that goes to the target as one write; a read that filled its
   * buffer (`full`) joins a burst instead (TLS_PIECE).
   */
  private cloudBytes(chunk: Buffer, full: boolean): void {
    if (this.parser.stopped) return;
    const target = this.target.socket;
    if (this.phase !== SETUP && target && target.writable) {
      this.chunk = chunk;
      this.parser.push(chunk);
      this.chunk = null;
      const more = rangeBytes(this.ranges);
      // Room for one more full read: the burst stays within burstLimit.
      if (full && this.phase === OPEN && this.outBytes + more + this.fullRead <= this.burstLimit) {
        this.stageRanges(chunk);
        this.outTick ??= setImmediate(onBurstDue, this);
        return;
      }
      this.flushRanges(chunk, more);
      // A long read that did not fill its buffer: the cloud is streaming, more is on its way, and the next
      // read waits for it (read coalescing, legs.ts). A full read reads on (more is waiting already), and so
      // do short reads (keystrokes, round trips).
      if (!full && chunk.length >= COALESCE_MIN_BYTES && chunk.length < COALESCE_MAX_BYTES && this.phase === OPEN && this.spec.coalesceMs > 0) restCloud(this.cloud, this.spec.coalesceMs);
    } else {
      this.parser.push(chunk);
    }
  }

  /** Copies what the parser collected from `chunk` into the burst's buffer. */
  private stageRanges(chunk: Buffer): void {
    if (this.ranges.length === 0) return;
    this.outBytes = copyRanges(chunk, this.ranges, (this.out ??= takePooled()), this.outBytes);
  }

  /**
   * Writes what waits for the target (a burst, then the `more` bytes the parser collected from `chunk`, as
   * one write), then pauses the cloud if the target must drain.
   */
  private flushRanges(chunk: Buffer | null, more = chunk ? rangeBytes(this.ranges) : 0): void {
    const target = this.target.socket;
    if (!target) {
      this.ranges.length = 0;
      return;
    }
    if (this.out && more > 0 && this.outBytes + more <= this.out.length) this.stageRanges(chunk!);
    this.flushOut();
    if (more > 0 && this.ranges.length > 0) {
      const buf = takeCopyBuffer(more);
      copyRanges(chunk!, this.ranges, buf, 0);
      this.send(target, buf, more);
    }
    const queued = target.writableLength;
    if (queued > this.c.peakDown) this.c.peakDown = queued;
    if (target.writableNeedDrain) pauseCloud(this.cloud);
  }

  /** Writes the burst (if any) to the target. */
  private flushOut(): void {
    const out = this.out;
    const bytes = this.outBytes;
    this.out = null;
    this.outBytes = 0;
    const target = this.target.socket;
    if (out && target) this.send(target, out, bytes);
    else if (out) giveBack(out);
  }

  /** Writes `buf[0, bytes)` to the target: a pooled buffer goes back when its write completes. */
  private send(target: net.Socket, buf: Buffer, bytes: number): void {
    if (!target.writable) {
      // A target that went away during the burst takes nothing: those bytes were never handed on, so they
      // are discarded, not sent (still this turn: the worker reports byte deltas from a timer, never between).
      this.c.bytesDown -= bytes;
      this.c.discarded += bytes;
      giveBack(buf);
      return;
    }
    if (isPooled(buf)) target.write(buf.subarray(0, bytes), lendFrameBuffer(this.target, buf));
    else target.write(bytes === buf.length ? buf : buf.subarray(0, bytes));
  }

  /** @internal The check phase after a burst (listeners.ts): writes what the burst left. */ burstDue(): void {
    this.outTick = null;
    if (this.phase !== DONE) this.flushRanges(null);
  }

  /** FrameSink: payload bytes of a data frame, `chunk[start, end)`. */
  onData(chunk: Buffer, start: number, end: number): void {
    const target = this.target.socket;
    if (this.phase === SETUP) {
      this.c.bytesDown += end - start;
      // Held until the target is up: a copy, since the read buffer is shared (read-buffer.ts).
      if (this.queue.push(Buffer.from(chunk.subarray(start, end)), end - start, 'cloud')) pauseCloud(this.cloud);
      if (this.queue.peak > this.c.peakBootstrap) this.c.peakBootstrap = this.queue.peak;
    } else if (target && target.writable && this.chunk === chunk) {
      // Collected, and written when the read is parsed (cloudBytes).
      this.c.bytesDown += end - start;
      this.ranges.push(start, end);
    } else {
      this.c.discarded += end - start;
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
    this.flushRanges(this.chunk);
    if (this.phase === SETUP) {
      this.failSetup({ code: 'TUN_ERR_WS_CONNECT', message: `cloud closed the WebSocket during set-up (${code})` });
      return;
    }
    const why = answerClose(this.end, this.cloud, code, reason, this.spec.zeroMask);
    if (this.phase === OPEN) this.endFirst('ws', 'TUN_END_WS_CLOSED', why);
    // Our own close was answered: the target gets what it was sent, then its end.
    else this.endTarget();
  }

  onProtocolError(code: number, message: string): void {
    this.flushRanges(this.chunk);
    const err: ErrorCode = code === CLOSE_TOO_BIG ? 'TUN_ERR_WS_PAYLOAD_TOO_BIG' : 'TUN_ERR_WS_PROTOCOL';
    if (this.phase === SETUP) {
      sendClose(this.cloud, code, this.spec.zeroMask);
      this.failSetup({ code: err, message: `cloud WebSocket protocol error: ${message}` });
      return;
    }
    if (this.phase === OPEN) this.endFirst('ws', err, `cloud WebSocket protocol error: ${message} (close ${code})`, code);
    else sendClose(this.cloud, code, this.spec.zeroMask);
    // Nothing more the cloud sends can be read: fail the connection (RFC 6455 section 7.1.7) once the close
    // frame is out.
    this.cloud.socket?.destroySoon();
    this.endTarget();
  }

  /** @internal */ targetDrained(): void {
    // In every phase: a cloud leg paused for a slow target must read on, or it never sees the close reply.
    if (this.phase !== SETUP) resumeCloud(this.cloud);
  }

  // ---- ending ----

  /** Closes the tunnel from our side (both legs, after a flush). */
  close(reason?: string, graceMs?: number): void {
    this.closeOurs('local', 'TUN_ERR_ABORTED', reason, reason ?? 'closed before the tunnel was established', graceMs);
  }

  /** The engine is shutting down: like close(), but the tunnel says the engine ended it. */
  shutdown(reason?: string, graceMs?: number): void {
    this.closeOurs('engine', 'TUN_ERR_ENGINE_CLOSED', reason, reason ?? 'engine closing', graceMs);
  }

  private closeOurs(by: 'local' | 'engine', setupCode: ErrorCode, reason: string | undefined, setupMessage: string, graceMs: number | undefined): void {
    if (this.phase === SETUP) {
      this.failSetup({ code: setupCode, message: setupMessage }, by);
      return;
    }
    if (graceMs !== undefined) this.graceOverride = graceMs;
    this.endFirst(by, 'TUN_END_LOCAL', reason);
  }

  /** Destroys both legs at once (engine shutdown after the grace). */
  destroy(reason?: string): void {
    if (this.phase === DONE) return;
    if (this.phase === SETUP) {
      this.shutdown(reason);
      return;
    }
    this.endFirst('engine', 'TUN_ERR_ENGINE_CLOSED', reason);
    destroyLegs(this.target, this.cloud);
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
    // A burst still waiting goes before our end toward the target, and the cloud is read on at once.
    this.flushOut();
    this.phase = ENDING;
    endRest(this.cloud);
    const grace = this.graceOverride ?? this.spec.closeGraceMs;
    if (beginEnd(this.end, this.target, this.cloud, by, code, message, wsCode, this.spec.zeroMask)) {
      this.tcpTimer = setTimeout(onEndTargetDue, grace / 2, this);
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
    noteDropped(this.end, this.cloud, this.setupMs !== undefined);
    if (this.phase === OPEN) this.endFirst('ws', 'TUN_ERR_WS_DROPPED', 'cloud connection dropped without a close frame (1006)');
    // The cloud is gone: let the target drain what it was sent, then end it.
    this.endTarget();
    this.maybeFinish();
  }

  /** @internal */ targetFailed(err: NodeJS.ErrnoException): void {
    if (this.phase === SETUP) this.failSetup(targetConnectError(err, this.spec.host, this.spec.port));
    else this.recordError('tcp', targetRunError(err));
  }

  /** @internal */ cloudFailed(err: NodeJS.ErrnoException): void {
    if (this.phase === SETUP) this.failSetup(cloudConnectError(err));
    else this.recordError('ws', cloudRunError(err));
  }

  private recordError(by: EndedBy, e: WireError): void {
    if (this.phase === OPEN) {
      this.endFirst(by, e.code, e.message, by === 'tcp' ? CLOSE_INTERNAL : CLOSE_NORMAL);
      if (by === 'tcp') this.target.socket?.destroy();
    } else if (this.phase === ENDING) {
      noteLateError(this.end, e.message);
    }
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.tcpTimer) clearTimeout(this.tcpTimer);
    this.timer = null;
    this.tcpTimer = null;
  }

  /** Ends the target after what it was sent (ending.ts); never during set-up. */
  private endTarget(): void {
    this.flushOut();
    endTarget(this.target, this.cloud, this.phase === ENDING);
  }

  /** @internal the half-grace timer: the cloud did not answer our close in time. */
  endTargetDue(): void {
    this.tcpTimer = null;
    this.endTarget();
  }

  /** @internal */ graceExpired(): void {
    this.timer = null;
    destroyLegs(this.target, this.cloud);
  }

  private maybeFinish(): void {
    if (this.phase === DONE || !this.target.closed || !this.cloud.closed) return;
    this.phase = DONE;
    this.clearTimers();
    stopResting(this.cloud);
    if (this.outTick) clearImmediate(this.outTick);
    this.outTick = null;
    if (this.out) giveBack(this.out);
    this.out = null;
    unwatchIdle(this);
    const s = buildSummary(this.id, this.label, threadId, Date.now() - this.started, this.setupMs, this.c, this.end);
    this.target.socket = null;
    this.cloud.socket = null;
    this.hooks.onEnd(this, s);
  }

  /** @internal Called by the idle sweep (idle.ts). */
  checkIdle(now: number): void {
    if (idleExpired(this, activityOf(this.c), now, this.spec.idleTimeoutMs) && this.phase === OPEN) {
      unwatchIdle(this);
      this.endFirst('local', 'TUN_END_IDLE', `no traffic for ${this.spec.idleTimeoutMs} ms`);
    }
  }

  /** @internal */ get targetName(): string {
    return `target ${this.spec.host}:${this.spec.port}`;
  }
}
