/** Defaults and limits, in one place. docs/configuration.md and docs/security.md quote these. */

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** TCP connect timeout (well below the cloud's 30 s operation timeout). */
export const DEFAULT_TCP_CONNECT_TIMEOUT_MS = 10_000;
/** WebSocket upgrade timeout. */
export const DEFAULT_WS_CONNECT_TIMEOUT_MS = 15_000;
/** Largest WebSocket message the agent accepts from the cloud. */
export const DEFAULT_MAX_PAYLOAD = 1 * MiB;
/** Bytes held per tunnel while the other leg is not up yet. */
export const DEFAULT_BOOTSTRAP_LIMIT = 256 * KiB;
/** TCP reads pause while the WebSocket holds more unsent bytes than this. */
export const DEFAULT_HIGH_WATER_MARK = 256 * KiB;
/**
 * After a cloud read of at least COALESCE_MIN_BYTES that did not fill its buffer, the next cloud read
 * waits this long (read coalescing, docs/architecture.md); 0 reads at once.
 */
export const DEFAULT_COALESCE_MS = 1;
/** The smallest cloud read that counts as part of a stream (shorter ones are never followed by a wait). */
export const COALESCE_MIN_BYTES = 8 * KiB;
/** A cloud read this long or longer already spreads its wake-up over enough bytes: no wait follows it. */
export const COALESCE_MAX_BYTES = 64 * KiB;
/** After one leg ends, the other gets this long to flush and close. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** Tunnels one worker carries at once. */
export const DEFAULT_TUNNELS_PER_WORKER = 512;
/** How often workers report live byte counters. */
export const DEFAULT_STATS_INTERVAL_MS = 1_000;
/** Engine shutdown grace. */
export const DEFAULT_ENGINE_CLOSE_GRACE_MS = 5_000;
/** Young generation of a worker thread, MiB (a per-worker constant; see engine.ts). */
export const DEFAULT_WORKER_YOUNG_GEN_MB = 4;

// Fixed limits of the agent and `connect` (docs/security.md lists them).
/** Operation keys the agent remembers to drop duplicate deliveries (the oldest is forgotten first). */
export const SEEN_LIMIT = 10_000;
/** Overall deadline of one REST request to the tenant (connect, headers and the whole body), agent and connect, ms. */
export const REST_TIMEOUT_MS = 15_000;
/** Largest REST body the agent reads; a longer one fails the request. Operation pages of 100 fit many times. */
export const AGENT_REST_MAX_BODY = 4 * MiB;
/** Largest REST body `connect` reads; device look-ups, configuration lists and operation pages are far smaller. */
export const CONNECT_REST_MAX_BODY = 1 * MiB;
/** `connect` resumes reading the local socket once the WebSocket holds fewer unsent bytes than this. */
export const CONNECT_LOW_WATER_MARK = 64 * KiB;
