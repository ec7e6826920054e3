/**
 * The REST-only transport (`--transport rest`) for sites that block MQTT: registers the device over REST,
 * polls PENDING c8y_RemoteAccessConnect operations, and PUTs each status by id. Statuses of one operation
 * go out strictly in order (one chain per operation) and are retried with backoff until they land.
 */
import { AgentError } from '../errors.js';
import { parseOperationJson } from '../cumulocity/inbound.js';
import { agentFragments, deviceObject, RESTARTED_REASON, statusBody, type OpStatus } from '../cumulocity/templates.js';
import { RestClient } from './rest-client.js';
import { announcedOperations, backoffDelay, deliverOperation, TransportBase, type Transport } from './transport.js';

/** The REST transport. */
export class RestTransport extends TransportBase implements Transport {
  private readonly rest = new RestClient(this.cfg);
  /** managed object id -> serial, for the own device and configured children. */
  private readonly devices = new Map<string, string>();
  private readonly chains = new Map<string, Promise<void>>();
  private pending = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ok = false;
  private failures = 0;
  private inflightPoll: Promise<void> | undefined;

  get connected(): boolean {
    return this.ok;
  }

  pendingStatus(): number {
    return this.pending;
  }

  /** One JSON request; resolves with [status, body]. Network errors reject with AGENT_ERR_REST. */
  request(method: string, path: string, body?: unknown): Promise<[number, unknown]> {
    return this.rest.request(method, path, body);
  }

  private expect(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.rest.expect(method, path, body);
  }

  /** Looks up (or creates) a device by serial; resolves with its managed object id. */
  private async deviceId(serial: string, create: boolean): Promise<string | undefined> {
    const found = await this.rest.deviceId(serial);
    if (found !== undefined) return found;
    if (!create) return undefined;
    const mo = (await this.expect('POST', '/inventory/managedObjects', deviceObject(serial))) as { id?: unknown };
    const id = String(mo?.id);
    await this.expect('POST', `/identity/globalIds/${encodeURIComponent(id)}/externalIds`, { externalId: serial, type: 'c8y_Serial' });
    return id;
  }

  async start(): Promise<void> {
    this.live();
    const own = await this.deviceId(this.cfg.deviceId, true);
    this.live();
    if (own === undefined) throw new AgentError('AGENT_ERR_REST', 'device registration failed');
    this.devices.set(own, this.cfg.deviceId);
    for (const child of this.cfg.childDevices) {
      const id = await this.deviceId(child, false);
      if (id === undefined) this.log.warn({ child }, 'child device not found; its operations are not served');
      else this.devices.set(id, child);
    }
    await this.expect('PUT', `/inventory/managedObjects/${own}`, agentFragments(announcedOperations(this.cfg), this.cfg.agentName, this.version));
    // Like 507: operations an earlier run left EXECUTING are failed.
    for (const id of this.devices.keys()) {
      const list = await this.list(id, 'EXECUTING');
      for (const op of list) {
        const opId = (op as { id?: unknown }).id;
        if (typeof opId === 'string') await this.expect('PUT', `/devicecontrol/operations/${opId}`, statusBody('FAILED', RESTARTED_REASON));
      }
    }
    this.live();
    this.ok = true;
    this.events.emit('transport:connected', { first: true, transport: 'rest' });
    this.log.info({ host: this.cfg.host, device: own, pollMs: this.cfg.pollIntervalMs }, 'REST transport ready');
    await this.poll();
  }

  /** stop() may come while start() awaits the cloud (a signal while the agent starts): start no further. */
  private live(): void {
    if (this.stopping) throw new AgentError('AGENT_ERR_SHUTDOWN', 'agent stopped before the REST transport was ready');
  }

  private list(deviceId: string, status: 'PENDING' | 'EXECUTING'): Promise<unknown[]> {
    return this.rest.operations(deviceId, status);
  }

  private poll(): Promise<void> {
    if (this.inflightPoll) return this.inflightPoll;
    this.inflightPoll = this.pollOnce().finally(() => {
      this.inflightPoll = undefined;
      if (this.stopping) return;
      const delay = this.failures === 0 ? this.cfg.pollIntervalMs : Math.max(this.cfg.pollIntervalMs, backoffDelay(this.failures - 1, this.cfg.reconnectMinMs, this.cfg.reconnectMaxMs));
      this.pollTimer = setTimeout(() => void this.poll(), delay);
    });
    return this.inflightPoll;
  }

  private async pollOnce(): Promise<void> {
    try {
      for (const [moId, serial] of this.devices) {
        for (const obj of await this.list(moId, 'PENDING')) {
          if (this.stopping) return;
          deliverOperation(this.handlers, parseOperationJson(obj, this.serials, serial, 'rest'));
        }
      }
      if (!this.ok) this.log.info('REST polling recovered');
      this.ok = true;
      this.failures = 0;
    } catch (err) {
      this.failures++;
      if (this.ok) this.log.warn({ err: (err as Error).message }, 'REST poll failed; retrying with backoff');
      this.ok = false;
    }
  }

  report(ref: { serial: string; id?: string }, status: OpStatus, reason?: string): void {
    const id = ref.id;
    if (id === undefined) return; // REST operations always carry an id
    const body = statusBody(status, reason);
    this.pending++;
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.put(id, body));
    this.chains.set(id, next);
    void next.finally(() => {
      this.pending--;
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
  }

  private async put(id: string, body: { status: OpStatus; failureReason?: string }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const [status] = await this.request('PUT', `/devicecontrol/operations/${encodeURIComponent(id)}`, body);
        if (status >= 200 && status < 300) return;
        // 4xx other than 408/429: the cloud will not take it (e.g. already final); retrying cannot help.
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          this.log.warn({ id, status: body.status, http: status }, 'status update refused');
          return;
        }
      } catch (err) {
        if (attempt === 0) this.log.warn({ id, err: (err as Error).message }, 'status update failed; retrying');
      }
      if (this.stopping && attempt > 2) return;
      await new Promise((r) => setTimeout(r, backoffDelay(attempt, Math.min(200, this.cfg.reconnectMinMs), this.cfg.reconnectMaxMs)));
    }
  }

  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.pollTimer);
    const all = Promise.allSettled([...this.chains.values(), this.inflightPoll]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    if (this.pending > 0) this.log.warn({ lost: this.pending }, 'status updates not delivered before shutdown');
    this.ok = false;
    this.rest.close();
  }
}
