/** The summary a tunnel's `closed` resolves to, built from plain data. */
import type { WireError } from '../errors.js';
import type { EndCode, EndedBy, TunnelSummary } from './types.js';

/** How a tunnel ended, as the tunnel records it. */
export interface EndRecord {
  endedBy: EndedBy;
  code: EndCode;
  message?: string | undefined;
  status?: number | undefined;
  syscode?: string | undefined;
  /** The close code the cloud sent (or 1006 when its connection dropped without one); never our own. */
  wsCloseCode?: number | undefined;
}

/** A tunnel's counters. */
export interface TunnelCounters {
  bytesUp: number;
  bytesDown: number;
  textFrames: number;
  discarded: number;
  peakBootstrap: number;
  peakUp: number;
  peakDown: number;
}

/** Everything a tunnel has moved or seen (the idle sweep watches it change). */
export function activityOf(c: TunnelCounters): number {
  return c.bytesUp + c.bytesDown + c.discarded + c.textFrames;
}

export function buildSummary(
  id: number,
  label: string | undefined,
  threadId: number,
  durationMs: number,
  setupMs: number | undefined,
  c: TunnelCounters,
  end: EndRecord,
): TunnelSummary {
  const s: TunnelSummary = {
    id,
    bytesUp: c.bytesUp,
    bytesDown: c.bytesDown,
    textFrames: c.textFrames,
    durationMs,
    established: setupMs !== undefined,
    endedBy: end.endedBy,
    code: end.code,
    threadId,
    peakBootstrapBytes: c.peakBootstrap,
    peakBufferedUp: c.peakUp,
    peakBufferedDown: c.peakDown,
    bytesDiscarded: c.discarded,
  };
  if (label !== undefined) s.label = label;
  if (setupMs !== undefined) s.setupMs = setupMs;
  if (end.message !== undefined) s.message = end.message;
  if (end.wsCloseCode !== undefined) s.wsCloseCode = end.wsCloseCode;
  if (end.status !== undefined) s.status = end.status;
  if (end.syscode !== undefined) s.syscode = end.syscode;
  return s;
}

/** The summary of a tunnel that never got going (invalid spec, engine closed, worker lost). */
export function failedSummary(id: number, err: WireError, label: string | undefined, threadId = 0): TunnelSummary {
  const s: TunnelSummary = {
    id,
    bytesUp: 0,
    bytesDown: 0,
    textFrames: 0,
    durationMs: 0,
    established: false,
    endedBy: 'setup',
    code: err.code,
    message: err.message,
    threadId,
    peakBootstrapBytes: 0,
  };
  if (label !== undefined) s.label = label;
  if (err.status !== undefined) s.status = err.status;
  if (err.syscode !== undefined) s.syscode = err.syscode;
  return s;
}
