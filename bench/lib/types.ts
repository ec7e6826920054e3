/** The shape of a results file (bench/results/*.json); compare.ts and report.ts read it. */

/** CPU and memory of one process of a row. */
export interface ProcFigure {
  role: string;
  name: string;
  /** CPU seconds in the measured interval (median run). */
  cpuSec: number;
  /** CPU seconds per GiB moved (throughput rows). */
  cpuPerGiB?: number;
  /** Read and write system calls per MiB moved (throughput rows; median run): /proc/<pid>/io. */
  syscallsPerMiB?: number;
  /** Peak RSS over the row, MiB (the process tree for socat and websockify). */
  peakRssMiB: number;
}

export interface Row {
  /** Stable key, e.g. `s1.d2c.engine`; compare.ts matches rows by it. */
  key: string;
  label: string;
  kind: 'engine' | 'baseline';
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped or how it failed. */
  reason?: string;
  /** Flat figures: mbps, hopCpuPerGiB, p50Us, rssPerTunnelKiB, ... */
  metrics: Record<string, number>;
  procs?: ProcFigure[];
  /** Per-run values of the main metric. */
  runs?: number[];
  /** Every byte arrived, in order and exactly once (throughput and stall rows). */
  verified?: boolean;
  /** CPU seconds other processes used on this machine during the measured runs (load from outside the row). */
  foreignCpuSec?: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  description: string;
  rows: Row[];
}

export interface Target {
  id: string;
  text: string;
  /** The engine's figure. */
  value: number | null;
  unit: string;
  limit: number | null;
  /** The baseline it is compared with, from the same run. */
  baseline?: { key: string; value: number | null };
  met: boolean | null;
  note?: string;
}

export interface Environment {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  /** Node version of the benchmark processes. */
  node: string;
  /** The Node binary of the benchmark processes when it is not the harness's own (`--node`, BENCH_NODE). */
  nodePath?: string;
  /** The harness's Node version, when the benchmark processes ran another. */
  harnessNode?: string;
  package: string;
  commit: string;
  dirty: boolean;
  deps: Record<string, string>;
  tools: Record<string, string>;
  openFileLimit: string;
  loadavgStart: number[];
  loadavgEnd?: number[];
}

export interface Results {
  schema: 1;
  mode: 'full' | 'quick' | 'tiny';
  startedAt: string;
  durationSec: number;
  env: Environment;
  /** Busy CPU share of the machine outside the benchmark's own processes, over the whole run. */
  /** Set when the agent processes loaded another build of the package (an A/B run). */
  engineModule?: string;
  machine: { busySec: number; wallSec: number; benchCpuSec: number; foreignCpuSec: number; note: string };
  scenarios: ScenarioResult[];
  targets: Target[];
}
