/**
 * Every error the project raises carries a stable `code`. Match on `err.code`, never on the message.
 * docs/errors.md lists each code; a test fails when this table and the doc drift apart.
 *
 * One class per family, named by the code's prefix: `TunnelError` (TUN_*, the engine), `AgentError`
 * (AGENT_*), `SmartRestError` (SR_*), `ConnectError` (CONNECT_*), `SimError` (SIM_*), all under the
 * abstract `C8yTunnelError`. `instanceof C8yTunnelError` means "any error of ours"; a family's
 * constructor takes only its own codes (a type error otherwise). `errorFor(code)` picks the family from
 * the code, so an error rebuilt after a thread boundary (`fromWire`) keeps its class.
 */

/** All stable error codes with their default message. */
export const ERROR_CODES = {
  // Engine: tunnel set-up
  TUN_ERR_INVALID_SPEC: 'invalid tunnel spec',
  TUN_ERR_TCP_REFUSED: 'target refused the connection',
  TUN_ERR_TCP_UNREACHABLE: 'target host or network unreachable',
  TUN_ERR_TCP_DNS: 'target host name did not resolve',
  TUN_ERR_TCP_TIMEOUT: 'target did not accept the connection in time',
  TUN_ERR_TCP_CONNECT: 'could not connect to the target',
  TUN_ERR_WS_HTTP_STATUS: 'cloud refused the WebSocket upgrade',
  TUN_ERR_WS_TIMEOUT: 'cloud did not answer the WebSocket upgrade in time',
  TUN_ERR_WS_CONNECT: 'could not connect the WebSocket',
  TUN_ERR_WS_PROTOCOL: 'WebSocket handshake or framing error',
  TUN_ERR_WS_TLS: 'TLS verification of the cloud failed',
  TUN_ERR_PROXY: 'HTTP proxy refused or failed the CONNECT',
  // Engine: tunnel life
  TUN_ERR_TCP_RESET: 'target reset the connection',
  TUN_ERR_TCP_ERROR: 'target connection failed',
  TUN_ERR_WS_ERROR: 'cloud WebSocket failed',
  TUN_ERR_WS_DROPPED: 'the cloud connection dropped without a close frame',
  TUN_ERR_WS_PAYLOAD_TOO_BIG: 'cloud sent a message above maxPayload',
  TUN_ERR_WORKER_EXIT: 'the worker thread carrying the tunnel died',
  TUN_ERR_ENGINE_CLOSED: 'the engine is closed',
  TUN_ERR_CAPACITY: 'the engine carries as many tunnels as its workers allow',
  TUN_ERR_ABORTED: 'tunnel closed before it was established',
  TUN_ERR_INTERNAL: 'internal error in the tunnel',
  // Agent
  AGENT_ERR_CONFIG: 'invalid or missing configuration',
  AGENT_ERR_POLICY_DENIED: 'the target is not allowed by policy',
  AGENT_ERR_SESSION_LIMIT: 'too many concurrent sessions',
  AGENT_ERR_BAD_OPERATION: 'malformed remote access operation',
  AGENT_ERR_MQTT: 'MQTT connection failed',
  AGENT_ERR_JWT: 'could not obtain a JWT from the cloud',
  AGENT_ERR_REST: 'REST call to the cloud failed',
  AGENT_ERR_SHUTDOWN: 'the agent is shutting down',
  AGENT_ERR_METRICS: 'the metrics endpoint could not listen',
  // SmartREST
  SR_ERR_EMPTY: 'empty SmartREST line',
  SR_ERR_QUOTE: 'unterminated or misplaced quote in SmartREST line',
  SR_ERR_TOO_LONG: 'SmartREST line or payload too long',
  SR_ERR_TEMPLATE: 'unexpected SmartREST template',
  SR_ERR_FIELDS: 'wrong number of fields for the SmartREST template',
  SR_ERR_FIELD: 'invalid SmartREST field value',
  // Client side (connect)
  CONNECT_ERR_AUTH: 'the cloud rejected the credentials',
  CONNECT_ERR_NOT_FOUND: 'no such device or configuration',
  CONNECT_ERR_OFFLINE: 'the device did not answer (operation timed out)',
  CONNECT_ERR_DEVICE_FAILED: 'the device could not open the session (operation FAILED)',
  CONNECT_ERR_CONFIG: 'invalid connect options',
  CONNECT_ERR_SESSION: "a session's WebSocket failed while it ran",
  CONNECT_ERR_LIMIT: 'too many concurrent local sessions',
  CONNECT_ERR_PROXY: 'the HTTP proxy refused or failed the CONNECT',
  // Emulator
  SIM_ERR_CONFIG: 'invalid emulator options',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The shape an error takes across a thread boundary or in a JSON summary. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** HTTP status of a refused upgrade, when there was one. */
  status?: number;
  /** The system error code (ECONNREFUSED, ...), when there was one. */
  syscode?: string;
}

/** What an error carries besides its code and message; `cause` is the standard `Error` option. */
export interface ErrorExtra {
  status?: number;
  syscode?: string;
  cause?: unknown;
}

type CodeOf<P extends string> = Extract<ErrorCode, `${P}_${string}`>;
/** The engine's codes (TUN_*). */
export type TunnelErrorCode = CodeOf<'TUN'>;
export type AgentErrorCode = CodeOf<'AGENT'>;
export type SmartRestErrorCode = CodeOf<'SR'>;
export type ConnectErrorCode = CodeOf<'CONNECT'>;
export type SimErrorCode = CodeOf<'SIM'>;

/** Base class of every error thrown by c8y-tunnel; a catch-all for `instanceof`, never built itself. */
export abstract class C8yTunnelError extends Error {
  readonly code: ErrorCode;
  readonly status?: number;
  readonly syscode?: string;

  protected constructor(code: ErrorCode, message?: string, extra?: ErrorExtra) {
    super(message ?? ERROR_CODES[code], extra?.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    if (extra?.status !== undefined) this.status = extra.status;
    if (extra?.syscode !== undefined) this.syscode = extra.syscode;
  }

  /** Plain `{ code, message }` for postMessage and JSON. */
  toWire(): WireError {
    const w: WireError = { code: this.code, message: this.message };
    if (this.status !== undefined) w.status = this.status;
    if (this.syscode !== undefined) w.syscode = this.syscode;
    return w;
  }

  /** Rebuilds an error that crossed a thread boundary, in its family (an unknown code becomes TUN_ERR_INTERNAL). */
  static fromWire(w: WireError): C8yTunnelError {
    const extra: ErrorExtra = {};
    if (w.status !== undefined) extra.status = w.status;
    if (w.syscode !== undefined) extra.syscode = w.syscode;
    return errorFor(isErrorCode(w.code) ? w.code : 'TUN_ERR_INTERNAL', w.message, extra);
  }
}

/** An error of one family: its `code` is one of the family's. */
export type FamilyError<C extends ErrorCode> = C8yTunnelError & { readonly code: C };

/** A family's class: `new` takes the family's codes only; `instanceof` and `fromWire` as on any class of ours. */
export interface ErrorFamily<C extends ErrorCode> {
  new (code: C, message?: string, extra?: ErrorExtra): FamilyError<C>;
  readonly prototype: FamilyError<C>;
  fromWire(w: WireError): C8yTunnelError;
}

// One class expression for the five families (they differ in name and codes only); `name` is the class name.
function family<C extends ErrorCode>(name: string): ErrorFamily<C> {
  const F = class extends C8yTunnelError {
    constructor(code: C, message?: string, extra?: ErrorExtra) {
      super(code, message, extra);
    }
  };
  Object.defineProperty(F, 'name', { value: name });
  F.prototype.name = name;
  return F as unknown as ErrorFamily<C>;
}

/** The engine's errors: a tunnel that could not be set up or broke (TUN_ERR_*). */
export const TunnelError = family<TunnelErrorCode>('TunnelError');
export type TunnelError = FamilyError<TunnelErrorCode>;
/** The agent's errors: configuration, policy, its cloud links, shutdown (AGENT_ERR_*). */
export const AgentError = family<AgentErrorCode>('AgentError');
export type AgentError = FamilyError<AgentErrorCode>;
/** A SmartREST line or field the grammar refuses (SR_ERR_*). */
export const SmartRestError = family<SmartRestErrorCode>('SmartRestError');
export type SmartRestError = FamilyError<SmartRestErrorCode>;
/** The user's side of a session, `c8y-tunnel connect` (CONNECT_ERR_*). */
export const ConnectError = family<ConnectErrorCode>('ConnectError');
export type ConnectError = FamilyError<ConnectErrorCode>;
/** The cloud emulator's errors (SIM_ERR_*). */
export const SimError = family<SimErrorCode>('SimError');
export type SimError = FamilyError<SimErrorCode>;

/** The family class of a code, as a type. */
export type ErrorFor<C extends ErrorCode> = C extends TunnelErrorCode
  ? TunnelError
  : C extends AgentErrorCode
    ? AgentError
    : C extends SmartRestErrorCode
      ? SmartRestError
      : C extends ConnectErrorCode
        ? ConnectError
        : SimError;

type PrefixOf<C> = C extends `${infer P}_ERR_${string}` ? P : never;
// A family for every prefix of ERROR_CODES (a code with a new prefix fails to type-check here).
const FAMILIES: Record<PrefixOf<ErrorCode>, ErrorFamily<ErrorCode>> = {
  TUN: TunnelError as ErrorFamily<ErrorCode>,
  AGENT: AgentError as ErrorFamily<ErrorCode>,
  SR: SmartRestError as ErrorFamily<ErrorCode>,
  CONNECT: ConnectError as ErrorFamily<ErrorCode>,
  SIM: SimError as ErrorFamily<ErrorCode>,
};

/** A new error of the family `code` belongs to; for a code known only at run time. */
export function errorFor<C extends ErrorCode>(code: C, message?: string, extra?: ErrorExtra): ErrorFor<C> {
  const family = FAMILIES[code.slice(0, code.indexOf('_')) as PrefixOf<ErrorCode>] ?? FAMILIES.TUN;
  return new family(code, message, extra) as ErrorFor<C>;
}

/** True when `code` is one of ours. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * True for the code of a tunnel that ended cleanly (`TUN_END_*`: EOF, the cloud's close, a local close,
 * idle), false for an error code; the one place that tells them apart.
 */
export function isCleanEnd(code: string): boolean {
  return code.startsWith('TUN_END_');
}

/** Any thrown value as a plain wire error (unknown values become TUN_ERR_INTERNAL). */
export function toWireError(err: unknown, fallback: ErrorCode = 'TUN_ERR_INTERNAL'): WireError {
  if (err instanceof C8yTunnelError) return err.toWire();
  if (err && typeof err === 'object' && isErrorCode((err as { code?: unknown }).code)) {
    return { code: (err as WireError).code, message: String((err as Error).message) };
  }
  const w: WireError = { code: fallback, message: err instanceof Error ? err.message : String(err) };
  const sys = err && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (typeof sys === 'string') w.syscode = sys;
  return w;
}
