/**
 * c8y-tunnel's public API, a chosen list: the tunnel engine, the errors and the agent. Importing it
 * loads the engine (and piscina) only: the agent loads its transport (mqtt), logger (pino) and metrics
 * (prom-client) when it starts. The cloud emulator is `c8y-tunnel/sim`; the user's side of a session is
 * `c8y-tunnel/connect`. Nothing else is published (the tests reach internals through `#internal/*`).
 */
// The engine.
export { createEngine } from './engine/engine.js';
export type { Engine, TunnelHandle } from './engine/engine.js';
export type { EngineOptions, EngineStats, TunnelSpec, TunnelSummary, TunnelTlsOptions, EndCode, EndedBy } from './engine/types.js';
export { bufferutilLoaded } from './engine/native.js';
export { maskKind, type MaskKind } from './engine/mask-kernel.js';
export { nodeSupported, SUPPORTED_NODE } from './node-line.js';
// The diagnostics channels (node:diagnostics_channel) of tunnels and operations: docs/architecture.md.
export { TUNNEL_CHANNELS } from './engine/events.js';
export type { TunnelEventBase, TunnelOpenEvent, TunnelUpEvent, TunnelFailEvent, TunnelEndEvent } from './engine/events.js';
export { OPERATION_CHANNELS } from './agent/events.js';
export type {
  OperationMessageBase,
  OperationReceivedMessage,
  OperationDuplicateMessage,
  OperationStatusMessage,
  OperationFinishedMessage,
} from './agent/events.js';
// The errors.
export { C8yTunnelError, TunnelError, AgentError, SmartRestError, ConnectError, SimError, errorFor, isCleanEnd, ERROR_CODES, isErrorCode } from './errors.js';
export type { ErrorCode, ErrorExtra, ErrorFamily, ErrorFor, FamilyError, WireError, TunnelErrorCode, AgentErrorCode, SmartRestErrorCode, ConnectErrorCode, SimErrorCode } from './errors.js';
// The agent.
export { createAgent } from './agent/index.js';
export type { Agent, AgentOptions, AgentConfig, AgentStats, ResolvedConfig } from './agent/index.js';
export type { AgentEvents, OperationEvent, StatusEvent, SessionClosedEvent, TransportConnectedEvent } from './agent/index.js';
