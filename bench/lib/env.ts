/** The environment header of a results file. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { commandOutput } from './procstat.js';
import type { Environment } from './types.js';

const require = createRequire(import.meta.url);

function depVersion(name: string, root: string): string {
  for (const p of [`${root}/node_modules/${name}/package.json`]) {
    try {
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      // try the resolver
    }
  }
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function git(args: string[], root: string): string {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Collects the environment (repo root for git and package.json). */
export function environment(root: string): Environment {
  const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { name: string; version: string };
  const socat = commandOutput('socat', ['-V']);
  const wsf = commandOutput('dpkg-query', ['-W', '-f=${Version}', 'websockify']);
  let nofile = '';
  try {
    nofile = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux
  }
  // The benchmark processes may run another Node than the harness (`--node PATH`, BENCH_NODE).
  const other = process.env.BENCH_NODE && process.env.BENCH_NODE !== process.execPath ? process.env.BENCH_NODE : undefined;
  const node = other ? commandOutput(other, ['--version']) || 'unknown' : process.version;
  return {
    ...(other ? { nodePath: other, harnessNode: process.version } : {}),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node,
    package: `${pkg.name}@${pkg.version}`,
    commit: git(['rev-parse', '--short', 'HEAD'], root) || 'unknown',
    dirty: git(['status', '--porcelain', '--', 'src'], root) !== '',
    deps: { ws: depVersion('ws', root), bufferutil: depVersion('bufferutil', root), piscina: depVersion('piscina', root), mqtt: depVersion('mqtt', root), aedes: depVersion('aedes', root) },
    tools: {
      socat: socat ? (/socat version ([\d.]+)/.exec(socat)?.[1] ?? 'installed') : 'not installed',
      websockify: wsf && !/no packages/i.test(wsf) ? wsf : commandOutput('sh', ['-c', 'command -v websockify']) ? 'installed' : 'not installed',
    },
    openFileLimit: nofile,
    loadavgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
