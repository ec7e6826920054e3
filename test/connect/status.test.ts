import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createRateMeter, createStatusLine, formatRate } from '#internal/cli/status';

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const parts: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk.toString());
      cb();
    },
  });
  return Object.assign(w, { isTTY, text: () => parts.join('') });
}

describe('status line', () => {
  it('rewrites one line with \\r on a TTY and keeps log lines above it', () => {
    const out = sink(true);
    const s = createStatusLine(out);
    s.update('a');
    s.update('b');
    s.log('hello');
    s.stop();
    assert.equal(out.text(), '\ra\x1b[K\rb\x1b[K\r\x1b[Khello\nb\x1b[K\n');
  });

  it('prints plain lines at most once per interval off a TTY', () => {
    const out = sink(false);
    let t = 0;
    const s = createStatusLine(out, { now: () => t });
    s.update('one');
    t = 9_999;
    s.update('skipped');
    t = 10_000;
    s.update('two');
    s.stop();
    assert.equal(out.text(), 'one\ntwo\n');
  });

  it('turns byte totals into rates', () => {
    let t = 0;
    const m = createRateMeter(() => t);
    assert.deepEqual(m.sample(0, 0), { up: 0, down: 0 });
    t = 2000;
    assert.deepEqual(m.sample(2048, 4096), { up: 1024, down: 2048 });
    assert.equal(formatRate(1024), '1.0 KiB/s');
    assert.equal(formatRate(3 * 1024 * 1024), '3.0 MiB/s');
    assert.equal(formatRate(12), '12 B/s');
  });
});
