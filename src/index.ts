/** c8y-tunnel's public API. */
export { createEngine } from './engine/engine.js';
export type { Engine, TunnelHandle } from './engine/engine.js';
export type { EngineOptions, EngineStats, TunnelSpec, TunnelSummary, TunnelTlsOptions, EndCode, EndedBy } from './engine/types.js';
export { bufferutilLoaded } from './engine/native.js';
export { maskKind, type MaskKind } from './engine/mask-kernel.js';
export { nodeSupported, SUPPORTED_NODE } from './node-line.js';
export { TunnelError, ERROR_CODES, isErrorCode } from './errors.js';
export type { ErrorCode, WireError } from './errors.js';
export * as smartrest from './cumulocity/smartrest.js';
export { startSim } from './sim/index.js';
export type { Sim, SimOptions, SimOperation, SimFaults, SessionInfo, StatusChange, SimConfiguration, OperationStatus } from './sim/index.js';
export { createAgent } from './agent/index.js';
export type { Agent, AgentOptions, AgentConfig, AgentStats, ResolvedConfig } from './agent/index.js';
export { connectListen, connectStdio, prepareSession, listenLocal, runSession, resolveTarget } from './connect/index.js';
export type { ConnectOptions, Credentials, LocalProxy, ResolvedTarget, SessionResult, SessionTarget } from './connect/index.js';
