/** Runs the real CLI (bin/c8y-tunnel.js, bin/start.js) as child processes for end-to-end tests. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { childEnv } from '#internal/cli/child-env';

/** Repository root (test files run from dist-test/test/<dir>/). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../../bin/c8y-tunnel.js', import.meta.url));
export const START = fileURLToPath(new URL('../../../bin/start.js', import.meta.url));

/** A child process with its output collected as text. */
export interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout+stderr. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * Spawns `node <script> ...args` with env. C8Y_* and the proxy variables of the caller's environment are
 * removed (the agent and connect honour HTTPS_PROXY/NO_PROXY, and a developer's proxy must not carry the
 * tests' loopback traffic); a test that wants a proxy passes it in `env`.
 */
export function spawnNode(script: string, args: string[], env: Record<string, string> = {}, opts: { binaryStdout?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env: childEnv(env, { drop: /^(https?|no|all)_proxy$/i }), stdio: 'pipe' });
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  const poke = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  if (!opts.binaryStdout) {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      poke();
    });
  }
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    poke();
  });
  child.stdin.on('error', () => {});
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${re} in:\n${out}\n${err}`)), ms);
        const check = (): void => {
          const m = (out + '\n' + err).match(re);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        void exited.then(() => setImmediate(() => {
          if (!(out + '\n' + err).match(re)) {
            clearTimeout(timer);
            reject(new Error(`process exited before ${re} appeared:\n${out}\n${err}`));
          }
        }));
        check();
      });
    },
  };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
