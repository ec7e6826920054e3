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
