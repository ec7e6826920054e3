/**
 * The Bayeux (CometD) side of the emulator's real-time API: the message shape, the channels and paths
 * Cumulocity uses, the limits, and the parsing of a batch. The server itself is realtime.ts.
 */

/** A Bayeux message (the fields the emulator reads or writes). */
export interface BayeuxMessage {
  channel?: unknown;
  id?: unknown;
  clientId?: unknown;
  subscription?: unknown;
  advice?: Record<string, unknown>;
  ext?: Record<string, unknown>;
  data?: unknown;
  successful?: boolean;
  error?: string;
  [k: string]: unknown;
}

/** Limits and timings. */
export interface RealtimeOptions {
  /** Sessions at once; a handshake beyond gets `503::Too many clients`. */
  maxClients: number;
  /** Subscriptions per session. */
  maxSubscriptions: number;
  /** Undelivered data messages per session; one more ends the session. */
  queueLimit: number;
  /** Longest a `/meta/connect` is held when the client names no timeout of its own. */
  connectTimeoutMs: number;
  /** A session with no pending connect and no open WebSocket for this long (plus its interval) is dropped. */
  sessionExpiryMs: number;
}

/** Defaults (docs/sim.md quotes them). */
export const REALTIME_DEFAULTS: RealtimeOptions = { maxClients: 1000, maxSubscriptions: 100, queueLimit: 1000, connectTimeoutMs: 30_000, sessionExpiryMs: 10_000 };

/** The longest connect timeout Cumulocity documents (2 h). */
export const MAX_TIMEOUT_MS = 7_200_000;
/** Largest request body or WebSocket message. */
export const REALTIME_MAX_BODY = 1024 * 1024;
/** WebSocket output held beyond this counts as a full queue. */
export const MAX_WS_BUFFERED = 4 * 1024 * 1024;
export const CHANNEL = /^\/(operations|managedobjects|events|alarms|measurements)\/([^/*]{1,64}|\*)$/;
/** The path of the endpoint, with the message type cometd appends (`/handshake`, `/connect`, ...). */
export const REALTIME_PATH = /^\/notification\/realtime(?:\/(?:handshake|connect|subscribe|unsubscribe|disconnect))?\/?$/;

/** The object kinds, by channel prefix. */
export type RealtimeApi = 'operations' | 'managedobjects' | 'events' | 'alarms' | 'measurements';
/** What happened to the object. */
export type RealtimeAction = 'CREATE' | 'UPDATE' | 'DELETE';

/** A JSON array of message objects (or one object), else undefined. */
export function parseBatch(body: Buffer): BayeuxMessage[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.length > 100 || !list.every((m) => m !== null && typeof m === 'object' && !Array.isArray(m))) return undefined;
  return list as BayeuxMessage[];
}
