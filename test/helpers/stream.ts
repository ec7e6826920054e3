/** Byte sources and sinks with backpressure, hashing everything they move. */
import { createHash, type Hash } from 'node:crypto';
import type net from 'node:net';
import type { WebSocket } from 'ws';
import { randomBytesSeeded } from './net.js';

const BLOCK = randomBytesSeeded(1024 * 1024, 7);

/** The i-th 64 KiB chunk of a deterministic stream: random bytes stamped with the index and a seed. */
export function chunkAt(i: number, size = 64 * 1024, seed = 0): Buffer {
  const off = ((i * 7919 + seed * 104729) % 16) * 65536;
  const c = Buffer.from(BLOCK.subarray(off, off + size));
  c.writeUInt32BE(i >>> 0, 0);
  c.writeUInt32BE(seed >>> 0, 4);
  return c;
}

/** Writes `total` bytes to a TCP socket honouring write()/drain; resolves with the sha256. */
export function pumpTcp(sock: net.Socket, total: number, seed = 0, chunk = 64 * 1024): Promise<string> {
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let i = 0;
    sock.on('error', reject);
    const go = (): void => {
      while (sent < total) {
        const c = chunkAt(i++, Math.min(chunk, total - sent), seed);
        h.update(c);
        sent += c.length;
        if (!sock.write(c)) {
          sock.once('drain', go);
          return;
        }
      }
      resolve(h.digest('hex'));
    };
    go();
  });
}

/** Sends `total` bytes as binary messages, keeping bufferedAmount under 1 MiB; resolves with the sha256. */
export function pumpWs(ws: WebSocket, total: number, seed = 1, chunk = 64 * 1024): Promise<string> {
  const h = createHash('sha256');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let i = 0;
    const go = (): void => {
      while (sent < total) {
        if (ws.readyState !== ws.OPEN) {
          reject(new Error('WebSocket closed while sending'));
          return;
        }
        const c = chunkAt(i++, Math.min(chunk, total - sent), seed);
        h.update(c);
        sent += c.length;
        if (ws.bufferedAmount > 1024 * 1024) {
          ws.send(c, { binary: true }, () => setImmediate(go));
          return;
        }
        ws.send(c, { binary: true });
      }
      resolve(h.digest('hex'));
    };
    go();
  });
}

/** Hashes what arrives until `total` bytes came; resolves with the sha256 (rejects on excess). */
export class Sink {
  readonly hash: Hash = createHash('sha256');
  received = 0;
  private resolve!: (hex: string) => void;
  readonly done: Promise<string>;
  constructor(readonly total: number) {
    this.done = new Promise((r) => (this.resolve = r));
    if (total === 0) this.resolve(this.hash.digest('hex'));
  }
  push = (d: Buffer): void => {
    this.hash.update(d);
    this.received += d.length;
    if (this.received === this.total) this.resolve(this.hash.digest('hex'));
  };
}
