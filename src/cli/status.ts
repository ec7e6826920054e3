/**
 * A live one-line status for long-running commands: rewritten in place with `\r` on a TTY, printed as a
 * plain line at most every 10 s otherwise (logs and CI output stay readable).
 */
import type { Writable } from 'node:stream';

/** Human-readable bytes per second, binary units. */
export function formatRate(bytesPerSec: number): string {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = Math.max(0, bytesPerSec);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Human-readable byte count, binary units. */
export function formatBytes(n: number): string {
  return formatRate(n).replace('/s', '');
}

/**
 * Traffic both ways with the direction spelled out: `to device 1.2 MiB/s (5.0 MiB) · from device 0 B/s
 * (3.4 KiB)`: the rate now, and in brackets the total so far.
 */
export function formatDirections(total: { up: number; down: number }, rate: { up: number; down: number }): string {
  return `to device ${formatRate(rate.up)} (${formatBytes(total.up)}) · from device ${formatRate(rate.down)} (${formatBytes(total.down)})`;
}

/** Where a status line goes. */
export interface StatusLine {
  /** Shows `text` (TTY: now, in place; otherwise at most every `plainIntervalMs`). */
  update(text: string): void;
  /** Prints a whole line without garbling the status line. */
  log(line: string): void;
  /** Ends the status line (a TTY gets its final newline). */
  stop(): void;
}

/** Creates a status line on `out`; `isTTY` decides the mode. */
export function createStatusLine(out: Writable & { isTTY?: boolean; columns?: number }, opts: { plainIntervalMs?: number; now?: () => number } = {}): StatusLine {
  const tty = out.isTTY === true;
  const every = opts.plainIntervalMs ?? 10_000;
  const now = opts.now ?? Date.now;
  let shown = '';
  let lastPlain = -Infinity;
  let stopped = false;
  const fit = (t: string): string => {
    const cols = out.columns ?? 0;
    return cols > 1 && t.length >= cols ? t.slice(0, cols - 1) : t;
  };
  return {
    update(text) {
      if (stopped) return;
      if (tty) {
        shown = fit(text);
        out.write(`\r${shown}\x1b[K`);
      } else if (now() - lastPlain >= every) {
        lastPlain = now();
        out.write(text + '\n');
      }
    },
    log(line) {
      if (tty && shown && !stopped) out.write(`\r\x1b[K${line}\n${shown}\x1b[K`);
      else out.write(line + '\n');
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (tty && shown) out.write('\n');
    },
  };
}

/** Turns growing byte totals into rates: call `sample(up, down)` about once a second. */
export function createRateMeter(now: () => number = Date.now): { sample(up: number, down: number): { up: number; down: number } } {
  let last: { t: number; up: number; down: number } | undefined;
  return {
    sample(up, down) {
      const t = now();
      const prev = last;
      last = { t, up, down };
      if (!prev || t <= prev.t) return { up: 0, down: 0 };
      const s = (t - prev.t) / 1000;
      return { up: Math.max(0, up - prev.up) / s, down: Math.max(0, down - prev.down) / s };
    },
  };
}
