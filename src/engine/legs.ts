/**
 * A tunnel's two legs as plain records, and what is done to a leg from its records alone: dropping both
 * when set-up fails or a grace is over, pausing and resuming the cloud's reads, the close frame, and the
 * copy of one cloud read's payload.
 */
import type net from 'node:net';
import type { Dialing } from './dial.js';
import type { PooledWrites } from './frame-pool.js';
import type { Tagged } from './listeners.js';
import { buildFrame, closeBody, OP_CLOSE } from './ws-codec.js';

/** The target leg (its pooled writes: frame-pool.ts). */
export interface TargetLeg extends PooledWrites {
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

/** The cloud leg (its pooled frames: frame-pool.ts). */
export interface CloudLeg extends PooledWrites {
  socket: Tagged<net.Socket> | null;
  dialing: Dialing | null;
  up: boolean;
  closed: boolean;
  /** Reads paused by backpressure or the bootstrap bound. */
  paused: boolean;
  closeSent: boolean;
  closeReceived: boolean;
  /** Read coalescing: the reads rest until this timer (restCloud); null when they do not. */
  resting: NodeJS.Timeout | null;
}

export function targetLeg(): TargetLeg {
  return { socket: null, up: false, closed: false, eof: false, paused: false, discardedEnding: 0, inflight: null, written: null };
}

export function cloudLeg(): CloudLeg {
  return { socket: null, dialing: null, up: false, closed: false, paused: false, closeSent: false, closeReceived: false, resting: null, inflight: null, written: null };
}

/** Set-up failed: stops dialing and destroys both sockets; a leg that has none is closed at once. */
export function dropLegs(target: TargetLeg, cloud: CloudLeg): void {
  cloud.dialing?.abort();
  cloud.dialing = null;
  if (cloud.socket && !cloud.closed) cloud.socket.destroy();
  else cloud.closed = true;
  if (target.socket && !target.closed) target.socket.destroy();
  else target.closed = true;
}

/** Destroys both sockets (the engine's grace or the tunnel's is over). */
export function destroyLegs(target: TargetLeg, cloud: CloudLeg): void {
  target.socket?.destroy();
  cloud.socket?.destroy();
}

/** Stops reading the cloud (the target's backpressure, or the bootstrap bound). */
export function pauseCloud(cloud: CloudLeg): void {
  if (!cloud.paused && cloud.socket) {
    cloud.paused = true;
    cloud.socket.pause();
  }
}

/** A cloud leg paused for the target reads on; one resting reads on at once. */
export function resumeCloud(cloud: CloudLeg): void {
  if (cloud.paused) {
    cloud.paused = false;
    cloud.socket?.resume();
  }
  endRest(cloud);
}

/**
 * Read coalescing (a stream read, tunnel.ts): the cloud's reads rest for `ms`, while the kernel gathers
 * what the cloud sends, so that the next read takes it in one piece. Why by hand: Node has no receive
 * low-water mark with a deadline (Linux's SO_RCVLOWAT is not exposed, and without a deadline it would
 * hold a keystroke). A pause for backpressure that comes meanwhile outlasts the rest; a resume ends it.
 * Its cost: one timer, and libuv's stop and start of the read (two epoll_ctl calls).
 */
export function restCloud(cloud: CloudLeg, ms: number): void {
  if (cloud.paused || cloud.resting || !cloud.socket) return;
  cloud.socket.pause();
  cloud.resting = setTimeout(endRest, ms, cloud);
  cloud.resting.unref();
}

/** The rest is over, or cut short: reads go on unless backpressure paused them meanwhile (that pause holds). */
export function endRest(cloud: CloudLeg): void {
  if (!cloud.resting) return;
  stopResting(cloud);
  const s = cloud.socket;
  if (!cloud.paused && s && !s.destroyed) s.resume();
}

/** The tunnel is done: a rest still running is cancelled, reading nothing. */
export function stopResting(cloud: CloudLeg): void {
  if (cloud.resting) clearTimeout(cloud.resting);
  cloud.resting = null;
}

/** Sends a close frame once; `code` -1 sends one with no body. */
export function sendClose(cloud: CloudLeg, code: number, zeroMask: boolean): void {
  const s = cloud.socket;
  if (cloud.closeSent || !s || cloud.closed || !s.writable) return;
  cloud.closeSent = true;
  const body = code === -1 ? Buffer.alloc(0) : closeBody(code);
  s.write(buildFrame(OP_CLOSE, body, 0, body.length, zeroMask));
}

/** Copies `chunk`'s payload `ranges` (start, end pairs, in order) into `dst` from `at`, empties `ranges`; returns the new end. */
export function copyRanges(chunk: Buffer, ranges: number[], dst: Buffer, at: number): number {
  const n = ranges.length;
  for (let i = 0; i < n; i += 2) at += chunk.copy(dst, at, ranges[i]!, ranges[i + 1]!);
  ranges.length = 0;
  return at;
}

/** The payload bytes `ranges` (start, end pairs) cover. */
export function rangeBytes(ranges: number[]): number {
  let total = 0;
  for (let i = 0; i < ranges.length; i += 2) total += ranges[i + 1]! - ranges[i]!;
  return total;
}
