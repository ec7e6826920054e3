/**
 * How a tunnel ends, on its records: who ended it first and the grace that follows, the answer to the
 * cloud's close, the target's end, and what is still read (and discarded) or reported once it is ending.
 * The phase machine that calls these is tunnel.ts.
 */
import { KiB } from '../constants.js';
import { resumeCloud, sendClose, type CloudLeg, type TargetLeg } from './legs.js';
import type { EndRecord, TunnelCounters } from './summary.js';
import type { EndCode, EndedBy } from './types.js';
import { CLOSE_ABNORMAL, CLOSE_NO_STATUS } from './ws-codec.js';
import { isCleanEnd } from '../errors.js';

/** How much a target may send after our end that is still read (and discarded) while the tunnel ends. */
const ENDING_READ_LIMIT = 1024 * KiB;

/**
 * The first end: records who ended the tunnel and why and sends our close frame. Returns true when the
 * target is held for the cloud's close reply (the caller arms the half-grace timer), false when it was
 * ended at once.
 */
export function beginEnd(
  end: EndRecord,
  target: TargetLeg,
  cloud: CloudLeg,
  by: EndedBy,
  code: EndCode,
  message: string | undefined,
  wsCode: number,
  zeroMask: boolean,
): boolean {
  end.endedBy = by;
  end.code = code;
  end.message = message;
  sendClose(cloud, wsCode, zeroMask);
  if ((by === 'local' || by === 'engine') && !cloud.closed && !target.closed) {
    // Our own close: the cloud may still have bytes in flight for the target. Keep the target writable
    // until the cloud answers the close (onClose ends it), and stop reading it: nothing read now could go
    // out. If the cloud is slow to answer, the target gets an orderly end at half the grace, and the
    // cloud leg then reads on (discarding, counted) so that its close reply is still seen.
    target.socket!.pause();
    return true;
  }
  endTarget(target, cloud, true);
  return false;
}

/**
 * Ends the target after what it was sent (half the grace, or the cloud is done). Never called during
 * set-up; `ending` is the ENDING phase (rather than done).
 */
export function endTarget(target: TargetLeg, cloud: CloudLeg, ending: boolean): void {
  const t = target.socket;
  if (t && !target.closed && !t.writableEnded) {
    t.end();
    // Read on (discarding, counted), or the target's own end would never be seen.
    if (ending) t.resume();
  }
  // The target can take nothing more: a cloud leg paused for it reads on (discarding) to see its close.
  resumeCloud(cloud);
}

/**
 * The cloud's close frame, after set-up: records its code (the first one seen), echoes it (none when it
 * sent none), then our side of the TCP connection ends. Returns the reason for the summary.
 */
export function answerClose(end: EndRecord, cloud: CloudLeg, code: number, reason: Buffer, zeroMask: boolean): string {
  if (end.wsCloseCode === undefined) end.wsCloseCode = code;
  sendClose(cloud, code === CLOSE_NO_STATUS ? -1 : code, zeroMask);
  cloud.socket?.end();
  return reason.length > 0 ? reason.toString('utf8').slice(0, 120) : `close code ${code}`;
}

/** The cloud's connection is gone, after set-up: 1006 is what a drop without a close frame is called, never sent. */
export function noteDropped(end: EndRecord, cloud: CloudLeg, established: boolean): void {
  // A tunnel that failed during set-up reports none.
  if (!cloud.closeReceived && established && end.wsCloseCode === undefined) end.wsCloseCode = CLOSE_ABNORMAL;
}

/** An error while the tunnel ends: who ended first is kept, but a clean end surfaces the error. */
export function noteLateError(end: EndRecord, message: string): void {
  if (isCleanEnd(end.code)) end.message = end.message ?? message;
}

/**
 * A target read while the tunnel ends: the cloud leg is closing and can take nothing more; said in the
 * summary, never hidden. Reading on lets a target that answers our end with its own be seen at once; a
 * target that keeps streaming is not read past ENDING_READ_LIMIT (discarding at line rate would only burn
 * both sides' CPU, and starve its own processing of our end): it then waits, unread, for the grace.
 * Returns false to stop reading.
 */
export function discardEnding(target: TargetLeg, c: TunnelCounters, n: number): boolean {
  c.discarded += n;
  target.discardedEnding += n;
  return target.discardedEnding < ENDING_READ_LIMIT;
}
