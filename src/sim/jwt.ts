/** HS256 JWTs signed with a per-emulator random secret (node:crypto only). */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

/** The claims the emulator puts in a token (a subset of Cumulocity's). */
export interface JwtClaims {
  iss: string;
  sub: string;
  ten: string;
  iat: number;
  exp: number;
  jti: string;
  xsrfToken: string;
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/** Signs and verifies the emulator's tokens. */
export class JwtIssuer {
  readonly #secret = randomBytes(32);

  constructor(
    private readonly tenant: string,
    public lifetimeSec: number,
  ) {}

  /** A token for `sub` (a user name, `device_<serial>` for devices). */
  issue(sub: string, now = Date.now()): { token: string; claims: JwtClaims } {
    const iat = Math.floor(now / 1000);
    const claims: JwtClaims = { iss: 'c8y-tunnel-sim', sub, ten: this.tenant, iat, exp: iat + this.lifetimeSec, jti: randomUUID(), xsrfToken: randomUUID() };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const sig = createHmac('sha256', this.#secret).update(`${HEADER}.${body}`).digest('base64url');
    return { token: `${HEADER}.${body}.${sig}`, claims };
  }

  /** The claims of a valid, unexpired token of this tenant, or undefined. */
  verify(token: string, now = Date.now()): JwtClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const [h, b, s] = parts as [string, string, string];
    const want = createHmac('sha256', this.#secret).update(`${h}.${b}`).digest();
    const got = Buffer.from(s, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    let claims: JwtClaims;
    try {
      claims = JSON.parse(Buffer.from(b, 'base64url').toString('utf8')) as JwtClaims;
    } catch {
      return undefined;
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now || claims.ten !== this.tenant) return undefined;
    return claims;
  }
}

/** True when the string looks like a JWT (three base64url parts). */
export function looksLikeJwt(s: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(s);
}
