/**
 * The package's proxy support, shared by the agent (REST transport, the engine's WebSocket legs) and
 * `connect` (REST look-ups, the session WebSocket): which proxy a URL goes through (`proxyFor`), and the
 * HTTP CONNECT client that opens a raw socket through it (`connectViaProxy`). The JSON REST requests go
 * through undici's ProxyAgent instead (http-json.ts); both report a refused CONNECT as the proxy's answer.
 *
 * Why our own NO_PROXY matcher and not proxy-from-env (v2.1.0): that package reads only `process.env`,
 * while the agent takes `--proxy`/`--no-proxy` from flags and its config file too (and `connect` from its
 * flags); and its rule is exact match unless an entry starts with `.` or `*`, where ours (curl's) lets
 * `example.com` cover its subdomains as well, as the agent's `--no-proxy` setting documents.
 *
 * Why our own CONNECT client (~70 lines) and not undici's ProxyAgent for the WebSocket legs:
 * - the engine's worker threads need the raw socket: the RFC 6455 handshake (dial.ts) and the data-phase
 *   codec (ws-codec.ts) are ours and read and write the socket directly, and undici hands out a tunnelled
 *   socket only through `Client#connect` to the proxy, with the CONNECT and its failures inside it;
 * - loading undici into every worker thread costs memory and start-up time, measured here (Node 20.20,
 *   undici 7.30.2, a 2-core machine under other load; one fresh process a sample, one fresh
 *   `worker_threads` Worker in it timing `await import()` and the growth of the process RSS and of the
 *   worker's heap after a GC; median of 9): `import('undici')` 321 ms, +15.0 MiB RSS, +4.8 MiB heap;
 *   this module (with the errors module it imports) 45 ms, +1.0 MiB RSS, +1.0 MiB heap; an empty worker
 *   +0. Per worker thread, undici would cost about as much again as the worker itself (~9 MiB).
 * - it tells a refused CONNECT (TUN_ERR_PROXY with the proxy's status) from the cloud's answer, which the
 *   agent package the REST client used before (https-proxy-agent) could not: it replayed the proxy's
 *   refusal as if the cloud had answered.
 */
import net from 'node:net';
import tls from 'node:tls';
import { type C8yTunnelError, TunnelError } from '../errors.js';

/** Opens a raw tunnel to `host:port` through `proxyUrl`; resolves with the connected socket. */
export function connectViaProxy(proxyUrl: string, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(proxyUrl);
    } catch (err) {
      reject(new TunnelError('TUN_ERR_PROXY', 'invalid proxy URL', { cause: err }));
      return;
    }
    const secure = url.protocol === 'https:';
    const pport = Number(url.port) || (secure ? 443 : 80);
    const phost = url.hostname.replace(/^\[|\]$/g, '');
    const sock: net.Socket = secure
      ? tls.connect({ host: phost, port: pport, servername: net.isIP(phost) ? undefined : phost })
      : net.connect({ host: phost, port: pport });
    let settled = false;
    const timer = setTimeout(() => done(new TunnelError('TUN_ERR_PROXY', `proxy ${phost}:${pport} did not answer CONNECT in time`)), timeoutMs);
    const chunks: Buffer[] = [];
    function done(err: C8yTunnelError | null, rest?: Buffer): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.removeListener('data', onData);
      if (err) {
        sock.destroy();
        reject(err);
      } else {
        if (rest && rest.length > 0) sock.unshift(rest);
        resolve(sock);
      }
    }
    function onData(chunk: Buffer): void {
      chunks.push(chunk);
      const buf = Buffer.concat(chunks);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buf.length > 16384) done(new TunnelError('TUN_ERR_PROXY', 'proxy answered CONNECT with an oversized header'));
        return;
      }
      const statusLine = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      const status = m ? Number(m[1]) : 0;
      if (status === 200) done(null, buf.subarray(end + 4));
      else done(new TunnelError('TUN_ERR_PROXY', `proxy refused CONNECT: HTTP ${status || 'invalid reply'}`, { status }));
    }
    sock.on('data', onData);
    sock.on('error', (err: NodeJS.ErrnoException) =>
      done(new TunnelError('TUN_ERR_PROXY', `proxy ${phost}:${pport} failed (${err.code ?? err.message})`, { syscode: err.code, cause: err })),
    );
    sock.on('close', () => done(new TunnelError('TUN_ERR_PROXY', 'proxy closed the connection during CONNECT')));
    sock.once(secure ? 'secureConnect' : 'connect', () => {
      const target = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
      let req = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n`;
      if (url.username) {
        const cred = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
        req += `Proxy-Authorization: Basic ${Buffer.from(cred).toString('base64')}\r\n`;
      }
      sock.write(req + '\r\n');
    });
  });
}

/**
 * The proxy to use for `url`, or undefined when there is none or NO_PROXY exempts the host. NO_PROXY
 * follows curl's conventions: `*` bypasses every host; a name matches itself and its subdomains (a
 * leading `.` or `*.` is optional); `host:port` also checks the port (443 or 80 by scheme when the URL
 * has none); IP literals, bracketed or not, match exactly (no CIDR ranges).
 */
export function proxyFor(url: string, proxy: string | undefined, noProxy: string): string | undefined {
  if (!proxy) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return proxy;
  }
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = u.port || (u.protocol === 'wss:' || u.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return undefined;
    let name = entry;
    let p: string | undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry.replace(/^\[([^\]]*)\]/, '$1') : entry);
    if (m && m[2] !== undefined && !m[1]!.includes(':')) {
      name = m[1]!;
      p = m[2];
    } else if (entry.startsWith('[')) {
      name = entry.replace(/^\[([^\]]*)\].*$/, '$1');
    }
    if (p !== undefined && p !== port) continue;
    name = name.replace(/^\*?\./, '');
    if (host === name || host.endsWith(`.${name}`)) return undefined;
  }
  return proxy;
}
