/**
 * The one JSON-over-HTTP client of the package: the agent's REST transport and its MQTT-side look-ups
 * (agent/rest-client.ts) and `connect`'s look-ups (connect/rest.ts). Built on undici's `request()` with one
 * dispatcher per client: an `Agent`, or a `ProxyAgent` when the caller's proxy applies (the caller decides,
 * with `proxyFor` from proxy.ts). Every request has an overall deadline for the whole exchange (not only
 * idle timeouts: a server trickling a byte now and then cannot hold it) and a cap on the response body
 * (reading stops and the body is destroyed past it). A failure rejects with one `HttpJsonError` whose
 * `kind` says which it was, so each caller maps it to its own error family; a proxy's refused CONNECT is
 * `proxy-refused` with the proxy's status, never an answer of the server behind it.
 *
 * undici is imported on the first request, so a program that imports the package root for the engine
 * only never loads it (test/package/root-export.test.ts).
 */
import type * as Undici from 'undici';
import { isTlsVerifyError } from './tls-errors.js';

/** Which part of the exchange failed. */
export type HttpJsonFailure =
  /** No complete answer within the deadline (`limit`: ms). */
  | 'deadline'
  /** The answer's body was larger than the cap (`limit`: bytes). */
  | 'too-large'
  /** The server's certificate failed verification (`syscode`: the OpenSSL or Node code). */
  | 'tls'
  /** The proxy answered the CONNECT with a status other than 200 (`status`). */
  | 'proxy-refused'
  /** The proxy could not be reached, or broke off before answering the CONNECT (`syscode`). */
  | 'proxy-failed'
  /** Any other connection or protocol failure (`syscode`). */
  | 'network';

/** The one normalized failure of a request. */
export class HttpJsonError extends Error {
  constructor(
    readonly kind: HttpJsonFailure,
    message: string,
    extra: { status?: number; syscode?: string; limit?: number; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'HttpJsonError';
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.syscode !== undefined) this.syscode = extra.syscode;
    if (extra.limit !== undefined) this.limit = extra.limit;
  }
  readonly status?: number;
  readonly syscode?: string;
  readonly limit?: number;
}

/** TLS settings for one side of the connection. */
export interface JsonTls {
  /** Extra CA certificates (PEM); they replace Node's default roots, as with `tls.connect`. */
  ca?: string[];
  rejectUnauthorized?: boolean;
}

export interface JsonClientOptions {
  /** Overall deadline of one request, ms. */
  timeoutMs: number;
  /** Largest response body, bytes. */
  maxBodyBytes: number;
  /** TLS for the server (https: URLs). */
  tls?: JsonTls;
  /** HTTP(S) proxy URL for every request of this client (http://user:pass@host:port for Basic proxy auth). */
  proxy?: string;
  /** TLS for an https: proxy itself (default: Node's defaults). */
  proxyTls?: JsonTls;
}

/** What came back: the status and the body parsed as JSON. */
export interface JsonResponse {
  status: number;
  /** The parsed body; undefined when it was empty or not JSON. */
  body: unknown;
  /** 'json', 'empty', or 'not-json' (a body that did not parse). */
  bodyKind: 'json' | 'empty' | 'not-json';
}

export interface JsonRequest {
  method: string;
  /** Absolute URL. */
  url: string;
  headers?: Record<string, string>;
  /** Sent as JSON with Content-Type: application/json. */
  json?: unknown;
}

export interface JsonClient {
  request(req: JsonRequest): Promise<JsonResponse>;
  /** Closes the client's connections; a request after it fails. */
  close(): Promise<void>;
}

let undici: Promise<typeof Undici> | undefined;
const loadUndici = (): Promise<typeof Undici> => (undici ??= import('undici'));

/** The proxy's refusal of a CONNECT, or its failure before answering, raised where undici asks the proxy. */
class ProxyLegError extends Error {
  constructor(
    readonly kind: 'proxy-refused' | 'proxy-failed',
    message: string,
    readonly status?: number,
    readonly syscode?: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

const tlsOptions = (t: JsonTls | undefined): { ca?: string[]; rejectUnauthorized?: boolean } => ({
  ...(t?.ca && t.ca.length > 0 ? { ca: t.ca } : {}),
  ...(t?.rejectUnauthorized !== undefined ? { rejectUnauthorized: t.rejectUnauthorized } : {}),
});

function makeDispatcher(u: typeof Undici, o: JsonClientOptions): Undici.Dispatcher {
  if (!o.proxy) return new u.Agent({ connect: tlsOptions(o.tls) });
  const proxy = new URL(o.proxy);
  const where = `${proxy.hostname}:${proxy.port || (proxy.protocol === 'https:' ? 443 : 80)}`;
  // The connection to the proxy: undici's ProxyAgent sends the CONNECT through this pool's `connect()`
  // and turns a non-200 answer into a bare "aborted" error with the status only in its text. Answering
  // here instead gives the caller the proxy's status, and marks a failure to reach the proxy as the
  // proxy's, not the server's.
  class ProxyPool extends u.Pool {
    override connect(opts: Undici.Dispatcher.ConnectOptions): Promise<Undici.Dispatcher.ConnectData>;
    override connect(opts: Undici.Dispatcher.ConnectOptions, callback: (err: Error | null, data: Undici.Dispatcher.ConnectData) => void): void;
    override connect(
      opts: Undici.Dispatcher.ConnectOptions,
      callback?: (err: Error | null, data: Undici.Dispatcher.ConnectData) => void,
    ): Promise<Undici.Dispatcher.ConnectData> | void {
      if (callback) return super.connect(opts, callback);
      return super.connect(opts).then(
        (data) => {
          if (data.statusCode === 200) return data;
          data.socket.on('error', () => {}).destroy();
          throw new ProxyLegError('proxy-refused', `proxy refused CONNECT: HTTP ${data.statusCode}`, data.statusCode);
        },
        (err: unknown) => {
          const code = errorCode(err);
          throw new ProxyLegError('proxy-failed', `proxy ${where} failed (${code ?? (err as Error).message})`, undefined, code, err);
        },
      );
    }
  }
  return new u.ProxyAgent({
    uri: o.proxy,
    requestTls: tlsOptions(o.tls),
    proxyTls: tlsOptions(o.proxyTls),
    clientFactory: (origin: URL, opts: object) => new ProxyPool(origin, opts),
  });
}

/** An error and the errors in its `cause` chain (undici wraps some), at most four deep. */
function* causeChain(err: unknown): Generator<object> {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) yield e;
}

/** The system or library code of an error, looking through `cause`. */
function errorCode(err: unknown): string | undefined {
  for (const e of causeChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'UND_ERR_ABORTED') return code;
  }
  return undefined;
}

function proxyLeg(err: unknown): ProxyLegError | undefined {
  for (const e of causeChain(err)) if (e instanceof ProxyLegError) return e;
  return undefined;
}

function normalize(err: unknown): HttpJsonError {
  if (err instanceof HttpJsonError) return err;
  const leg = proxyLeg(err);
  if (leg) {
    return new HttpJsonError(leg.kind, leg.message, { ...(leg.status !== undefined ? { status: leg.status } : {}), ...(leg.syscode !== undefined ? { syscode: leg.syscode } : {}), cause: err });
  }
  const code = errorCode(err);
  const message = code ?? (err instanceof Error ? err.message : String(err));
  if (isTlsVerifyError(code)) return new HttpJsonError('tls', message, { syscode: code!, cause: err });
  return new HttpJsonError('network', message, { ...(code !== undefined ? { syscode: code } : {}), cause: err });
}

/** A JSON client with its own connections (and proxy, when given). */
export function createJsonClient(o: JsonClientOptions): JsonClient {
  let dispatcher: Undici.Dispatcher | undefined;
  let closed = false;
  return {
    async request(req) {
      // The deadline covers everything, loading undici and the proxy's CONNECT included.
      const ac = new AbortController();
      let cut: HttpJsonError | undefined;
      const stop = (e: HttpJsonError): void => {
        cut ??= e;
        ac.abort(cut);
      };
      const timer = setTimeout(() => stop(new HttpJsonError('deadline', `no complete answer within ${o.timeoutMs} ms`, { limit: o.timeoutMs })), o.timeoutMs);
      try {
        const u = await loadUndici();
        if (closed) throw new HttpJsonError('network', 'the client is closed');
        dispatcher ??= makeDispatcher(u, o);
        const data = req.json === undefined ? undefined : JSON.stringify(req.json);
        const res = await u.request(req.url, {
          method: req.method as Undici.Dispatcher.HttpMethod,
          headers: { ...req.headers, ...(data !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(data !== undefined ? { body: data } : {}),
          dispatcher,
          signal: ac.signal,
        });
        const parts: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          if (cut) throw cut;
          size += chunk.length;
          if (size > o.maxBodyBytes) {
            stop(new HttpJsonError('too-large', `response body over ${o.maxBodyBytes} bytes`, { limit: o.maxBodyBytes }));
            res.body.destroy();
            throw cut;
          }
          parts.push(chunk);
        }
        if (cut) throw cut;
        const text = Buffer.concat(parts).toString('utf8');
        if (text === '') return { status: res.statusCode, body: undefined, bodyKind: 'empty' };
        try {
          return { status: res.statusCode, body: JSON.parse(text) as unknown, bodyKind: 'json' };
        } catch {
          return { status: res.statusCode, body: undefined, bodyKind: 'not-json' };
        }
      } catch (err) {
        throw cut ?? normalize(err);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      closed = true;
      const d = dispatcher;
      dispatcher = undefined;
      await d?.destroy();
    },
  };
}
