/**
 * The agent's small JSON REST client (device credentials, the configured proxy and CA): the REST
 * transport uses it for everything, the MQTT transport to look up operation ids after a reconnect.
 * Requests go through the package's one HTTP client (net/http-json.ts): an overall deadline (not only an
 * idle timeout) and a cap on the response body, so a slow or hostile endpoint can neither hold a caller
 * forever nor fill its memory; with `--proxy`, a proxy that refuses the CONNECT is reported as the
 * proxy's refusal, not as the cloud's answer.
 */
import { FRAGMENT } from '../cumulocity/inbound.js';
import { AGENT_REST_MAX_BODY, REST_TIMEOUT_MS } from '../constants.js';
import { AgentError } from '../errors.js';
import { createJsonClient, type HttpJsonError, type JsonClient } from '../net/http-json.js';
import { proxyFor } from '../net/proxy.js';
import { basicAuth, type ResolvedConfig } from './config.js';

/** A JSON REST client for the tenant. */
export class RestClient {
  private readonly auth: string;
  private readonly http: JsonClient;

  constructor(
    private readonly cfg: ResolvedConfig,
    timeoutMs = REST_TIMEOUT_MS,
  ) {
    this.auth = basicAuth(cfg);
    const tls = { ...(cfg.ca.length ? { ca: cfg.ca } : {}), rejectUnauthorized: !cfg.insecure };
    const proxy = proxyFor(cfg.host, cfg.proxy, cfg.noProxy);
    // The proxy connection gets the same CA and verification setting as the tenant's, as before undici.
    this.http = createJsonClient({ timeoutMs, maxBodyBytes: AGENT_REST_MAX_BODY, tls, ...(proxy ? { proxy, proxyTls: tls } : {}) });
  }

  /** One JSON request; resolves with [status, body]. Network errors, the deadline, an oversized body and a proxy's refusal reject with AGENT_ERR_REST. */
  async request(method: string, path: string, body?: unknown): Promise<[number, unknown]> {
    const url = new URL(this.cfg.host + path);
    try {
      const res = await this.http.request({
        method,
        url: url.href,
        headers: { authorization: this.auth, accept: 'application/json' },
        ...(body !== undefined ? { json: body } : {}),
      });
      return [res.status, res.body];
    } catch (err) {
      const e = err as HttpJsonError;
      const extra = { cause: e, ...(e.status !== undefined ? { status: e.status } : {}), ...(e.syscode !== undefined ? { syscode: e.syscode } : {}) };
      throw new AgentError('AGENT_ERR_REST', `${method} ${url.pathname} failed (${e.message})`, extra);
    }
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
    void this.http.close();
  }
}
