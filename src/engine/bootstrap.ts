/**
 * The bootstrap queue: what arrives on the leg that is up before the other one is (an SSH banner, a
 * client typing before the target accepted), held in order up to a bound, and handed on when both are up.
 */
import { resumeCloud, type CloudLeg, type TargetLeg } from './legs.js';
import type { TunnelCounters } from './summary.js';

export class BootstrapQueue {
  private items: Buffer[] = [];
  /** Payload bytes held (a frame built ahead counts its payload, not its header). */
  bytes = 0;
  peak = 0;
  /** Which leg filled it (only one leg can be up while anything is held). */
  from: 'target' | 'cloud' | null = null;

  constructor(readonly limit: number) {}

  /** Room left before the bound. */
  get room(): number {
    return Math.max(0, this.limit - this.bytes);
  }

  /** Holds `buf` (carrying `payload` bytes); returns true when the producer must pause (the bound is reached). */
  push(buf: Buffer, payload: number, from: 'target' | 'cloud'): boolean {
    this.from ??= from;
    this.items.push(buf);
    this.bytes += payload;
    if (this.bytes > this.peak) this.peak = this.bytes;
    return this.bytes >= this.limit;
  }

  /** Hands everything out in order and empties the queue. */
  drain(): Buffer[] {
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items;
  }

  clear(): void {
    this.items = [];
    this.bytes = 0;
  }
}

/**
 * Both legs are up: hands on what was held, in order, and lets the paused leg go unless backpressure says
 * no (the cloud socket above `highWaterMark`, the target socket needing a drain).
 */
export function handOn(queue: BootstrapQueue, target: TargetLeg, cloud: CloudLeg, highWaterMark: number, c: TunnelCounters): void {
  const from = queue.from;
  const items = queue.drain();
  const cs = cloud.socket!;
  const ts = target.socket!;
  if (from === 'target') {
    for (const frame of items) cs.write(frame);
    if (cs.writableLength > c.peakUp) c.peakUp = cs.writableLength;
  } else if (from === 'cloud') {
    ts.cork();
    for (const slice of items) ts.write(slice);
    ts.uncork();
    if (ts.writableLength > c.peakDown) c.peakDown = ts.writableLength;
  }
  if (target.paused && cs.writableLength <= highWaterMark) {
    target.paused = false;
    if (!target.eof) ts.resume();
  }
  if (!ts.writableNeedDrain) resumeCloud(cloud);
}
