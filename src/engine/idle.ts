/** Idle timeouts: one coarse sweep per thread for all tunnels, instead of a timer each. */

export interface IdleWatched {
  /** Called about once a second with Date.now(). */
  checkIdle(now: number): void;
}

const watched = new Set<IdleWatched>();
let sweep: NodeJS.Timeout | null = null;

const SWEEP_MS = 1000;

function run(): void {
  const now = Date.now();
  for (const x of watched) x.checkIdle(now);
  if (watched.size === 0 && sweep) {
    clearInterval(sweep);
    sweep = null;
  }
}

export function watchIdle(x: IdleWatched): void {
  watched.add(x);
  if (sweep) return;
  sweep = setInterval(run, SWEEP_MS);
  sweep.unref();
}

export function unwatchIdle(x: IdleWatched): void {
  watched.delete(x);
}

/** A watched tunnel's idle clock: its activity count when last seen moving, and when that was. */
export interface IdleClock {
  idleMark: number;
  idleSince: number;
}

/**
 * One sweep's look at a clock whose activity count is now `moved`: true once nothing has moved for
 * `timeoutMs`. Activity is seen as a change of the counters between sweeps, so the data path carries no
 * clock reads; a tunnel ends no earlier than `timeoutMs` after its last byte.
 */
export function idleExpired(clock: IdleClock, moved: number, now: number, timeoutMs: number): boolean {
  if (moved !== clock.idleMark) {
    clock.idleMark = moved;
    clock.idleSince = now;
    return false;
  }
  return now - clock.idleSince >= timeoutMs;
}
