/**
 * Sends a binary frame whose payload the tunnel owns, masked in place.
 *
 * ws treats every Buffer handed to send() as read-only, so with a random mask it allocates a new buffer
 * (header + payload) for every frame and writes a masked copy into it. A chunk read from the target's
 * TCP socket belongs to the tunnel alone (its ArrayBuffer holds exactly that chunk, nothing else refers
 * to it, and it is never read again once sent), so it can be masked where it is and written with its
 * header in one writev: what ws itself does for buffers it owns. The mask is still ws's random mask.
 */
import type WebSocket from 'ws';

type SendCallback = (err?: Error) => void;

/** The parts of ws's Sender this relies on (ws 8: `Sender.frame` is public, `sendFrame` internal). */
interface SenderLike {
  _state: number;
  _generateMask?: unknown;
  _queue: unknown[];
  sendFrame(list: Buffer[], cb?: SendCallback): void;
  constructor: { frame(data: Buffer, options: object): Buffer[] };
}

const OPEN = 1;
/** Sender state with nothing deflating or queued (ws's DEFAULT). */
const SENDER_IDLE = 0;
/** Below this, ws's merged copy costs no more than a second iovec. */
const MIN_IN_PLACE = 1024;
const SEND_BINARY = { binary: true } as const;
const FRAME = { fin: true, opcode: 0x02, mask: true, readOnly: false, rsv1: false };

/**
 * Sends `chunk` as one binary frame; masks it in place when it can (the chunk is then garbage), else
 * falls back to `ws.send`.
 */
export function sendOwned(ws: WebSocket, chunk: Buffer, cb?: SendCallback): void {
  const sender = (ws as unknown as { _sender?: SenderLike })._sender;
  if (
    chunk.length < MIN_IN_PLACE ||
    ws.readyState !== OPEN ||
    !sender ||
    // A custom mask (the opt-in zero mask) already goes out by reference, without a copy.
    sender._generateMask !== undefined ||
    sender._state !== SENDER_IDLE ||
    sender._queue.length !== 0 ||
    chunk.byteOffset !== 0 ||
    chunk.buffer.byteLength !== chunk.length
  ) {
    ws.send(chunk, SEND_BINARY, cb);
    return;
  }
  sender.sendFrame(sender.constructor.frame(chunk, FRAME), cb);
}
