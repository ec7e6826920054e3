/**
 * The demo's agent as a child process (`c8y-tunnel agent` configured by environment), so its sessions and
 * its event loop are its own, as on a real device where the cloud is far away.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Sim } from '../../sim/index.js';
import { childEnv } from '../child-env.js';

/** A running agent child. */
export interface AgentProcess {
  readonly pid: number;
  /** Resolves when the child has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the device announced c8y_RemoteAccessConnect to the emulator; rejects on exit or timeout. */
  ready(timeoutMs: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; `clean` is true for exit code 0. */
  stop(graceMs: number): Promise<{ clean: boolean }>;
  /** The child's last output lines, each through `format` when given. */
  tail(format?: (line: string) => string): string;
  describeExit(): string;
}

const TAIL_LINES = 40;
const BIN = fileURLToPath(new URL('../../../bin/c8y-tunnel.js', import.meta.url));
/** Makes the child stop when its IPC channel to us closes, i.e. when this process is gone however it died. */
const PARENT_WATCH = new URL('./parent-watch.js', import.meta.url).href;

/** The agent's environment for a device on the emulator (nothing C8Y_* leaks in from the caller). */
export function agentEnv(sim: Sim, serial: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return childEnv(
    {
      C8Y_HOST: sim.httpUrl,
      C8Y_MQTT_URL: sim.mqttUrl,
      C8Y_TENANT: sim.tenant,
      C8Y_USER: `device_${serial}`,
      C8Y_PASSWORD: sim.devicePassword,
      C8Y_DEVICE_ID: serial,
      C8Y_AUTH: 'basic',
    },
    { base },
  );
}

/** Spawns `c8y-tunnel agent` for `serial` on the emulator; `onLine` gets each output line as it comes. */
export function startAgentProcess(sim: Sim, serial: string, onLine?: (line: string) => void): AgentProcess {
  // Own process group: a terminal's Ctrl-C reaches only the demo, which then stops the agent in order.
  // The IPC channel carries nothing: the child's parent-watch sees it close if the demo dies (SIGKILL too).
  const child = spawn(process.execPath, ['--import', PARENT_WATCH, BIN, 'agent'], {
    env: agentEnv(sim, serial),
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  child.channel?.unref();
  const lines: string[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      process.removeListener('exit', killOnExit);
      resolve(exit);
    });
    child.on('error', (err) => {
      lines.push(`spawn failed: ${err.message}`);
      exit = { code: 1, signal: null };
      resolve(exit);
    });
  });
  // Safety net if the demo itself dies without stopping the agent.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  let partial = '';
  const onData = (d: Buffer): void => {
    const text = partial + d.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      onLine?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  return {
    pid: child.pid ?? 0,
    exited,
    async ready(timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!(sim.supportedOperations(serial) ?? []).includes('c8y_RemoteAccessConnect')) {
        if (exit) throw new Error(`the agent exited before it connected (${describe(exit)})`);
        if (Date.now() > end) throw new Error(`the agent did not connect to the emulator within ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(graceMs) {
      if (!exit) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      return { clean: exit?.code === 0 };
    },
    tail: (format = (l: string) => l) => lines.map((l) => `  ${format(l)}\n`).join(''),
    describeExit: () => (exit ? describe(exit) : 'running'),
  };
}

function describe(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}
