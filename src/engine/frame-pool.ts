/**
 * Reused buffers for the big device-to-cloud frames, and for the big cloud-to-device writes.
 *
 * A target read of up to 256 KiB (read-buffer.ts) becomes one masked frame. Allocated fresh each time,
 * such a buffer is above glibc's mmap threshold, so every frame is a new mapping whose pages the kernel
 * faults in and zeroes, and which is unmapped again when the frame is collected. Measured on the
 * `s8.d2c.w64k` row (warm-up and three runs of 512 MiB, one agent process): 322,267 minor page faults
 * for the agent against 31,776 for the plain relay, and the agent's system time 1.5x the relay's. With
 * glibc's thresholds pinned (GLIBC_TUNABLES mmap_threshold 4 MiB, trim_threshold 256 MiB) the faults
 * fell to 20,746: the cost is fresh memory, not the copy. Pinning glibc is a deployment setting (and
 * not musl's), so the engine keeps the pages instead: a frame buffer goes back to a small per-thread
 * pool when its write has completed, and the next big frame is built into it. Cloud reads are copied out
 * of the shared cloud read buffer (read-buffer.ts) into these buffers too, when big (POOLED_COPY_MIN).
 *
 * Ownership: a pooled buffer belongs to one write. Each leg keeps its pooled frames in write order
 * (`inflight`) and one callback per leg returns the oldest when a write completes (Writable calls write
 * callbacks in order, with an error too when the socket is destroyed). A callback that never comes only
 * costs a pool miss: the buffer is then collected like any other.
 */
import { KiB } from '../constants.js';
import { READ_SIZE } from './read-buffer.js';

/**
 * Frames of at least this payload are built into pooled buffers; smaller ones are plain allocations. A
 * queued frame holds its whole buffer, so a pooled frame wastes at most a quarter of it: what the queue
 * bounds count (writableLength) stays within 4/3 of the memory it holds. Reads are mostly full when the
 * cloud is the slower side (6,335 of 6,562 reads were 256 KiB in one `s8.d2c.w64k` pass).
 */
export const POOLED_FRAME_MIN = 192 * KiB;
/**
 * Cloud-to-device writes of at least this many bytes are copied into pooled buffers; smaller ones into
 * exact allocations. A pooled write holds its whole buffer; the cloud pauses once the target's socket
 * queues 16 KiB (listeners.ts), which a write of this size passes alone, so a slow target holds at most
 * 16 KiB of small writes and one or two pooled buffers.
 */
export const POOLED_COPY_MIN = 64 * KiB;
/** Capacity of a pooled buffer: the largest read plus the largest client frame header (14 bytes). */
const CAPACITY = READ_SIZE + 14;
/** Buffers kept per thread when no write holds them (4 MiB at most), whatever the number of tunnels. */
const POOL_LIMIT = 16;

const free: Buffer[] = [];

/** What a cloud leg needs to return its pooled frames. */
export interface PooledWrites {
  /** Pooled buffers of writes not yet completed, oldest first. */
  inflight: Buffer[] | null;
  /** The leg's write callback (made on its first pooled frame). */
  written: (() => void) | null;
}

/** A buffer for a frame of `payload` bytes, or undefined when the frame is small (allocate it). */
export function takeFrameBuffer(payload: number): Buffer | undefined {
  if (payload < POOLED_FRAME_MIN || payload > READ_SIZE) return undefined;
  return takePooled();
}

/** A pooled buffer (READ_SIZE + 14 bytes). */
export function takePooled(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(CAPACITY);
}

/** A buffer for a cloud-to-device write of `bytes` (at most READ_SIZE): pooled when big (see isPooled), else exact. */
export function takeCopyBuffer(bytes: number): Buffer {
  return bytes < POOLED_COPY_MIN ? Buffer.allocUnsafe(bytes) : takePooled();
}

/** A buffer of the pool's (an exact allocation is always smaller than one). */
export function isPooled(buf: Buffer): boolean {
  return buf.length === CAPACITY;
}

/** A pooled buffer that no write took (its bytes were discarded) goes back at once. */
export function giveBack(buf: Buffer): void {
  if (isPooled(buf) && free.length < POOL_LIMIT) free.push(buf);
}

/** Records that `buf` is written on `leg`'s socket; returns the callback to pass to that write. */
export function lendFrameBuffer(leg: PooledWrites, buf: Buffer): () => void {
  (leg.inflight ??= []).push(buf);
  return (leg.written ??= () => {
    const b = leg.inflight?.shift();
    if (b && free.length < POOL_LIMIT) free.push(b);
  });
}

/** Buffers in the pool now (tests). */
export function pooledFrameBuffers(): number {
  return free.length;
}
