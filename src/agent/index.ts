/**
 * createAgent(): the coordinator on the main thread. It validates the settings, starts the tunnel
 * engine, the transport (MQTT or REST) and optional metrics, and wires operations to tunnels. It never
 * calls process.exit; the CLI maps outcomes to exit codes. The transport, the logger and the metrics
 * (mqtt, pino, prom-client) are imported when the agent starts, so that a program importing the package
 * root for the engine alone does not load them.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { createEngine, type Engine } from '../engine/engine.js';
import { maskKind } from '../engine/mask-kernel.js';
import type { EngineOptions, EngineStats, TunnelSpec } from '../engine/types.js';
import { type C8yTunnelError, AgentError } from '../errors.js';
import { nodeSupported, SUPPORTED_NODE } from '../node-line.js';
import type { AgentEvents } from './events.js';
import { basicAuth, resolveConfig, type AgentConfig, type Origins, type ResolvedConfig } from './config.js';
import { JwtCache } from './jwt.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { proxyFor } from '../net/proxy.js';
import { subscribeOperationLog } from './operation-log.js';
import type { Operations, OperationStats } from './operations.js';
import type { Transport } from './transport.js';

export type { AgentConfig, ResolvedConfig } from './config.js';
export type { OperationStats } from './operations.js';
export type { AgentEvents, OperationEvent, StatusEvent, SessionClosedEvent, TransportConnectedEvent } from './events.js';

/** createAgent() input: the settings plus things only a program can pass. */
export interface AgentOptions extends AgentConfig {
  /** A pino logger (tests pass a silent or capturing one); default: pino per logLevel/logFormat. */
  logger?: Logger;
  /** Engine overrides (threads, tunnelsPerWorker, defaults, ...). */
  engine?: EngineOptions;
  /** Where each setting came from, for error messages (the CLI passes these). */
  origins?: Origins;
}

/** A snapshot of the agent. */
export interface AgentStats {
  /** The link to the cloud is up (the MQTT session, or the REST poller's last poll succeeded). */
  connected: boolean;
  /** Status updates not yet acknowledged by the cloud. */
  statusQueued: number;
  operations: OperationStats;
  engine: EngineStats;
}

/** What createAgent() returns. */
export interface Agent {
  /** Starts the engine and the transport; resolves once the cloud link is ready. Rejects on bad credentials. */
  start(): Promise<void>;
  /** Stops taking operations, closes tunnels within `graceMs` (default: the graceMs setting), disconnects. */
  stop(options?: { graceMs?: number }): Promise<void>;
  stats(): AgentStats;
  /** 'operation', 'status', 'session:closed', 'transport:connected' (MQTT and REST), 'transport:disconnected' (MQTT). */
  readonly events: EventEmitter<AgentEvents>;
  /** The validated settings (contains the password: do not log it whole). */
  readonly config: ResolvedConfig;
  /** Port of the metrics endpoint once started, when enabled. */
  readonly metricsPort: number | undefined;
}

/** The package version (sent in 122). */
export function agentVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The modules the agent runs on, imported by start() (or stop()) rather than with the package. */
async function loadParts(cfg: ResolvedConfig) {
  const [log, operations, transport, metrics] = await Promise.all([
    import('./log.js'),
    import('./operations.js'),
    cfg.transport === 'rest' ? import('./rest-transport.js').then((m) => m.RestTransport) : import('./mqtt-transport.js').then((m) => m.MqttTransport),
    cfg.metricsPort > 0 ? import('./metrics.js').then((m) => m.AgentMetrics) : undefined,
  ]);
  return { createLogger: log.createLogger, redactUrl: log.redactUrl, Operations: operations.Operations, TransportImpl: transport, AgentMetrics: metrics };
}

class AgentImpl implements Agent {
  readonly events = new EventEmitter<AgentEvents>();
  readonly config: ResolvedConfig;
  metricsPort: number | undefined;
  /** The injected logger, or the one load() creates from the settings. */
  private log: Logger | undefined;
  private loading: ReturnType<typeof loadParts> | undefined;
  private readonly engineOptions: EngineOptions | undefined;
  private engine: Engine | undefined;
  private transport: Transport | undefined;
  private ops: Operations | undefined;
  private metrics: AgentMetrics | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopped: Promise<void> | undefined;
  /** Ends the operation log's subscription (set while the agent runs). */
  private unsubscribeLog: (() => void) | undefined;

  constructor(options: AgentOptions) {
    const { logger, engine, origins, ...config } = options;
    this.config = resolveConfig(config, origins);
    this.log = logger;
    this.engineOptions = engine;
    // Any number of listeners (a program may follow each operation) without the leak warning.
    this.events.setMaxListeners(0);
  }

  /** Imports the agent's modules once and creates the default logger; resolves with the logger too. */
  private async load(): Promise<Awaited<ReturnType<typeof loadParts>> & { log: Logger }> {
    this.loading ??= loadParts(this.config);
    const parts = await this.loading;
    this.log ??= parts.createLogger({ level: this.config.logLevel, format: this.config.logFormat });
    return { ...parts, log: this.log };
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new AgentError('AGENT_ERR_CONFIG', 'agent.start() may be called once');
    this.state = 'starting';
    const { log, redactUrl, Operations, TransportImpl, AgentMetrics } = await this.load();
    this.stillStarting();
    const cfg = this.config;
    if (cfg.insecure) log.warn('TLS verification is OFF (--insecure): the cloud is not authenticated');
    const engine = createEngine({ threads: cfg.threads, tunnelsPerWorker: cfg.tunnelsPerWorker, ...this.engineOptions });
    this.engine = engine;
    const handlers = {
      request: (req: Parameters<Operations['handle']>[0]) => this.ops!.handle(req),
      malformed: (ref: { serial: string; id?: string }, err: C8yTunnelError) => this.ops!.rejectMalformed(ref, err),
      learnedId: (key: string, id: string) => this.ops!.learnId(key, id),
    };
    const version = agentVersion();
    const transport: Transport = new TransportImpl(cfg, handlers, log, this.events, version);
    this.transport = transport;
    if (AgentMetrics) this.metrics = new AgentMetrics(this, engine, () => transport.connected, () => transport.pendingStatus());
    this.unsubscribeLog = subscribeOperationLog(this, log);
    const auth = this.authProvider(transport);
    this.ops = new Operations({
      engine,
      sink: transport,
      log,
      policy: cfg.policy,
      maxSessions: cfg.maxSessions,
      wsBase: cfg.wsBase,
      authorization: auth.header,
      authRejected: auth.rejected,
      specDefaults: this.specDefaults(),
      dedupeWindowMs: cfg.dedupeWindowMs,
      agent: this,
      events: this.events,
    });
    log.info(
      {
        host: cfg.host,
        transport: cfg.transport,
        ...(cfg.transport === 'mqtt' ? { mqtt: redactUrl(cfg.mqttUrl) } : {}),
        device: cfg.deviceId,
        auth: cfg.auth,
        threads: engine.threads,
        allow: cfg.policy.patterns,
        maxSessions: cfg.maxSessions,
        mask: maskKind(),
        node: process.versions.node,
      },
      'agent starting',
    );
    if (!nodeSupported()) log.warn({ node: process.versions.node, supported: SUPPORTED_NODE }, 'this Node line is past its end of life: run the agent on a supported one');
    try {
      if (this.metrics) {
        try {
          this.metricsPort = await this.metrics.listen(cfg.metricsPort, cfg.metricsHost);
        } catch (err) {
          // A stop while it was binding: the endpoint closed itself (AGENT_ERR_SHUTDOWN), which is no listen failure.
          if ((err as Partial<C8yTunnelError>).code === 'AGENT_ERR_SHUTDOWN') throw err;
          const sys = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          throw new AgentError('AGENT_ERR_METRICS', `metrics endpoint cannot listen on ${cfg.metricsHost}:${cfg.metricsPort} (${sys}${sys === 'EADDRINUSE' ? ': the port is taken' : ''})`, { syscode: sys, cause: err });
        }
        const h = cfg.metricsHost.includes(':') ? `[${cfg.metricsHost}]` : cfg.metricsHost;
        log.info({ url: `http://${h}:${this.metricsPort}/metrics` }, 'metrics listening');
      }
      // A stop() that came while the endpoint was binding has already stopped the transport: start nothing more.
      this.stillStarting();
      await transport.start();
    } catch (err) {
      this.state = 'stopped';
      await Promise.allSettled([transport.stop(0), engine.close({ graceMs: 0 }), this.metrics?.close()]);
      this.unsubscribeLog?.();
      throw err;
    }
    if (this.state === 'starting') this.state = 'running';
  }

  /** Throws AGENT_ERR_SHUTDOWN when stop() came while start() was awaiting: start goes no further. */
  private stillStarting(): void {
    if (this.state !== 'starting') throw new AgentError('AGENT_ERR_SHUTDOWN', 'agent.stop() was called before the agent started');
  }

  private authProvider(transport: Transport): { header: () => string | Promise<string>; rejected: () => void } {
    if (this.config.auth === 'basic') {
      const header = basicAuth(this.config);
      return { header: () => header, rejected: () => {} };
    }
    const cache = new JwtCache(() => transport.fetchJwt!());
    return {
      header: () => {
        const t = cache.peek();
        return t !== undefined ? `Bearer ${t}` : cache.get().then((tok) => `Bearer ${tok}`);
      },
      // The next operation fetches a fresh token.
      rejected: () => cache.invalidate(),
    };
  }

  private specDefaults(): Partial<TunnelSpec> {
    const cfg = this.config;
    const d: Partial<TunnelSpec> = { tcpConnectTimeoutMs: cfg.tcpConnectTimeoutMs, wsConnectTimeoutMs: cfg.wsConnectTimeoutMs };
    if (cfg.ca.length > 0 || cfg.insecure) d.tls = { ...(cfg.ca.length > 0 ? { ca: cfg.ca } : {}), rejectUnauthorized: !cfg.insecure };
    const proxy = proxyFor(`${cfg.wsBase}/service/remoteaccess/device/x`, cfg.proxy, cfg.noProxy);
    if (proxy !== undefined) d.proxy = proxy;
    return d;
  }

  stop(options: { graceMs?: number } = {}): Promise<void> {
    if (!this.stopped) this.stopped = this.doStop(options.graceMs ?? this.config.graceMs);
    return this.stopped;
  }

  private async doStop(graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    this.state = 'stopping';
    const { log } = await this.load();
    this.ops?.stop();
    log.info({ graceMs, open: this.engine?.stats().open ?? 0 }, 'agent stopping');
    // Tunnels first, within the grace less 700 ms (at most 80% of it): the engine's close ends within the
    // grace it is given, but for terminating its worker threads. The transport then has what is left (at
    // least 100 ms) to send the last statuses.
    if (this.engine) await this.engine.close({ graceMs: Math.max(0, Math.min(graceMs - 700, graceMs * 0.8)) });
    if (this.transport) await this.transport.stop(Math.max(100, deadline - Date.now()));
    await this.metrics?.close();
    this.unsubscribeLog?.();
    this.state = 'stopped';
    log.info('agent stopped');
  }

  stats(): AgentStats {
    return {
      connected: this.transport?.connected ?? false,
      statusQueued: this.transport?.pendingStatus() ?? 0,
      operations: this.ops?.stats() ?? { received: 0, duplicates: 0, active: 0, successful: 0, failed: 0, malformed: 0, remembered: 0 },
      engine: this.engine?.stats() ?? emptyEngineStats(),
    };
  }
}

function emptyEngineStats(): EngineStats {
  return { threads: 0, open: 0, opened: 0, established: 0, closed: 0, perWorker: {}, bytesUp: 0, bytesDown: 0, endsByCode: {}, failuresByCode: {}, workersStarted: 0, workerDeaths: 0, bufferutil: false, mask: 'js' };
}

/** Creates the agent; throws AGENT_ERR_CONFIG (one line naming the setting) on a bad or missing setting. */
export function createAgent(options: AgentOptions): Agent {
  if (!options || typeof options !== 'object') throw new AgentError('AGENT_ERR_CONFIG', 'createAgent() needs a settings object');
  return new AgentImpl(options);
}
