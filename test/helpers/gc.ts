/**
 * Live ArrayBuffer bytes of this process, after a full collection. process.memoryUsage().arrayBuffers
 * alone counts garbage not yet collected too, which follows the collector's timing, not the code: a
 * bound on it is flaky. The collector is reached without --expose-gc on the command line.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

export async function liveArrayBuffers(): Promise<number> {
  gc();
  // Backing stores are freed by a sweeper after the collection; a second one, a turn later, sees them gone.
  await new Promise((r) => setImmediate(r));
  gc();
  return process.memoryUsage().arrayBuffers;
}
