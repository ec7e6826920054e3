/**
 * The wire protocol between the coordinator (main thread) and the workers: the Piscina task, the control
 * messages on a worker's port, and the events a worker posts. Internal: nothing here is public API.
 * Everything that crosses a thread boundary is plain data (structured clone); docs/architecture.md has
 * the table.
 */
// The worker_threads MessagePort (the global one in Node's types is the DOM shape).
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../errors.js';
import type { MaskKind } from './mask-kernel.js';
import type { TunnelSpec } from './types.js';

/**
 * The task input Piscina hands a worker. Piscina holds it, on both sides, for the task's (the tunnel's)
 * life, so `spec` is let go once it has been read: by the worker when the tunnel is built, by the
 * coordinator when the worker says `start` (the task was cloned to the worker before that).
 */
export interface StartTunnelTask {
  engineId: string;
  id: number;
  spec: TunnelSpec | null;
  statsIntervalMs: number;
}

/** Control messages on the per-worker port, coordinator to worker. */
export type ControlMessage =
  | { t: 'close'; id: number; reason?: string; /** the engine is shutting down (endedBy 'engine') */ engine?: boolean }
  | { t: 'closeAll'; reason?: string; graceMs: number }
  | { t: 'crash' };

/** Events from a worker (via parentPort, so ordered with the hello). */
export type WorkerEvent =
  | { t: 'hello'; engineId: string; threadId: number; port: MessagePort; mask: MaskKind }
  | { t: 'start'; engineId: string; id: number; threadId: number }
  | { t: 'up'; engineId: string; id: number; setupMs: number }
  | { t: 'fail'; engineId: string; id: number; error: WireError }
  | { t: 'bytes'; engineId: string; threadId: number; live: Array<[id: number, up: number, down: number]> };
