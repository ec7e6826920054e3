/**
 * The byte pattern every source sends and every sink verifies: a pseudo-random block of a length that
 * is not a power of two, so a lost, repeated or reordered 64 KiB chunk shows as a mismatch.
 */
const PERIOD = 1_048_583;

/** The pattern, twice over, so that any slice of up to PERIOD bytes from any offset is contiguous. */
export const PATTERN2: Buffer = (() => {
  const b = Buffer.allocUnsafe(2 * PERIOD);
  let x = 0x9e3779b9;
  for (let i = 0; i < PERIOD; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  b.copy(b, PERIOD, 0, PERIOD);
  return b;
})();

/** The slice of the stream at `offset`, `len` (<= 64 KiB) bytes long, without copying. */
export function slice(offset: number, len: number): Buffer {
  const o = offset % PERIOD;
  return PATTERN2.subarray(o, o + len);
}

/** Whether `chunk` equals the stream at `offset`. */
export function matches(offset: number, chunk: Buffer): boolean {
  let done = 0;
  while (done < chunk.length) {
    const o = (offset + done) % PERIOD;
    const n = Math.min(chunk.length - done, PERIOD);
    if (PATTERN2.compare(chunk, done, done + n, o, o + n) !== 0) return false;
    done += n;
  }
  return true;
}
