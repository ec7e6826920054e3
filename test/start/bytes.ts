/** Reading a child's binary output in tests. */
import type { Readable } from 'node:stream';

/** Resolves with the first `n` bytes (or more) that `stream` emits. */
export function readBytes(stream: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    const onData = (d: Buffer): void => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        stream.removeListener('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    stream.on('data', onData);
  });
}
