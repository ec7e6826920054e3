/**
 * RFC 6455 data-phase codec for the client side of a tunnel: a streaming parser of server frames and a
 * builder of masked client frames.
 *
 * Written by hand because a tunnel treats the WebSocket as a byte stream, and no WebSocket library hands
 * out payload as it arrives: ws (and every other) assembles each message (copying frames that straddle
 * reads) and delivers messages one at a time, so a 64 MiB frame is held whole and 1 KiB messages cost one
 * callback and one target write each. This parser hands out *ranges of the socket chunk it was given*
 * (no copy, no assembly, not even a view per frame), so the tunnel can write all the payload of one read
 * to the target with one write, and a frame of any size streams through. Control frames are small
 * (<= 125 bytes) and the only thing it ever copies.
 */
import { isUtf8 } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { maskInto } from './mask-kernel.js';

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Close codes this side sends (RFC 6455 section 7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_PROTOCOL = 1002;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;

/** What the parser reports. Methods, not closures: one sink object per tunnel. */
export interface FrameSink {
  /** Payload bytes of a data frame (binary, text or continuation): `chunk[start, end)` of the pushed chunk. */
  onData(chunk: Buffer, start: number, end: number): void;
  /** A text message began (its bytes still go to onData). */
  onText(): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** The server's close frame: its code (1005 when it had none) and reason bytes. */
  onClose(code: number, reason: Buffer): void;
  /** The server broke the protocol: close with `code` (1002, 1007, 1009). Nothing more is parsed. */
  onProtocolError(code: number, message: string): void;
}

/** A close code a peer may send (RFC 6455 section 7.4, IANA registry). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const HEADER = 0;
const PAYLOAD = 1;
const STOPPED = 2;

/**
 * Streaming parser of server-to-client frames. push() every chunk read from the socket, in order; the
 * sink is called synchronously, and the data ranges it gets are of the chunk being pushed.
 */
export class FrameParser {
  private state = HEADER;
  /** Header bytes gathered across chunks (a server header is at most 10 bytes). */
  private readonly hdr = Buffer.allocUnsafe(10);
  private hdrLen = 0;
  private opcode = 0;
  private remaining = 0;
  /** Inside a fragmented data message (a FIN=0 data frame was seen). */
  private fragmented = false;
  private messageBytes = 0;
  /** A control frame's payload, gathered (<= 125 bytes). */
  private ctrl: Buffer | null = null;
  private ctrlLen = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxPayload: number,
  ) {}

  /** True once a close frame or a protocol error was seen: later bytes are ignored. */
  get stopped(): boolean {
    return this.state === STOPPED;
  }

  push(chunk: Buffer): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len && this.state !== STOPPED) {
      if (this.state === HEADER) {
        pos = this.header(chunk, pos);
        continue;
      }
      const n = Math.min(this.remaining, len - pos);
      if (this.ctrl === null) {
        this.remaining -= n;
        this.sink.onData(chunk, pos, pos + n);
      } else {
        chunk.copy(this.ctrl, this.ctrlLen, pos, pos + n);
        this.ctrlLen += n;
        this.remaining -= n;
      }
      pos += n;
      if (this.remaining === 0) this.frameDone();
    }
  }

  /** Parses a header starting at chunk[pos]; returns the new position. */
  private header(chunk: Buffer, pos: number): number {
    let h: Buffer;
    let at: number;
    const avail = chunk.length - pos;
    if (this.hdrLen === 0 && avail >= 10) {
      h = chunk;
      at = pos;
    } else {
      // Gather a split header: copy what the header can still need, then see what it needs.
      const take = Math.min(10 - this.hdrLen, avail);
      chunk.copy(this.hdr, this.hdrLen, pos, pos + take);
      const had = this.hdrLen;
      this.hdrLen += take;
      const need = this.hdrLen >= 2 ? headerSize(this.hdr[1]!) : 2;
      if (this.hdrLen < need) return pos + take;
      h = this.hdr;
      at = 0;
      // Bytes copied past the header belong to the payload: give them back.
      pos = pos + (need - had);
      this.hdrLen = 0;
      return this.parseHeader(h, at) ? pos : chunk.length;
    }
    const size = headerSize(h[at + 1]!);
    return this.parseHeader(h, at) ? pos + size : chunk.length;
  }

  /** Validates and applies a complete header at h[at]; false when it is a protocol error. */
  private parseHeader(h: Buffer, at: number): boolean {
    const b0 = h[at]!;
    const b1 = h[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70) !== 0) return this.fail(CLOSE_PROTOCOL, 'RSV bits set without a negotiated extension');
    if ((b1 & 0x80) !== 0) return this.fail(CLOSE_PROTOCOL, 'masked frame from the server');
    let length = b1 & 0x7f;
    if (length === 126) length = h.readUInt16BE(at + 2);
    else if (length === 127) {
      const hi = h.readUInt32BE(at + 2);
      if (hi > 0x1fffff) return this.fail(CLOSE_TOO_BIG, 'frame length above 2^53 - 1');
      length = hi * 0x1_0000_0000 + h.readUInt32BE(at + 6);
    }
    if (opcode >= 0x8) {
      if (opcode > OP_PONG) return this.fail(CLOSE_PROTOCOL, `unknown opcode ${opcode}`);
      if (!fin) return this.fail(CLOSE_PROTOCOL, 'fragmented control frame');
      if (length > 125) return this.fail(CLOSE_PROTOCOL, 'control frame longer than 125 bytes');
      this.opcode = opcode;
      this.ctrl = Buffer.allocUnsafe(length);
      this.ctrlLen = 0;
    } else {
      if (opcode > OP_BINARY) return this.fail(CLOSE_PROTOCOL, `unknown opcode ${opcode}`);
      if (opcode === OP_CONTINUATION) {
        if (!this.fragmented) return this.fail(CLOSE_PROTOCOL, 'continuation frame outside a fragmented message');
      } else {
        if (this.fragmented) return this.fail(CLOSE_PROTOCOL, 'new data frame inside a fragmented message');
        this.messageBytes = 0;
        if (opcode === OP_TEXT) this.sink.onText();
      }
      this.messageBytes += length;
      if (this.messageBytes > this.maxPayload) return this.fail(CLOSE_TOO_BIG, `message above maxPayload (${this.maxPayload} bytes)`);
      this.fragmented = !fin;
      this.opcode = opcode;
      this.ctrl = null;
    }
    this.remaining = length;
    this.state = PAYLOAD;
    if (length === 0) this.frameDone();
    return true;
  }

  private frameDone(): void {
    this.state = HEADER;
    const ctrl = this.ctrl;
    if (ctrl === null) return;
    this.ctrl = null;
    if (this.opcode === OP_PING) this.sink.onPing(ctrl);
    else if (this.opcode === OP_PONG) this.sink.onPong(ctrl);
    else this.closeFrame(ctrl);
  }

  private closeFrame(body: Buffer): void {
    if (body.length === 0) {
      this.state = STOPPED;
      this.sink.onClose(CLOSE_NO_STATUS, body);
      return;
    }
    if (body.length === 1) {
      this.fail(CLOSE_PROTOCOL, 'close frame with a 1-byte body');
      return;
    }
    const code = body.readUInt16BE(0);
    if (!isValidCloseCode(code)) {
      this.fail(CLOSE_PROTOCOL, `invalid close code ${code}`);
      return;
    }
    const reason = body.subarray(2);
    if (!isUtf8(reason)) {
      this.fail(CLOSE_INVALID_DATA, 'close reason is not UTF-8');
      return;
    }
    this.state = STOPPED;
    this.sink.onClose(code, reason);
  }

  private fail(code: number, message: string): false {
    this.state = STOPPED;
    this.sink.onProtocolError(code, message);
    return false;
  }
}

/** Size of a server frame header (no mask) from its second byte. */
function headerSize(b1: number): number {
  const l = b1 & 0x7f;
  return l < 126 ? 2 : l === 126 ? 4 : 10;
}

/** Size of a client frame header (with its 4-byte mask) for a payload of `length` bytes. */
export function clientHeaderSize(length: number): number {
  return length < 126 ? 6 : length < 0x10000 ? 8 : 14;
}

// ---- masking keys: one random pool per thread, refilled as it runs out ----

const KEY_POOL = 4096;
const keyPool = Buffer.allocUnsafeSlow(KEY_POOL);
let keyAt = KEY_POOL;
/** The current frame's key, where the mask kernel reads it (no subarray per frame). */
const frameKey = Buffer.allocUnsafeSlow(4);

function nextKey(): Buffer {
  if (keyAt === KEY_POOL) {
    // crypto-strong keys, 1,024 frames per refill: RFC 6455 section 10.3 wants them unpredictable.
    randomFillSync(keyPool);
    keyAt = 0;
  }
  frameKey[0] = keyPool[keyAt]!;
  frameKey[1] = keyPool[keyAt + 1]!;
  frameKey[2] = keyPool[keyAt + 2]!;
  frameKey[3] = keyPool[keyAt + 3]!;
  keyAt += 4;
  return frameKey;
}

/**
 * Writes a client frame's header (FIN set) and its key into the first `hs` bytes of `frame`; returns the
 * key, or null with the zero mask (opt-in: an all-zero key, the payload goes as it is).
 */
function writeHeader(frame: Buffer, opcode: number, length: number, hs: number, zeroMask: boolean): Buffer | null {
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (zeroMask) {
    frame.writeUInt32BE(0, hs - 4);
    return null;
  }
  const key = nextKey();
  frame[hs - 4] = key[0]!;
  frame[hs - 3] = key[1]!;
  frame[hs - 2] = key[2]!;
  frame[hs - 1] = key[3]!;
  return key;
}

/**
 * Builds one client frame (FIN set): header, key and `source[start, start + length)` masked in one pass
 * into one exact-size buffer, so the frame goes out as one contiguous write. `zeroMask` (opt-in) sends an
 * all-zero key: the payload is copied as it is.
 */
export function buildFrame(opcode: number, source: Buffer, start: number, length: number, zeroMask: boolean, into?: Buffer): Buffer {
  const hs = clientHeaderSize(length);
  // `into` (frame-pool.ts) must hold at least hs + length bytes; the frame is its front.
  const frame = into ? into.subarray(0, hs + length) : Buffer.allocUnsafe(hs + length);
  const key = writeHeader(frame, opcode, length, hs, zeroMask);
  if (key) maskInto(start === 0 ? source : source.subarray(start, start + length), key, frame, hs, length);
  else source.copy(frame, hs, start, start + length);
  return frame;
}

/**
 * A client frame built around its payload, in place: the header goes into the `clientHeaderSize(n)`
 * bytes before `payload[0, n)` (which must be free, read-buffer.ts FRAME_ROOM), and the payload is
 * masked where it lies. One pass over the bytes instead of copy-and-mask into a new frame.
 */
export function buildFrameInPlace(opcode: number, payload: Buffer, n: number, zeroMask: boolean): Buffer {
  const hs = clientHeaderSize(n);
  const frame = Buffer.from(payload.buffer, payload.byteOffset - hs, hs + n);
  const key = writeHeader(frame, opcode, n, hs, zeroMask);
  if (key) maskInto(frame.subarray(hs), key, frame, hs, n);
  return frame;
}

/** A close frame's body: the code and a reason cut to fit a control frame (123 bytes, whole characters). */
export function closeBody(code: number, reason = ''): Buffer {
  let r = Buffer.from(reason, 'utf8');
  if (r.length > 123) {
    let end = 123;
    while (end > 0 && (r[end]! & 0xc0) === 0x80) end--;
    r = r.subarray(0, end);
  }
  const body = Buffer.allocUnsafe(2 + r.length);
  body.writeUInt16BE(code, 0);
  r.copy(body, 2);
  return body;
}
