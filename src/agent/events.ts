/**
 * The agent's events: the typed map of `agent.events` (an EventEmitter that stays, for programs that
 * drive one agent) and the operation diagnostics channels (node:diagnostics_channel), which the metrics
 * and the operation log lines subscribe to. Channels are published on the main thread, only while they
 * have a subscriber; `agent` in each message tells the agents of one process apart.
 */
import diagnostics from 'node:diagnostics_channel';
import type { OpStatus } from '../cumulocity/templates.js';
import type { TunnelSummary } from '../engine/types.js';

/** `agent.events` 'operation': a remote access operation was accepted (not a duplicate). */
export interface OperationEvent {
  id: string | undefined;
  serial: string;
  host: string;
  port: number;
  /** The connection key, redacted to its first 4 characters. */
  key: string;
  /** How it arrived: '530' (SmartREST), 'json' (MQTT JSON notification) or 'rest' (polling). */
  via: string;
}

/** `agent.events` 'status': a status was decided for an operation (it is queued to the cloud in order). */
export interface StatusEvent {
  id: string | undefined;
  key: string;
  serial: string;
  status: OpStatus;
  reason: string | undefined;
}

/** `agent.events` 'session:closed': the tunnel of an operation ended (or never started). */
export interface SessionClosedEvent {
  id: string | undefined;
  key: string;
  code: string;
  bytesUp: number;
  bytesDown: number;
  bytesDiscarded: number;
  wsCloseCode: number | undefined;
  /** The most the tunnel held toward the cloud (bytes; 0 for a tunnel that never started). */
  peakBufferedUp: number;
  /** The most the tunnel held toward the target (bytes; 0 for a tunnel that never started). */
  peakBufferedDown: number;
}

/** `agent.events` 'transport:connected': the link to the cloud is up (`first`: the first time). */
export interface TransportConnectedEvent {
  first: boolean;
  transport?: 'rest';
}

/** The events of `agent.events`, name to listener arguments. */
export interface AgentEvents {
  operation: [OperationEvent];
  status: [StatusEvent];
  'session:closed': [SessionClosedEvent];
  'transport:connected': [TransportConnectedEvent];
  /** The MQTT session dropped (it reconnects by itself). */
  'transport:disconnected': [];
}

/** The names of the operation channels. */
export const OPERATION_CHANNELS = {
  received: 'c8y-tunnel:operation:received',
  duplicate: 'c8y-tunnel:operation:duplicate',
  status: 'c8y-tunnel:operation:status',
  finished: 'c8y-tunnel:operation:finished',
} as const;

/** Fields every operation message carries. */
export interface OperationMessageBase {
  /** The agent that handles the operation (the object createAgent() returned). */
  agent: object;
  id: string | undefined;
  /** The connection key, redacted to its first 4 characters. */
  key: string;
}

/** `operation:received`: as the 'operation' event. */
export interface OperationReceivedMessage extends OperationMessageBase {
  serial: string;
  host: string;
  port: number;
  via: string;
}

/** `operation:duplicate`: a second delivery of a connection key already seen was dropped or merged. */
export interface OperationDuplicateMessage extends OperationMessageBase {
  via: string;
}

/** `operation:status`: EXECUTING, then SUCCESSFUL or FAILED. */
export interface OperationStatusMessage extends OperationMessageBase {
  serial: string;
  status: OpStatus;
  reason: string | undefined;
  /** FAILED: the error code. */
  code: string | undefined;
  /** Time since the operation arrived, ms. */
  ms: number;
  /** The target as host:port. */
  target: string;
}

/** `operation:finished`: the tunnel of an operation ended (sent only for operations that opened one). */
export interface OperationFinishedMessage extends OperationMessageBase {
  summary: TunnelSummary;
}

export const operationChannels = {
  received: diagnostics.channel(OPERATION_CHANNELS.received),
  duplicate: diagnostics.channel(OPERATION_CHANNELS.duplicate),
  status: diagnostics.channel(OPERATION_CHANNELS.status),
  finished: diagnostics.channel(OPERATION_CHANNELS.finished),
};
