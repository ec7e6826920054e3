/**
 * A tunnel's two legs as plain records, and what is done to a leg from its records alone: dropping both
 * when set-up fails or a grace is over, pausing and resuming the cloud's reads, the close frame, and the
 * writes of one cloud read toward the target.
 */
import type net from 'node:net';
import { KiB } from '../constants.js';
import type { Dialing } from './dial.js';
import type { PooledWrites } from './frame-pool.js';
import type { Tagged } from './listeners.js';
import { buildFrame, closeBody, OP_CLOSE } from './ws-codec.js';

/** Below this average size, the payload ranges of one cloud read are moved together in place (takeRanges). */
const SMALL_SLICE = 4 * KiB;

/** The target leg. */
export interface TargetLeg {
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
}

export function targetLeg(): TargetLeg {
  return { socket: null, up: false, closed: false, eof: false, paused: false, discardedEnding: 0 };
}

export function cloudLeg(): CloudLeg {
  return { socket: null, dialing: null, up: false, closed: false, paused: false, closeSent: false, closeReceived: false, inflight: null, written: null };
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

/** A cloud leg paused for the target reads on. */
export function resumeCloud(cloud: CloudLeg): void {
  if (cloud.paused) {
    cloud.paused = false;
    cloud.socket?.resume();
  }
}

/** Sends a close frame once; `code` -1 sends one with no body. */
export function sendClose(cloud: CloudLeg, code: number, zeroMask: boolean): void {
  const s = cloud.socket;
  if (cloud.closeSent || !s || cloud.closed || !s.writable) return;
  cloud.closeSent = true;
  const body = code === -1 ? Buffer.alloc(0) : closeBody(code);
  s.write(buildFrame(OP_CLOSE, body, 0, body.length, zeroMask));
}

/**
 * Takes the payload of one cloud read, `chunk`'s `ranges` (start, end pairs, in order), into `out` and
 * empties `ranges`; returns the bytes taken. One range goes as a view. Small ranges (messages of a few KiB)
 * are moved together inside the chunk, over the frame headers between them, and the chunk's front goes as
 * one buffer: the chunk is this read's alone (Node allocates one per read, and nothing else holds it once
 * the parser is done), so this costs no allocation, and less than a view and an iovec per message or a
 * copy into a new buffer (1 KiB messages, micro-benchmark: 0.5 CPU-s/GiB moving in place against 0.8-1.3
 * for Buffer.concat of views). Large ranges go as views, written together (writeOut): copying them cost
 * as much as the write syscall itself in a profile (16 KiB messages), hence the threshold.
 */
export function takeRanges(chunk: Buffer, ranges: number[], out: Buffer[]): number {
  const n = ranges.length;
  if (n === 0) return 0;
  const first = ranges[0]!;
  let total = 0;
  if (n === 2) {
    const end = ranges[1]!;
    out.push(first === 0 && end === chunk.length ? chunk : chunk.subarray(first, end));
    total = end - first;
  } else {
    for (let i = 0; i < n; i += 2) total += ranges[i + 1]! - ranges[i]!;
    if (total < (n / 2) * SMALL_SLICE) {
      // Leftward moves in order: a range never overwrites bytes a later range still needs.
      let at = first;
      for (let i = 0; i < n; i += 2) {
        const s = ranges[i]!;
        const e = ranges[i + 1]!;
        if (s !== at) chunk.copyWithin(at, s, e);
        at += e - s;
      }
      out.push(chunk.subarray(first, at));
    } else {
      for (let i = 0; i < n; i += 2) out.push(chunk.subarray(ranges[i]!, ranges[i + 1]!));
    }
  }
  ranges.length = 0;
  return total;
}

/** Writes `out` to the target as one write (one writev under cork() when it holds several buffers) and empties it. */
export function writeOut(target: net.Socket, out: Buffer[]): void {
  const n = out.length;
  if (n === 1) {
    target.write(out[0]!);
  } else if (n > 1) {
    target.cork();
    for (let i = 0; i < n; i++) target.write(out[i]!);
    target.uncork();
  }
  out.length = 0;
}
