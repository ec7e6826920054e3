/**
 * HTTP CONNECT through a forward proxy, for the WebSocket leg.
 *
 * Written by hand because the well-known agent (https-proxy-agent) replays a refused CONNECT as if the
 * cloud had answered, so "the proxy said 403" and "the cloud said 403" could not be told apart; here a
 * refused CONNECT is TUN_ERR_PROXY with the proxy's status.
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
