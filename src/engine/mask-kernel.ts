/**
 * The WebSocket mask kernel: which code XORs the 4-byte mask into frame payloads, and that code.
 *
 * - `native`: the bufferutil addon (its compiled binding, not its JavaScript `fallback.js`, which it
 *   loads silently when the binding is missing, e.g. on linux-arm64 where it ships no prebuild);
 * - `node`: Node's own `http.websocketMask` (Node 26.12+), which ws 8.23 prefers to bufferutil;
 * - `js`: plain JavaScript.
 *
 * `C8Y_TUNNEL_MASK=auto|native|js` forces one (`native` fails loudly when the addon is absent).
 * Forcing `js` also sets `WS_NO_BUFFER_UTIL` for ws, so that ws (loaded later, and in every worker
 * thread, which inherits the environment) masks in JavaScript too.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { TunnelError } from '../errors.js';

export type MaskKind = 'native' | 'node' | 'js';

type MaskFn = (source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number) => void;
type UnmaskFn = (buf: Buffer, mask: Buffer) => void;

interface Kernel {
  kind: MaskKind;
  mask: MaskFn;
  unmask: UnmaskFn;
}

function jsMask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void {
  for (let i = 0; i < length; i++) output[offset + i] = source[i]! ^ mask[i & 3]!;
}

function jsUnmask(buf: Buffer, mask: Buffer): void {
  for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ mask[i & 3]!;
}

/** The bufferutil binding, or undefined when only its JavaScript fallback (or nothing) loads. */
function bufferutilNative(): { mask: MaskFn; unmask: UnmaskFn } | undefined {
  try {
    const req = createRequire(import.meta.url);
    const mod = req('bufferutil') as { mask?: MaskFn; unmask?: UnmaskFn };
    const fallback = req('bufferutil/fallback.js') as unknown;
    if (mod === fallback || typeof mod.mask !== 'function' || typeof mod.unmask !== 'function') return undefined;
    return { mask: mod.mask, unmask: mod.unmask };
  } catch {
    return undefined;
  }
}

function choose(): Kernel {
  const forced = (process.env.C8Y_TUNNEL_MASK ?? 'auto').toLowerCase();
  if (forced !== 'auto' && forced !== 'native' && forced !== 'js' && forced !== '') {
    throw new TunnelError('AGENT_ERR_CONFIG', `C8Y_TUNNEL_MASK must be auto, native or js (got ${JSON.stringify(forced.slice(0, 20))})`);
  }
  if (forced === 'js') {
    process.env.WS_NO_BUFFER_UTIL = '1';
    return { kind: 'js', mask: jsMask, unmask: jsUnmask };
  }
  const builtin = (http as unknown as { websocketMask?: MaskFn; websocketUnmask?: UnmaskFn });
  if (forced !== 'native' && typeof builtin.websocketMask === 'function' && typeof builtin.websocketUnmask === 'function') {
    return { kind: 'node', mask: builtin.websocketMask, unmask: builtin.websocketUnmask };
  }
  // ws skips bufferutil when WS_NO_BUFFER_UTIL is set, whatever loads.
  const addon = process.env.WS_NO_BUFFER_UTIL ? undefined : bufferutilNative();
  if (addon) return { kind: 'native', ...addon };
  if (forced === 'native') {
    throw new TunnelError('AGENT_ERR_CONFIG', 'C8Y_TUNNEL_MASK=native but the bufferutil addon does not load here (or WS_NO_BUFFER_UTIL is set)');
  }
  return { kind: 'js', mask: jsMask, unmask: jsUnmask };
}

let kernel: Kernel | undefined;

function current(): Kernel {
  return (kernel ??= choose());
}

/** Which mask this thread runs. */
export function maskKind(): MaskKind {
  return current().kind;
}

/** Writes `source[0..length)` XOR `mask` into `output` at `offset`. */
export function maskInto(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void {
  current().mask(source, mask, output, offset, length);
}

/** XORs `mask` into `buf` in place. */
export function unmaskInPlace(buf: Buffer, mask: Buffer): void {
  current().unmask(buf, mask);
}
