/** Kept for the public API (`bufferutilLoaded` is exported from the package root). */
import { maskKind } from './mask-kernel.js';

/**
 * True when this thread masks with the bufferutil addon.
 * @deprecated use `engine.stats().mask` (`'node' | 'native' | 'js'`): on Node 26.12+ Node's own kernel is preferred.
 */
export function bufferutilLoaded(): boolean {
  return maskKind() === 'native';
}
