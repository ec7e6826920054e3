/**
 * The target's reads: one shared read buffer per thread, and the size of each read.
 *
 * Read size is the lever of the device-to-cloud cost (a syscall, a frame and a write per read): 64 KiB
 * reads cost 1.10 CPU-s/GiB in the prototype of issue #10, 256 KiB 0.81, 1 MiB 0.70. One buffer serves
 * every target socket of the thread (a read is consumed, copied-and-masked into its frame, before the next
 * socket reads), so an idle tunnel holds no read buffer.
 */
import { KiB } from '../constants.js';

/** The largest target read. */
export const READ_SIZE = 256 * KiB;
/** A read never takes the tunnel more than this past its high-water mark (or bootstrap bound). */
const READ_SLACK = 64 * KiB;

let shared: Buffer | null = null;
/**
 * Size of the next read. Node asks `onread.buffer()` for the next buffer right after each read's callback
 * (and once at connect), synchronously on the same socket, so the callback sets this for its own socket.
 * Were that order to change, reads would just be READ_SIZE and the bounds would be "+ one read".
 */
let nextRead = READ_SIZE;

/** `onread.buffer` of every target socket: the shared buffer, or the front of it when the next read is capped. */
export function readBuffer(): Buffer {
  shared ??= Buffer.allocUnsafeSlow(READ_SIZE);
  const n = nextRead;
  nextRead = READ_SIZE;
  return n >= READ_SIZE ? shared : shared.subarray(0, Math.max(1, n));
}

/** A target socket is being opened: its first read takes at most `limit` bytes (the bootstrap bound). */
export function firstRead(limit: number): void {
  nextRead = Math.min(READ_SIZE, limit);
}

/**
 * A read went out toward the cloud, whose socket now queues `queued` bytes. False: over the high-water
 * mark, pause the target (its next read, after the resume, is a small one). True: read on, the next read
 * taking at most what keeps the queue within the mark plus the slack.
 */
export function readOnAfterSend(queued: number, highWaterMark: number): boolean {
  if (queued > highWaterMark) {
    nextRead = READ_SLACK;
    return false;
  }
  nextRead = Math.min(READ_SIZE, highWaterMark + READ_SLACK - queued);
  return true;
}

/**
 * A read was held in the bootstrap queue. False: the queue is full, pause the target. True: read on, the
 * next read taking at most the `room` left, so the bound is never passed.
 */
export function readOnAfterHold(full: boolean, room: number): boolean {
  if (full) {
    nextRead = READ_SLACK;
    return false;
  }
  nextRead = Math.min(READ_SIZE, room);
  return true;
}
