/**
 * NO_PROXY matching for the agent's connections through `--proxy`: the REST transport's requests
 * (rest-client.ts) and the tunnels' WebSocket legs (the engine's CONNECT client); MQTT does not use the
 * proxy. The common conventions: `*` bypasses every host; a name matches itself and its subdomains (a
 * leading `.` or `*.` is optional); `host:port` also checks the port (443 or 80 by scheme when the URL has
 * none); IP literals, bracketed or not, match exactly (no CIDR ranges).
 */

/** The proxy to use for `url`, or undefined when there is none or NO_PROXY exempts the host. */
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
