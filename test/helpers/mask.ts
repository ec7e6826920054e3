/**
 * What the mask kernel should report here, worked out without asking it: whether bufferutil's compiled
 * binding exists for this platform (node-gyp-build's own lookup, which throws when there is none and
 * bufferutil would load its JavaScript fallback), and the environment switches.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { MaskKind } from 'c8y-tunnel';

/** Whether bufferutil's binding (a prebuild or a local build) is there for this platform and Node. */
export function bufferutilBindingPresent(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const pkg = req.resolve('bufferutil/package.json');
    const gyp = createRequire(pkg)('node-gyp-build') as { path(dir: string): string };
    return typeof gyp.path(dirname(pkg)) === 'string';
  } catch {
    return false;
  }
}

/** The kind `maskKind()` must report in a process with this environment. */
export function expectedMaskKind(env: NodeJS.ProcessEnv = process.env): MaskKind {
  const forced = env.C8Y_TUNNEL_MASK ?? 'auto';
  if (forced === 'js') return 'js';
  if (forced !== 'native' && typeof (http as { websocketMask?: unknown }).websocketMask === 'function') return 'node';
  return !env.WS_NO_BUFFER_UTIL && bufferutilBindingPresent() ? 'native' : 'js';
}
