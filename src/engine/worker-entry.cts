/**
 * The file Piscina loads in each worker thread: CommonJS, so that Piscina's `require(filename)` (it tries
 * require before import) is a plain require. Handed the ESM worker module itself, that require goes
 * through Node's require(esm), whose facade for a module with a default export aborted a whole test
 * process on Node 20.20 in CI: `Assertion failed: facade->InstantiateModule(...)` in
 * ModuleWrap::CreateRequiredModuleFacade, under piscina/dist/worker.js, SIGABRT. A native abort cannot be
 * caught, and it takes every tunnel of the process with it. import() from here is an ordinary promise,
 * started as this file loads, so that Piscina's preload of a new worker loads worker.js too.
 */
import type { StartTunnelTask } from './wire.js';
import type { TunnelSummary } from './types.js';

type Run = (task: StartTunnelTask) => Promise<TunnelSummary>;
const run: Promise<Run> = import('./worker.js').then((m) => m.default);
// A failed import fails every task (below); until one comes, it must not be an unhandled rejection.
run.catch(() => {});

export = function runTunnelTask(task: StartTunnelTask): Promise<TunnelSummary> {
  return run.then((r) => r(task));
};
