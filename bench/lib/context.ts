/** What every scenario gets: sizes for the mode, the progress line and row filters. */
import type { ChainKind, ChainOptions, Member } from './chain.js';
import { machineCpu, sampleTree, type PeakSampler } from './procstat.js';
import type { ProcFigure, Row } from './types.js';
import { GiB, MiB, round } from './stats.js';

export type Mode = 'full' | 'quick' | 'tiny';

export interface Sizes {
  s1Bytes: number;
  s1Warmup: number;
  runs: number;
  s2Total: number;
  s2Counts: number[];
  s2Runs: number;
  s3Counts: number[];
  /** s3: the idle wait for RSS to settle, [at least, at most] seconds (scenarios/idle.ts). */
  s3SettleSec: [number, number];
  s4RoundTrips: number;
  s4Neighbours: number;
  s5Ops: number;
  s5Warmup: number;
  s6Bytes: number;
  s6Many: number;
  s7Tunnels: number;
  s7BytesPerTunnel: number;
  /** s8: bytes per run, warm-up, runs, and the size of the single-frame row's one frame. */
  s8Bytes: number;
  s8Warmup: number;
  s8Runs: number;
  s8Frame: number;
}

export const SIZES: Record<Mode, Sizes> = {
  full: { s1Bytes: GiB, s1Warmup: 128 * MiB, runs: 3, s2Total: GiB, s2Counts: [10, 100, 1000], s2Runs: 3, s3Counts: [1000, 4000, 8000], s3SettleSec: [15, 40], s4RoundTrips: 10_000, s4Neighbours: 100, s5Ops: 2000, s5Warmup: 100, s6Bytes: GiB, s6Many: 100, s7Tunnels: 20, s7BytesPerTunnel: 64 * MiB, s8Bytes: 512 * MiB, s8Warmup: 64 * MiB, s8Runs: 5, s8Frame: 64 * MiB },
  quick: { s1Bytes: 128 * MiB, s1Warmup: 16 * MiB, runs: 1, s2Total: 64 * MiB, s2Counts: [100], s2Runs: 1, s3Counts: [1000], s3SettleSec: [15, 40], s4RoundTrips: 2_000, s4Neighbours: 100, s5Ops: 300, s5Warmup: 20, s6Bytes: 64 * MiB, s6Many: 100, s7Tunnels: 5, s7BytesPerTunnel: 32 * MiB, s8Bytes: 64 * MiB, s8Warmup: 16 * MiB, s8Runs: 3, s8Frame: 64 * MiB },
  tiny: { s1Bytes: 2 * MiB, s1Warmup: 256 * 1024, runs: 1, s2Total: 2 * MiB, s2Counts: [5], s2Runs: 1, s3Counts: [20], s3SettleSec: [2, 4], s4RoundTrips: 200, s4Neighbours: 3, s5Ops: 20, s5Warmup: 2, s6Bytes: 2 * MiB, s6Many: 5, s7Tunnels: 2, s7BytesPerTunnel: 48 * MiB, s8Bytes: 2 * MiB, s8Warmup: 256 * 1024, s8Runs: 1, s8Frame: 4 * MiB },
};

export interface Ctx {
  mode: Mode;
  sizes: Sizes;
  distDir: string;
  progress(msg: string): void;
  /** Substrings of row keys to run (empty: all). */
  rowFilter: string[];
  /** Profiling: run the agent under this wrapper / with these node flags. */
  agentWrap?: string[];
  agentExecArgv?: string[];
  /** Environment for agent processes (BENCH_ENGINE_MODULE for an A/B of another build). */
  agentEnv?: Record<string, string>;
  /** The `c8y-tunnel` launcher to run the agent with (a frozen snapshot's, or the repository's). */
  cli?: string;
  /** CPU seconds of every benchmark process, summed (for the machine-load note). */
  benchCpu: { sec: number };
}

/** Whether a row key passes the filter. */
export function wanted(ctx: Ctx, key: string): boolean {
  return ctx.rowFilter.length === 0 || ctx.rowFilter.some((f) => key.includes(f));
}

/** Options for a chain whose agent runs as the context says (profiling wrapper, node flags, environment). */
export function chainOptions(ctx: Ctx, kind: ChainKind): ChainOptions {
  const co: ChainOptions = { kind, distDir: ctx.distDir };
  if (ctx.agentWrap) co.agentWrap = ctx.agentWrap;
  if (ctx.agentExecArgv) co.agentExecArgv = ctx.agentExecArgv;
  if (ctx.agentEnv) co.agentEnv = ctx.agentEnv;
  return co;
}

/** CPU snapshot of a chain's members plus the machine. */
export interface Snap {
  cpu: number[];
  /** Read and write system calls so far, per member. */
  sys: number[];
  machineBusy: number;
}

export function snap(members: Member[]): Snap {
  const samples = members.map((m) => sampleTree(m.pid));
  return { cpu: samples.map((x) => x.cpuSec), sys: samples.map((x) => x.syscalls), machineBusy: machineCpu().busySec };
}

/** CPU seconds per member between two snapshots, and what the rest of the machine used meanwhile. */
export function cpuDelta(a: Snap, b: Snap): { perMember: number[]; sysPerMember: number[]; foreign: number } {
  const perMember = b.cpu.map((v, i) => Math.max(0, v - (a.cpu[i] ?? 0)));
  const sysPerMember = b.sys.map((v, i) => Math.max(0, v - (a.sys[i] ?? 0)));
  const ours = perMember.reduce((x, y) => x + y, 0);
  return { perMember, sysPerMember, foreign: Math.max(0, b.machineBusy - a.machineBusy - ours) };
}

/** Per-process figures of a row. */
export function procFigures(members: Member[], cpu: number[], peaks: PeakSampler, gib?: number, sys?: number[]): ProcFigure[] {
  return members.map((m, i) => {
    const f: ProcFigure = { role: m.role, name: m.name, cpuSec: round(cpu[i] ?? 0, 3), peakRssMiB: round(peaks.peakKiB(m.pid) / 1024, 1) };
    if (gib) f.cpuPerGiB = round((cpu[i] ?? 0) / gib, 3);
    if (gib && sys?.[i]) f.syscallsPerMiB = round(sys[i]! / (gib * 1024), 1);
    return f;
  });
}

/** A row that did not run. */
export function skipped(key: string, label: string, kind: Row['kind'], reason: string): Row {
  return { key, label, kind, status: 'skipped', reason, metrics: {} };
}

/** A row that failed; the run goes on. */
export function failed(key: string, label: string, kind: Row['kind'], err: unknown): Row {
  const msg = err instanceof Error ? err.message : String(err);
  return { key, label, kind, status: 'failed', reason: msg.split('\n')[0]!.slice(0, 300), metrics: {} };
}
