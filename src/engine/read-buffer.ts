/**
 * The reads of both legs: one shared read buffer per thread for target sockets and one for cloud sockets,
 * and the size of each read.
 *
 * Read size is the lever of the device-to-cloud cost (a syscall, a frame and a write per read): 64 KiB
 * reads cost 1.10 CPU-s/GiB in the prototype of issue #10, 256 KiB 0.81, 1 MiB 0.70. One buffer serves
 * every target socket of the thread (a read is consumed, copied-and-masked into its frame, before the next
 * socket reads), so an idle tunnel holds no read buffer. Over TLS a read may instead become its frame
 * where it lies (FRAME_ROOM, tunnel.ts fromTarget): it is encrypted before the next read too.
 */
import { KiB } from '../constants.js';

/** The largest target read. */
export const READ_SIZE = 256 * KiB;
/** A read never takes the tunnel more than this past its high-water mark (or bootstrap bound). */
const READ_SLACK = 64 * KiB;

/**
 * One shared read buffer, and the size of the next read from it. Node asks `onread.buffer()` for the next
 * buffer right after each read's callback (and once at connect), synchronously on the same socket, so the
 * callback sets `next` for its own socket. Were that order to change, reads would just be READ_SIZE and
 * the bounds would be "+ one read".
 */
class SharedReads {
  private buf: Buffer | null = null;
  private whole: Buffer | null = null;
  next = READ_SIZE;

  /** `room` bytes before every read stay free (a frame header, FRAME_ROOM). */
  constructor(private readonly room = 0) {}

  /** The buffer, or the front of it when the next read is capped. */
  take(): Buffer {
    if (!this.buf) {
      const whole = Buffer.allocUnsafeSlow(this.room + READ_SIZE);
      this.whole = whole;
      this.buf = this.room > 0 ? whole.subarray(this.room) : whole;
    }
    const n = this.next;
    this.next = READ_SIZE;
    return n >= READ_SIZE ? this.buf : this.buf.subarray(0, Math.max(1, n));
  }

  /** Whether `buf` is (the front of) this buffer, so that the room before it is ours. */
  owns(buf: Buffer): boolean {
    return this.whole !== null && buf.buffer === this.whole.buffer && buf.byteOffset === this.whole.byteOffset + this.room;
  }
}

/**
 * Room kept before every target read, for a frame header (at most 14 bytes, RFC 6455: 2 + 8 + 4) built
 * right before the payload. 64 rather than 14 keeps the reads where they were, cache-line aligned. In
 * same-run pairs of the plain `s8.d2c.w64k` row, 14 bytes of room gave the agent 0.583-0.683 CPU-s/GiB
 * against 0.566-0.587 before, and 64 bytes 0.546-0.555 against 0.643-0.668: within this machine's noise,
 * but the kernel's copy into a read and the mask pass out of it have no reason to run off alignment.
 */
export const FRAME_ROOM = 64;

const targetReads = new SharedReads(FRAME_ROOM);

/** Whether `buf` is a target read of the shared buffer, with FRAME_ROOM free bytes before it. */
export function hasFrameRoom(buf: Buffer): boolean {
  return targetReads.owns(buf);
}

/** `onread.buffer` of every target socket. */
export function readBuffer(): Buffer {
  return targetReads.take();
}

/** A target socket is being opened: its first read takes at most `limit` bytes (the bootstrap bound). */
export function firstRead(limit: number): void {
  targetReads.next = Math.min(READ_SIZE, limit);
}

/**
 * A read went out toward the cloud, whose socket now queues `queued` bytes. False: over the high-water
 * mark, pause the target (its next read, after the resume, is a small one). True: read on, the next read
 * taking at most what keeps the queue within the mark plus the slack.
 */
export function readOnAfterSend(queued: number, highWaterMark: number): boolean {
  if (queued > highWaterMark) {
    targetReads.next = READ_SLACK;
    return false;
  }
  targetReads.next = Math.min(READ_SIZE, highWaterMark + READ_SLACK - queued);
  return true;
}

/**
 * A read was held in the bootstrap queue. False: the queue is full, pause the target. True: read on, the
 * next read taking at most the `room` left, so the bound is never passed.
 */
export function readOnAfterHold(full: boolean, room: number): boolean {
  if (full) {
    targetReads.next = READ_SLACK;
    return false;
  }
  targetReads.next = Math.min(READ_SIZE, room);
  return true;
}

// ---- cloud reads ----

/**
 * The cloud socket's reads, through `onread` too (dial.ts): without it, Node allocates a fresh 64 KiB
 * buffer per plain read and one per 16 KiB TLS piece. On Node 24 those buffers' external memory starts a
 * full mark-compact about every 64 MiB read (a CPU profile of s8.c2d.m64k: 10 % of the worker's samples in
 * the garbage collector, against 2 % on Node 20). A cloud read is parsed, and its payload copied out
 * (tunnel.ts), before its callback returns, so one buffer per thread serves every cloud socket. It is its
 * own, not the target's: a target read's callback writes to a cloud socket and a cloud read's to a target
 * socket, and neither leg's buffer should depend on those writes never reading.
 */
const cloudReads = new SharedReads();

/** `onread.buffer` of every cloud socket dialed here. */
export function cloudReadBuffer(): Buffer {
  return cloudReads.take();
}

/**
 * The next cloud read (of the socket being opened, or of the one whose read callback runs) takes at most
 * `limit` bytes: a tunnel's burst limit, so one read never passes it.
 */
export function capCloudRead(limit: number): void {
  cloudReads.next = Math.min(READ_SIZE, limit);
}
