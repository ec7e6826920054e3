/** Whether ws masks with the bufferutil native addon (it triples throughput here). */
import { maskKind } from './mask-kernel.js';

/**
 * True when this thread masks with bufferutil's compiled binding: false for its JavaScript fallback
 * (what it loads where it has no prebuild and nothing compiled it), with WS_NO_BUFFER_UTIL, or with
 * C8Y_TUNNEL_MASK=js. `maskKind()` says which mask runs instead.
 */
export function bufferutilLoaded(): boolean {
  return maskKind() === 'native';
}
