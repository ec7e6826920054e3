/**
 * The device JWT for `Authorization: Bearer` (C8Y_AUTH=jwt): fetched through the transport (s/uat ->
 * 71 on s/dat), cached, and renewed in the background once half its lifetime has passed, so operations
 * normally never wait for it. One fetch at a time; concurrent callers share it.
 */
import { C8yTunnelError, AgentError } from '../errors.js';

/** Fetches a fresh token (the transport's s/uat round trip). */
export type JwtFetcher = () => Promise<string>;

/** Reads `iat` and `exp` (seconds) from a JWT without verifying it; undefined when absent or unreadable. */
export function jwtTimes(token: string): { iat?: number; exp?: number } {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { iat?: unknown; exp?: unknown };
    const out: { iat?: number; exp?: number } = {};
    if (typeof claims.iat === 'number') out.iat = claims.iat;
    if (typeof claims.exp === 'number') out.exp = claims.exp;
    return out;
  } catch {
    return {};
  }
}

/** Default lifetime assumed for a token that carries no `exp` (Cumulocity's default device token lifetime). */
const FALLBACK_LIFETIME_MS = 3_600_000;

/** Cached device JWT. */
export class JwtCache {
  private token: string | undefined;
  private renewAt = 0;
  private expiresAt = 0;
  private inflight: Promise<string> | undefined;
  /** Tokens fetched so far. */
  fetches = 0;

  constructor(
    private readonly fetcher: JwtFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** A valid token now if one is cached (starting a background renewal past half-life), else undefined. */
  peek(): string | undefined {
    const t = this.now();
    if (this.token === undefined || t >= this.expiresAt) return undefined;
    if (t >= this.renewAt && !this.inflight) this.fetch().catch(() => {});
    return this.token;
  }

  /** A valid token, fetching one when none is cached. Rejects with AGENT_ERR_JWT. */
  get(): Promise<string> {
    const cached = this.peek();
    return cached !== undefined ? Promise.resolve(cached) : this.fetch();
  }

  /** Drops the cached token (e.g. after the cloud answered 401). */
  invalidate(): void {
    this.token = undefined;
  }

  private fetch(): Promise<string> {
    if (this.inflight) return this.inflight;
    const started = this.now();
    const p = this.fetcher().then(
      (token) => {
        this.inflight = undefined;
        this.fetches++;
        const { iat, exp } = jwtTimes(token);
        const issued = iat !== undefined ? iat * 1000 : started;
        const expires = exp !== undefined ? exp * 1000 : started + FALLBACK_LIFETIME_MS;
        this.token = token;
        this.expiresAt = expires;
        this.renewAt = issued + (expires - issued) / 2;
        return token;
      },
      (err: unknown) => {
        this.inflight = undefined;
        throw err instanceof C8yTunnelError ? err : new AgentError('AGENT_ERR_JWT', `could not obtain a JWT: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      },
    );
    this.inflight = p;
    return p;
  }
}
