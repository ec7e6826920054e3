/**
 * Target policy: an allow-list of `host:port` patterns checked before any socket is opened.
 * Host: a name or address with `*` globs (case-insensitive), IPv6 in brackets; port: `*`, `n` or `a-b`,
 * omitted = any. `*` alone allows everything (the default).
 */
import { parseInteger } from '../settings.js';

/** One compiled allow-list entry. */
interface Rule {
  host: RegExp;
  lo: number;
  hi: number;
}

/** A compiled allow-list. */
export interface Policy {
  readonly allowAll: boolean;
  /** The patterns as given (for logs). */
  readonly patterns: readonly string[];
  allows(host: string, port: number): boolean;
}

/** An IPv4 pattern such as `10.0.0.*`: four parts of digits or `*`. */
const IPV4_GLOB = /^(?:\d{1,3}|\*)(?:\.(?:\d{1,3}|\*)){3}$/;

function globToRegExp(glob: string): RegExp {
  // In an IPv4 pattern `*` is one octet: `10.0.0.*` must not match the name `10.0.0.1.attacker.example`.
  if (IPV4_GLOB.test(glob)) return new RegExp(`^${glob.replace(/\./g, '\\.').replace(/\*/g, '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)')}$`);
  const esc = glob.toLowerCase().replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`);
}

function parsePort(spec: string, pattern: string): [number, number] {
  if (spec === '*' || spec === '') return [1, 65535];
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(spec);
  if (!m) throw new Error(`bad port in pattern ${JSON.stringify(pattern)}`);
  const lo = parseInteger(m[1], 1, 65535);
  const hi = m[2] === undefined ? lo : parseInteger(m[2], 1, 65535);
  if (lo === undefined || hi === undefined || lo > hi) throw new Error(`port out of range in pattern ${JSON.stringify(pattern)}`);
  return [lo, hi];
}

function parseRule(pattern: string): Rule {
  let host: string;
  let port = '';
  if (pattern.startsWith('[')) {
    const end = pattern.indexOf(']');
    if (end === -1) throw new Error(`unclosed [ in pattern ${JSON.stringify(pattern)}`);
    host = pattern.slice(1, end);
    const rest = pattern.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new Error(`bad pattern ${JSON.stringify(pattern)}`);
    port = rest.slice(1);
  } else {
    const colons = pattern.split(':').length - 1;
    if (colons > 1) throw new Error(`IPv6 addresses need brackets: ${JSON.stringify(pattern)}`);
    const i = pattern.lastIndexOf(':');
    host = i === -1 ? pattern : pattern.slice(0, i);
    port = i === -1 ? '' : pattern.slice(i + 1);
  }
  if (host === '' || /[\s,/]/.test(host)) throw new Error(`bad host in pattern ${JSON.stringify(pattern)}`);
  const [lo, hi] = parsePort(port, pattern);
  return { host: globToRegExp(host), lo, hi };
}

/** Compiles patterns; throws Error with a message naming the bad pattern. An empty list allows nothing. */
export function parsePolicy(patterns: readonly string[]): Policy {
  const allowAll = patterns.some((p) => p === '*' || p === '*:*');
  const rules = allowAll ? [] : patterns.map(parseRule);
  return {
    allowAll,
    patterns: [...patterns],
    allows(host: string, port: number): boolean {
      if (allowAll) return true;
      const h = host.replace(/^\[|\]$/g, '').toLowerCase();
      return rules.some((r) => port >= r.lo && port <= r.hi && r.host.test(h));
    },
  };
}
