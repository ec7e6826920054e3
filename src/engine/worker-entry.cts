/**
 * The file Piscina loads in each worker thread: CommonJS, so that Piscina's `require(filename)` (it tries
 * require before import) is a plain require. Handed the ESM worker module itself, that require goes
 * through Node's require(esm), whose facade for a module with a default export aborted a whole test
 * process on Node 20.20 in CI: `Assertion failed: facade->InstantiateModule(...)` in
 * ModuleWrap::CreateRequiredModuleFacade, under piscina/dist/worker.js, SIGABRT. A native abort cannot be
 * caught, and it takes every tunnel of the process with it. import() from here is an ordinary promise.
 * worker.ts has no effect at load time, so loading it with the first task changes nothing else.
 */
import type { StartTunnelTask } from './wire.js';
import type { TunnelSummary } from './types.js';

type Run = (task: StartTunnelTask) => Promise<TunnelSummary>;
let run: Promise<Run> | null = null;

export = function runTunnelTask(task: StartTunnelTask): Promise<TunnelSummary> {
  run ??= import('./worker.js').then((m) => m.default);
  return run.then((r) => r(task));
};
