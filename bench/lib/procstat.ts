/**
 * CPU and memory of benchmark processes, read from /proc so that Node processes, socat and websockify
 * (and the children they fork per connection) are measured the same way.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const TICK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, seconds (children that were waited for are included). */
  cpuSec: number;
  /** cutime + cstime alone, seconds. */
  childSec: number;
}

function readStat(pid: number): Stat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { pid, ppid: Number(f[1]), cpuSec: ticks / TICK, childSec: (Number(f[13]) + Number(f[14])) / TICK };
  } catch {
    return null;
  }
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(s);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The pid and every live descendant. */
export function processTree(root: number): number[] {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const l = kids.get(st.ppid) ?? [];
    l.push(pid);
    kids.set(st.ppid, l);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of kids.get(p) ?? []) stack.push(c);
  }
  return out;
}

/**
 * CPU seconds of a process at nanosecond resolution: the scheduler's run time of each live thread
 * (/proc/<pid>/task/<tid>/schedstat) plus its reaped children from stat. Clock ticks (10 ms) are too
 * coarse for a 64 MiB run, which costs the agent about 0.1 s. Falls back to stat when a thread that
 * has exited took a visible share (stat keeps it, the live threads do not) or schedstat is missing.
 */
function cpuSecOf(st: Stat): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${st.pid}/task`)) {
      const v = readFileSync(`/proc/${st.pid}/task/${tid}/schedstat`, 'utf8');
      ns += Number(v.slice(0, v.indexOf(' ')));
    }
    const precise = ns / 1e9 + st.childSec;
    return Number.isFinite(precise) && st.cpuSec - precise < 0.05 ? precise : st.cpuSec;
  } catch {
    return st.cpuSec;
  }
}

/** A sample of one process tree. */
export interface TreeSample {
  cpuSec: number;
  rssKiB: number;
  /** Read and write system calls so far (syscallsOf). */
  syscalls: number;
}

/** CPU seconds so far (including exited, reaped children), current RSS and syscalls so far of a process tree. */
export function sampleTree(root: number): TreeSample {
  let cpuSec = 0;
  let rssKiB = 0;
  let syscalls = 0;
  for (const pid of processTree(root)) {
    const st = readStat(pid);
    if (!st) continue;
    cpuSec += cpuSecOf(st);
    rssKiB += statusKiB(pid, 'VmRSS');
    syscalls += syscallsOf(pid);
  }
  return { cpuSec, rssKiB, syscalls };
}

/**
 * Read and write system calls so far of a process (/proc/<pid>/io syscr + syscw: read, readv, write and
 * writev, which is what a socket relay makes). A count, not a time: it does not depend on how busy the
 * machine is, which the CPU figures do. 0 where the file cannot be read.
 */
function syscallsOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/io`, 'utf8');
    const r = /^syscr: (\d+)$/m.exec(s);
    const w = /^syscw: (\d+)$/m.exec(s);
    return Number(r?.[1] ?? 0) + Number(w?.[1] ?? 0);
  } catch {
    return 0; // gone, or not ours to read
  }
}

/** RSS of one process, KiB. */
export function rssKiB(pid: number): number {
  return statusKiB(pid, 'VmRSS');
}

/** Busy and total CPU seconds of the whole machine (from /proc/stat), to tell how loaded it was. */
export function machineCpu(): { busySec: number; totalSec: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busySec: (total - idle) / TICK, totalSec: total / TICK };
}

/** TCP ports a process tree listens on (from its socket fds and /proc/net/tcp). */
export function listeningPorts(root: number): number[] {
  const inodes = new Set<string>();
  for (const pid of processTree(root)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(l);
        if (m) inodes.add(m[1]!);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

/** Tracks the peak RSS of process trees by polling (forked children have their own VmHWM). */
export class PeakSampler {
  private readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly roots: number[], intervalMs = 250) {
    this.poll();
    this.timer = setInterval(() => this.poll(), intervalMs);
    this.timer.unref();
  }
  poll(): void {
    for (const r of this.roots) {
      const s = sampleTree(r);
      // VmHWM of the root covers peaks between polls; the sum over the tree covers forked children.
      const v = Math.max(s.rssKiB, statusKiB(r, 'VmHWM'));
      if (v > (this.peaks.get(r) ?? 0)) this.peaks.set(r, v);
    }
  }
  peakKiB(root: number): number {
    return this.peaks.get(root) ?? 0;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.poll();
  }
}

/** An external (non-Node) process such as socat or websockify. */
export interface ExtProc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The port it listens on. */
  readonly port: number;
  stop(): Promise<void>;
}

/** Whether a command is on PATH. */
export function haveCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The first line of `cmd args` output (versions for the environment header). */
export function commandOutput(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5_000 });
  if (r.error) return undefined;
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
}

/** Starts an external listener on port 0 and finds its port through /proc. */
export async function startExternal(name: string, cmd: string, args: string[]): Promise<ExtProc> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid!;
  const deadline = Date.now() + 10_000;
  let port = 0;
  while (!port) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen within 10 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    port = listeningPorts(pid)[0] ?? 0;
  }
  return {
    name,
    pid,
    child,
    port,
    async stop() {
      // Children forked per connection (socat fork, websockify) belong to this row too.
      const tree = child.exitCode === null ? processTree(pid) : [];
      for (const p of tree.reverse()) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}
