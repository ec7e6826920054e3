/**
 * The contract between the agent and a link to Cumulocity (MQTT or REST), and what both transports share:
 * handing parsed operations to the agent, the operations they announce, and the reconnect backoff.
 */
import type { EventEmitter } from 'node:events';
import type { C8yTunnelError } from '../errors.js';
import { FRAGMENT, type JsonResult, type RemoteAccessRequest } from '../cumulocity/inbound.js';
import type { OpStatus } from '../cumulocity/templates.js';
import type { ResolvedConfig } from './config.js';
import type { AgentEvents } from './events.js';
import type { Logger } from './log.js';

/** Callbacks from a transport into the agent. */
export interface TransportHandlers {
  request(req: RemoteAccessRequest): void;
  malformed(ref: { serial: string; id?: string }, err: C8yTunnelError): void;
  /** The transport learned the id of an operation known by connection key only: report it by id from now on. */
  learnedId?(key: string, id: string): void;
}

/** What every transport offers the agent. */
export interface Transport {
  start(): Promise<void>;
  stop(timeoutMs: number): Promise<void>;
  report(ref: { serial: string; id?: string; key?: string }, status: OpStatus, reason?: string): void;
  readonly connected: boolean;
  /** Status updates not yet acknowledged. */
  pendingStatus(): number;
  /** jwt auth: fetches a fresh device token. */
  fetchJwt?(): Promise<string>;
}

/** What both transports are made of: one constructor for the agent to call (agent/index.ts). */
export abstract class TransportBase {
  /** The serials this transport answers for: the device and its configured children. */
  protected readonly serials: Set<string>;

  constructor(
    protected readonly cfg: ResolvedConfig,
    protected readonly handlers: TransportHandlers,
    protected readonly log: Logger,
    protected readonly events: EventEmitter<AgentEvents>,
    protected readonly version: string,
  ) {
    this.serials = new Set([cfg.deviceId, ...cfg.childDevices]);
  }
}

/** Hands one parsed operation object (JSON notification or REST) to the agent; ignored ones are dropped. */
export function deliverOperation(handlers: TransportHandlers, r: JsonResult): void {
  if ('request' in r) handlers.request(r.request);
  else if ('error' in r) handlers.malformed(r.id !== undefined ? { serial: r.serial, id: r.id } : { serial: r.serial }, r.error);
}

/** The operations the device announces (114, c8y_SupportedOperations): c8y_RemoteAccessConnect first, no repeats. */
export function announcedOperations(cfg: Pick<ResolvedConfig, 'supportedOperations'>): string[] {
  return [...new Set([FRAGMENT, ...cfg.supportedOperations])];
}

/** Delay before reconnect attempt `n` (0-based): exponential, capped, with jitter in [50%, 100%]. */
export function backoffDelay(n: number, minMs: number, maxMs: number, rnd: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(n, 30));
  return Math.round(base * (0.5 + rnd() * 0.5));
}
