/**
 * Prometheus metrics (prom-client, a private registry) served on 127.0.0.1:<metricsPort>/metrics.
 * Counters move on the diagnostics channels of this agent's operations and engine (events.ts,
 * engine/events.ts); gauges that mirror engine state are read at scrape time.
 */
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engine/engine.js';
import { maskKind } from '../engine/mask-kernel.js';
import { TUNNEL_CHANNELS, type TunnelOpenEvent } from '../engine/events.js';
import { OPERATION_CHANNELS, type OperationDuplicateMessage, type OperationFinishedMessage, type OperationReceivedMessage, type OperationStatusMessage } from './events.js';
import { AgentError, isCleanEnd } from '../errors.js';

/** The agent's metrics and their HTTP endpoint. */
export class AgentMetrics {
  readonly registry = new Registry();
  private server: http.Server | undefined;
  /** Set by close(): a listen() still binding then closes its server instead of keeping it. */
  private closing = false;
  private readonly ops: Counter<'via'>;
  private readonly dups: Counter;
  private readonly openedC: Counter;
  private readonly failedC: Counter<'code'>;
  private readonly latency: Histogram;
  /** The channel subscriptions, undone by close(). */
  private readonly subscriptions: Array<[name: string, fn: (msg: unknown) => void]>;

  /** `agent` and `engine` pick this agent's messages out of the process-wide channels. */
  constructor(agent: object, engine: Engine, connected: () => boolean, pendingStatus: () => number) {
    const registers = [this.registry];
    this.ops = new Counter({ name: 'c8y_tunnel_operations_received_total', help: 'remote access operations received', labelNames: ['via'], registers });
    this.dups = new Counter({ name: 'c8y_tunnel_operations_duplicate_total', help: 'duplicate deliveries dropped (same connection key)', registers });
    this.openedC = new Counter({ name: 'c8y_tunnel_tunnels_opened_total', help: 'tunnels opened', registers });
    this.failedC = new Counter({ name: 'c8y_tunnel_tunnels_failed_total', help: 'operations reported FAILED, by error code', labelNames: ['code'], registers });
    this.latency = new Histogram({
      name: 'c8y_tunnel_operation_success_seconds',
      help: 'time from operation arrival to both legs up (SUCCESSFUL)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: 'c8y_tunnel_tunnels_active',
      help: 'tunnels open now',
      registers,
      collect() {
        this.set(engine.stats().open);
      },
    });
    const seen = { up: 0, down: 0 };
    const bytes = new Counter({
      name: 'c8y_tunnel_bytes_total',
      help: 'bytes carried, by direction (up = target to cloud, down = cloud to target)',
      labelNames: ['direction'],
      registers,
      collect() {
        const s = engine.stats();
        // The engine's counters only grow; add what is new since the last scrape.
        if (s.bytesUp > seen.up) this.inc({ direction: 'up' }, s.bytesUp - seen.up);
        if (s.bytesDown > seen.down) this.inc({ direction: 'down' }, s.bytesDown - seen.down);
        seen.up = Math.max(seen.up, s.bytesUp);
        seen.down = Math.max(seen.down, s.bytesDown);
      },
    });
    bytes.inc({ direction: 'up' }, 0);
    bytes.inc({ direction: 'down' }, 0);
    // An info gauge (always 1): the label says which WebSocket mask the engine runs.
    new Gauge({ name: 'c8y_tunnel_mask_info', help: 'the WebSocket mask in use: native (bufferutil), node (http.websocketMask) or js', labelNames: ['kind'], registers }).set({ kind: maskKind() }, 1);
    new Gauge({
      name: 'c8y_tunnel_workers',
      help: 'engine worker threads',
      registers,
      collect() {
        this.set(engine.threads);
      },
    });
    new Gauge({
      name: 'c8y_tunnel_mqtt_connected',
      help: '1 while the link to the cloud is up (the MQTT session, or the REST poller)',
      registers,
      collect() {
        this.set(connected() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'c8y_tunnel_status_queued',
      help: 'status updates not yet acknowledged by the cloud',
      registers,
      collect() {
        this.set(pendingStatus());
      },
    });
    this.subscriptions = [
      [OPERATION_CHANNELS.received, (m) => (m as OperationReceivedMessage).agent === agent && this.ops.inc({ via: (m as OperationReceivedMessage).via })],
      [OPERATION_CHANNELS.duplicate, (m) => (m as OperationDuplicateMessage).agent === agent && this.dups.inc()],
      [OPERATION_CHANNELS.status, (m) => this.onStatus(agent, m as OperationStatusMessage)],
      [OPERATION_CHANNELS.finished, (m) => this.onFinished(agent, m as OperationFinishedMessage)],
      [TUNNEL_CHANNELS.open, (m) => (m as TunnelOpenEvent).engine === engine && this.openedC.inc()],
    ];
    for (const [name, fn] of this.subscriptions) diagnostics.subscribe(name, fn);
  }

  private onStatus(agent: object, m: OperationStatusMessage): void {
    if (m.agent !== agent) return;
    if (m.status === 'SUCCESSFUL') this.latency.observe(m.ms / 1000);
    else if (m.status === 'FAILED') this.failedC.inc({ code: m.code ?? 'TUN_ERR_INTERNAL' });
  }

  private onFinished(agent: object, { agent: a, summary }: OperationFinishedMessage): void {
    // Set-up failures were counted when reported; this counts tunnels that broke after they were up.
    if (a === agent && summary.established && !isCleanEnd(summary.code)) this.failedC.inc({ code: summary.code });
  }

  /** Serves /metrics on 127.0.0.1:port; resolves with the bound port. */
  async listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    server.on('clientError', (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    if (this.closing) {
      // close() came while the socket was being bound (a signal while the agent starts): it may not stay open.
      await new Promise<void>((r) => server.close(() => r()));
      throw new AgentError('AGENT_ERR_SHUTDOWN', 'agent stopped before the metrics endpoint was up');
    }
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    this.closing = true;
    for (const [name, fn] of this.subscriptions.splice(0)) diagnostics.unsubscribe(name, fn);
    const s = this.server;
    this.server = undefined;
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((r) => s.close(() => r()));
  }
}
