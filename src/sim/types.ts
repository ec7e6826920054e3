/** Public types of the Cumulocity cloud emulator (see docs/sim.md and docs/protocol.md). */
import type { EventEmitter } from 'node:events';

/** Options of `startSim`. */
export interface SimOptions {
  /** Interface to bind, default '127.0.0.1'. */
  host?: string;
  /** HTTP port (REST and both remote access WebSocket endpoints), default 0. */
  httpPort?: number;
  /** MQTT port (plain MQTT 3.1.1), default 0. */
  mqttPort?: number;
  /** Tenant id, default 't1'. */
  tenant?: string;
  /** Admin user, default 'admin'. */
  user?: string;
  /** Admin password, default 'admin'. */
  password?: string;
  /** Password of every `<tenant>/device_<serial>` user, default 'device'. */
  devicePassword?: string;
  /** Password of the bootstrap user `management/devicebootstrap` (device registration), default 'bootstrap'. */
  bootstrapPassword?: string;
  /** remoteaccess.operation.timeout, default 30_000. */
  operationTimeoutMs?: number;
  /** Lifetime of JWTs issued on `s/uat` and by the login endpoint, default 3600. */
  jwtLifetimeSec?: number;
  /** remoteaccess.ws.idle.timeout, default 3_600_000. */
  idleTimeoutMs?: number;
  /** Client bytes held before the device joins, default 1 MiB. */
  pendingClientBytesLimit?: number;
  /** Largest WebSocket message accepted on either leg, default 64 MiB. */
  maxPayload?: number;
  /** Final (SUCCESSFUL/FAILED) operations and finished sessions kept; older ones are forgotten. Default 10 000. */
  historyLimit?: number;
  /** No logging. */
  quiet?: boolean;
  /** Extra REST/client users (for example one without the remote access role, to test 403). */
  users?: Array<{ user: string; password: string; roles?: string[] }>;
}

/** Operation statuses. */
export type OperationStatus = 'PENDING' | 'EXECUTING' | 'SUCCESSFUL' | 'FAILED';

/** An operation as the emulator stores it (REST shape). */
export interface SimOperation {
  id: string;
  deviceId: string;
  status: OperationStatus;
  failureReason?: string;
  creationTime: string;
  description: string;
  /** Present on remote access operations (all operations the emulator creates itself). */
  c8y_RemoteAccessConnect: { hostname: string; port: number; connectionKey: string };
  /** Any other fragment an operation posted over REST carries. */
  [fragment: string]: unknown;
}

/** One entry of an operation's status history. */
export interface StatusChange {
  status: OperationStatus;
  failureReason?: string;
  at: number;
}

/** A remote access configuration (endpoint), as REST returns it. */
export interface SimConfiguration {
  id: string;
  name: string;
  hostname: string;
  port: number;
  protocol: string;
  credentialsType: string;
  [field: string]: unknown;
}

/** Per-session counters. */
export interface SessionInfo {
  key: string;
  operationId: string;
  deviceId: string;
  state: 'waiting' | 'paired' | 'closed';
  clientToDevice: number;
  deviceToClient: number;
}

/** Fault switches (all off by default). */
export interface SimFaults {
  /** Delay operation delivery (530 and JSON) by this many ms. */
  deliveryDelayMs: number;
  /** 0 = off, else the HTTP status every device upgrade gets while set. */
  refuseDeviceUpgrade: number;
  /** Omit the forced `Sec-WebSocket-Protocol: binary` (still echoed when the client offered it). */
  lenientSubprotocol: boolean;
  /** Deliver each remote access operation as 530 AND as JSON to a device subscribed to both. */
  duplicateDelivery: boolean;
}

/** A running emulator. */
/** The events of `sim.events`, name to listener arguments. */
export interface SimEvents {
  /** An operation was created (a copy). */
  operation: [SimOperation];
  /** An operation's status changed (a copy, and the new status). */
  status: [SimOperation, OperationStatus];
  'session:paired': [SessionInfo];
  'session:closed': [SessionInfo];
  /** A device published on the broker (SmartREST text). */
  'mqtt:publish': [{ clientId: string; topic: string; payload: string }];
}

export interface Sim {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly mqttUrl: string;
  readonly tenant: string;
  readonly user: string;
  readonly password: string;
  readonly devicePassword: string;
  /** Password of the bootstrap user `management/devicebootstrap`. */
  readonly bootstrapPassword: string;
  /** 'Basic base64(<tenant>/<user>:<password>)'. */
  adminAuthHeader(): string;
  /** 'Basic base64(<tenant>/device_<serial>:<devicePassword>)'. */
  deviceAuthHeader(serial: string): string;
  /** Creates (or returns) the device with external id c8y_Serial=<serial>. */
  createDevice(serial: string, opts?: { name?: string; parentSerial?: string }): Promise<{ id: string }>;
  /** A PASSTHROUGH (default) configuration on the device, mirrored into c8y_RemoteAccessList. */
  createConfiguration(deviceId: string, cfg: { name: string; hostname: string; port: number; protocol?: string }): Promise<{ id: string }>;
  /** Creates and delivers a c8y_RemoteAccessConnect operation with no client WebSocket. */
  createRemoteAccessOperation(deviceId: string, target: { hostname: string; port: number }): Promise<SimOperation>;
  getOperation(id: string): SimOperation | undefined;
  listOperations(filter?: { deviceId?: string; status?: string; fragmentType?: string }): SimOperation[];
  /** Every status the operation went through, in order, starting with PENDING. */
  operationHistory(id: string): StatusChange[];
  /** Resolves when the operation reaches one of the statuses; rejects after timeoutMs (default 10 s). */
  waitForOperationStatus(id: string, status: string | string[], timeoutMs?: number): Promise<SimOperation>;
  /** c8y_SupportedOperations of the device (as last set by 114), or undefined. */
  supportedOperations(serial: string): string[] | undefined;
  managedObject(id: string): Record<string, unknown> | undefined;
  /** Live and finished sessions with their byte counters. */
  sessions(): SessionInfo[];
  /** 'operation', 'status', 'session:paired', 'session:closed', 'mqtt:publish' (typed by SimEvents). */
  readonly events: EventEmitter<SimEvents>;
  readonly faults: SimFaults;
  /** Closes a session's legs with 1000. */
  closeSession(key: string): boolean;
  /** Drops the device leg of a session (bare TCP drop, no close frame). */
  dropDeviceLeg(key: string): boolean;
  /** Stops and restarts the MQTT broker on the same port. */
  restartMqtt(downMs?: number): Promise<void>;
  /** A JWT for a REST user or a device (`device_<serial>`), with its XSRF token. */
  issueToken(user?: string): { token: string; xsrfToken: string };
  close(): Promise<void>;
}
