/**
 * The agent's small JSON REST client (device credentials, the configured proxy and CA): the REST
 * transport uses it for everything, the MQTT transport to look up operation ids after a reconnect.
 * Every request has an overall deadline (not only an idle timeout) and a cap on the response body, so
 * a slow or hostile endpoint can neither hold a caller forever nor fill its memory.
 */
import http from 'node:http';
import https from 'node:https';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { FRAGMENT } from '../cumulocity/inbound.js';
import { AGENT_REST_MAX_BODY, REST_TIMEOUT_MS } from '../constants.js';
import { AgentError } from '../errors.js';
import { basicAuth, type ResolvedConfig } from './config.js';
import { proxyFor } from './no-proxy.js';

/** A JSON REST client for the tenant. */
export class RestClient {
  private readonly auth: string;
  private readonly agent: http.Agent | undefined;

  constructor(
    private readonly cfg: ResolvedConfig,
    private readonly timeoutMs = REST_TIMEOUT_MS,
  ) {
    this.auth = basicAuth(cfg);
    const proxy = proxyFor(cfg.host, cfg.proxy, cfg.noProxy);
    if (proxy) this.agent = new HttpsProxyAgent(proxy, { ...(cfg.ca.length ? { ca: cfg.ca } : {}), rejectUnauthorized: !cfg.insecure });
  }

  /** One JSON request; resolves with [status, body]. Network errors, the deadline and an oversized body reject with AGENT_ERR_REST. */
  request(method: string, path: string, body?: unknown): Promise<[number, unknown]> {
    const url = new URL(this.cfg.host + path);
    const mod = url.protocol === 'https:' ? https : http;
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      // Why we cut the request ourselves (deadline, size), which wins over the socket error it causes.
      let cut: Error | undefined;
      const stop = (err: Error): void => {
        cut ??= err;
        req.destroy(err);
      };
      const fail = (err: NodeJS.ErrnoException): void => reject(new AgentError('AGENT_ERR_REST', `${method} ${url.pathname} failed (${cut?.message ?? err.code ?? err.message})`, { cause: cut ?? err }));
      const req = mod.request(url, {
        method,
        headers: {
          Authorization: this.auth,
          Accept: 'application/json',
          ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}),
        },
        ...(this.agent ? { agent: this.agent } : {}),
        ...(url.protocol === 'https:' ? { rejectUnauthorized: !this.cfg.insecure, ...(this.cfg.ca.length ? { ca: this.cfg.ca } : {}) } : {}),
      });
      const deadline = setTimeout(() => stop(new Error(`no complete answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('close', () => clearTimeout(deadline));
      req.on('response', (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size > AGENT_REST_MAX_BODY) {
            stop(new Error(`response body over ${AGENT_REST_MAX_BODY} bytes`));
            return;
          }
          parts.push(d);
        });
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let parsed: unknown = undefined;
          try {
            parsed = text === '' ? undefined : JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve([res.statusCode ?? 0, parsed]);
        });
      });
      req.on('error', fail);
      req.end(data);
    });
  }

  /** A request that must answer 2xx; resolves with the body. */
  async expect(method: string, path: string, body?: unknown): Promise<unknown> {
    const [status, res] = await this.request(method, path, body);
    if (status < 200 || status >= 300) throw new AgentError('AGENT_ERR_REST', `${method} ${path.split('?')[0]} failed: HTTP ${status}`, { status });
    return res;
  }

  /** The managed object id of a device by serial (c8y_Serial), or undefined when there is none. */
  async deviceId(serial: string): Promise<string | undefined> {
    const [status, res] = await this.request('GET', `/identity/externalIds/c8y_Serial/${encodeURIComponent(serial)}`);
    if (status === 200) {
      const id = (res as { managedObject?: { id?: unknown } })?.managedObject?.id;
      if (typeof id === 'string' || typeof id === 'number') return String(id);
    }
    if (status === 401 || status === 403) throw new AgentError('AGENT_ERR_REST', `the cloud refused the device credentials (HTTP ${status})`, { status });
    if (status !== 404) throw new AgentError('AGENT_ERR_REST', `GET /identity/externalIds failed: HTTP ${status}`, { status });
    return undefined;
  }

  /** c8y_RemoteAccessConnect operations of a device in one status (first 100). */
  async operations(deviceId: string, status: 'PENDING' | 'EXECUTING'): Promise<unknown[]> {
    const res = (await this.expect('GET', `/devicecontrol/operations?deviceId=${encodeURIComponent(deviceId)}&status=${status}&fragmentType=${FRAGMENT}&pageSize=100`)) as {
      operations?: unknown[];
    };
    return Array.isArray(res?.operations) ? res.operations : [];
  }

  close(): void {
    this.agent?.destroy();
  }
}
