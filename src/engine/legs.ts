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

/** Below this average size, the payload slices of one cloud read are copied into one buffer (writeSlices). */
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
 * Writes the payload slices of one cloud read to the target as one write: a single slice as it is,
 * several as one writev under cork(); small slices (messages of a few KiB) are copied into one buffer
 * instead, which costs less than a Writable.write and an iovec each. Copying large slices cost as much
 * as the write syscall itself in a profile (16 KiB messages), hence the threshold. Empties `slices`.
 */
export function writeSlices(target: net.Socket, slices: Buffer[]): void {
  const n = slices.length;
  if (n === 0) return;
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
