/** The agent as its own process (`c8y-tunnel agent`), for signal, port and log tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Sim } from 'c8y-tunnel/sim';
import { withTimeout } from './net.js';
import { childEnv } from '#internal/cli/child-env';
import { agentEnv } from '#internal/cli/demo/agent-process';

/** bin/c8y-tunnel.js of this checkout. */
export const BIN = fileURLToPath(new URL('../../../bin/c8y-tunnel.js', import.meta.url));

/** A running agent process. */
export interface AgentProc {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  /** stdout and stderr lines that parse as JSON (pino). */
  json: () => Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(sig: NodeJS.Signals): void;
}

/** Spawns `c8y-tunnel agent` with only the given C8Y_/proxy environment. */
export function spawnAgent(args: string[], env: NodeJS.ProcessEnv): AgentProc {
  const child = spawn(process.execPath, [BIN, 'agent', ...args], { env: childEnv(env, { drop: /^(https?|no)_proxy$/i }), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const json = (): Array<Record<string, unknown>> =>
    `${out}\n${err}`
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return { child, pid: child.pid!, out: () => out, err: () => err, json, exited, kill: (sig) => child.exitCode === null && child.signalCode === null && child.kill(sig) };
}

/** The environment that points an agent process at the emulator as device `serial` (C8Y_* only). */
export const simEnv = (sim: Sim, serial: string): NodeJS.ProcessEnv => agentEnv(sim, serial, {});

/**
 * The exit of `p` within `ms`; on a timeout the error carries the agent's last log lines, so a hang in CI
 * says which step of the stop it was in. (`exited` never rejects: a rejection is the timeout.)
 */
export function exitWithin(p: AgentProc, ms: number, what = 'agent exit'): Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> {
  return withTimeout(p.exited, ms, what).catch((err: Error) => {
    throw new Error(`${err.message}; its last lines:\n${`${p.out()}${p.err()}`.trim().split('\n').slice(-12).join('\n')}`);
  });
}
