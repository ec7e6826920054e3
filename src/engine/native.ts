/** Whether ws will use the bufferutil native addon for masking (it triples throughput here). */
import { createRequire } from 'node:module';

let cached: boolean | undefined;

/** True when bufferutil loads in this thread and WS_NO_BUFFER_UTIL does not turn it off. */
export function bufferutilLoaded(): boolean {
  if (cached !== undefined) return cached;
  if (process.env.WS_NO_BUFFER_UTIL) return (cached = false);
  try {
    const mod = createRequire(import.meta.url)('bufferutil') as { mask?: unknown };
    cached = typeof mod.mask === 'function';
  } catch {
    cached = false;
  }
  return cached;
}
