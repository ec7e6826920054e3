/**
 * The log lines of an operation's course ('operation failed', 'tunnel up', 'tunnel closed' and the text
 * frame warning), written by a subscriber of the operation channels (events.ts) rather than by the
 * coordinator itself, as the metrics are.
 */
import diagnostics from 'node:diagnostics_channel';
import { OPERATION_CHANNELS, type OperationFinishedMessage, type OperationStatusMessage } from './events.js';
import type { Logger } from './log.js';

/** Logs the operations of `agent` to `log` until the returned function is called. */
export function subscribeOperationLog(agent: object, log: Logger): () => void {
  const onStatus = (msg: unknown): void => {
    const m = msg as OperationStatusMessage;
    if (m.agent !== agent) return;
    if (m.status === 'SUCCESSFUL') log.info({ id: m.id, key: m.key, target: m.target, ms: Math.round(m.ms * 10) / 10 }, 'tunnel up');
    else if (m.status === 'FAILED') log.warn({ id: m.id, key: m.key, code: m.code, target: m.target }, `operation failed: ${m.reason}`);
  };
  const onFinished = (msg: unknown): void => {
    const { agent: a, id, key, summary } = msg as OperationFinishedMessage;
    if (a !== agent || !summary.established) return;
    log.info({ id, key, code: summary.code, up: summary.bytesUp, down: summary.bytesDown, discarded: summary.bytesDiscarded ?? 0, wsClose: summary.wsCloseCode }, 'tunnel closed');
    // The cloud relays binary frames only; text frames mean a misbehaving peer (forwarded as bytes anyway).
    if (summary.textFrames > 0) log.warn({ id, key, textFrames: summary.textFrames }, 'cloud sent text frames (forwarded as bytes)');
  };
  diagnostics.subscribe(OPERATION_CHANNELS.status, onStatus);
  diagnostics.subscribe(OPERATION_CHANNELS.finished, onFinished);
  return () => {
    diagnostics.unsubscribe(OPERATION_CHANNELS.status, onStatus);
    diagnostics.unsubscribe(OPERATION_CHANNELS.finished, onFinished);
  };
}
