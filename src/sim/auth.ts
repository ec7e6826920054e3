/**
 * Who is calling: Basic `<tenant>/<user>:<password>`, Bearer JWT, the OAI-Secure cookie plus its XSRF
 * token (the `X-XSRF-TOKEN` header, or `?XSRF-TOKEN=` where a browser cannot set headers: WebSockets),
 * or `?token=` (base64 Basic credentials or a JWT). Devices are the users `device_<serial>` with the
 * emulator's device password (its stand-in for device bootstrap).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { JwtIssuer } from './jwt.js';
import { looksLikeJwt } from './jwt.js';

/** The remote access role Cumulocity checks. */
export const ROLE_REMOTE_ACCESS = 'ROLE_REMOTE_ACCESS_ADMIN';
/** Roles the admin user has. */
export const ADMIN_ROLES = [ROLE_REMOTE_ACCESS, 'ROLE_INVENTORY_ADMIN', 'ROLE_DEVICE_CONTROL_ADMIN', 'ROLE_IDENTITY_ADMIN', 'ROLE_USER_MANAGEMENT_OWN_READ'];
/** Roles every device user has. */
export const DEVICE_ROLES = ['ROLE_DEVICE'];

/** The challenge a 401 carries. */
export const BASIC_CHALLENGE = 'Basic realm="Cumulocity"';
/** The challenge a 401 carries when the request said `UseXBasic: true` (docs/sim.md, guesses). */
export const XBASIC_CHALLENGE = 'XBasic realm="Cumulocity"';

/**
 * The `WWW-Authenticate` value of a 401 to this request. The Web SDK's FetchClient sends `UseXBasic: true`
 * on every request so that a failed login never reaches the browser as a `Basic` challenge (which opens
 * the browser's own password dialog, and hangs a headless page's fetch); such a request gets a scheme no
 * browser knows.
 */
export function challengeFor(headers: IncomingHttpHeaders | undefined): string {
  const v = headers?.usexbasic;
  return typeof v === 'string' && v.trim().toLowerCase() === 'true' ? XBASIC_CHALLENGE : BASIC_CHALLENGE;
}

/** Logged-out tokens remembered until they expire (a bound no emulator session comes near). */
const MAX_REVOKED = 100_000;

/** An authenticated caller. */
export type Principal =
  | { kind: 'user'; user: string; roles: string[] }
  | { kind: 'device'; user: string; serial: string; roles: string[] };

/** The credential book of one emulator. */
export class Authenticator {
  readonly users = new Map<string, { password: string; roles: string[] }>();
  /** jti -> exp (s) of tokens ended by `POST /user/logout`. */
  readonly #revoked = new Map<string, number>();
  /** Passwords issued by device registration (`device_<id>` -> password); such a device no longer accepts the shared one. */
  readonly devicePasswords = new Map<string, string>();

  constructor(
    readonly tenant: string,
    readonly devicePassword: string,
    readonly jwt: JwtIssuer,
  ) {}

  /** Checks `<tenant>/<user>` (or a bare `<user>`) and a password. */
  checkPassword(username: string, password: string): Principal | undefined {
    const slash = username.indexOf('/');
    if (slash >= 0 && username.slice(0, slash) !== this.tenant) return undefined;
    const user = slash >= 0 ? username.slice(slash + 1) : username;
    return this.principalFor(user, password);
  }

  /** The principal for a user name, checking the password when one is given. */
  principalFor(user: string, password?: string): Principal | undefined {
    if (user.startsWith('device_') && user.length > 7) {
      if (password !== undefined && password !== (this.devicePasswords.get(user) ?? this.devicePassword)) return undefined;
      return { kind: 'device', user, serial: user.slice(7), roles: DEVICE_ROLES };
    }
    const u = this.users.get(user);
    if (!u || (password !== undefined && password !== u.password)) return undefined;
    return { kind: 'user', user, roles: u.roles };
  }

  /** Parses an Authorization header value. */
  fromHeader(value: string | undefined): Principal | undefined {
    if (!value) return undefined;
    const sp = value.indexOf(' ');
    if (sp < 0) return undefined;
    const scheme = value.slice(0, sp).toLowerCase();
    const cred = value.slice(sp + 1).trim();
    if (scheme === 'basic') return this.fromBasic(cred);
    if (scheme === 'bearer') return this.fromToken(cred);
    return undefined;
  }

  /** base64(`user:password`). */
  fromBasic(b64: string): Principal | undefined {
    const text = Buffer.from(b64, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    return this.checkPassword(text.slice(0, colon), text.slice(colon + 1));
  }

  /** A JWT this emulator issued and that has not expired. */
  fromToken(token: string): Principal | undefined {
    const claims = this.#verify(token);
    return claims ? this.principalFor(claims.sub) : undefined;
  }

  /** The claims of a valid token that was not logged out. */
  #verify(token: string): ReturnType<JwtIssuer['verify']> {
    const claims = this.jwt.verify(token);
    return claims && !this.#revoked.has(claims.jti) ? claims : undefined;
  }

  /** Ends a token (logout): it is refused from now on. Unknown or invalid tokens are ignored. */
  revoke(token: string): void {
    const claims = this.jwt.verify(token);
    if (!claims) return;
    const now = Date.now() / 1000;
    if (this.#revoked.size >= MAX_REVOKED) {
      for (const [jti, exp] of this.#revoked) if (exp <= now) this.#revoked.delete(jti);
      // Still full: the oldest revocation goes first (tokens live jwtLifetimeSec, one hour by default).
      if (this.#revoked.size >= MAX_REVOKED) this.#revoked.delete(this.#revoked.keys().next().value!);
    }
    this.#revoked.set(claims.jti, claims.exp);
  }

  /**
   * Every form a request may carry: Authorization header, `authorization` cookie with a matching
   * XSRF token (`X-XSRF-TOKEN` header, else `?XSRF-TOKEN=`, what the web UI puts on its WebSocket URL),
   * or `?token=`.
   */
  fromRequest(req: IncomingMessage, url: URL): Principal | undefined {
    if (req.headers.authorization) return this.fromHeader(req.headers.authorization);
    const cookies = parseCookies(req.headers.cookie);
    const cookieToken = cookies.get('authorization');
    if (cookieToken) {
      const xsrf = req.headers['x-xsrf-token'] ?? url.searchParams.get('XSRF-TOKEN') ?? undefined;
      const claims = this.#verify(cookieToken);
      if (!claims || typeof xsrf !== 'string' || (xsrf !== claims.xsrfToken && xsrf !== cookies.get('XSRF-TOKEN'))) return undefined;
      return this.principalFor(claims.sub);
    }
    const q = url.searchParams.get('token');
    if (q) return looksLikeJwt(q) ? this.fromToken(q) : this.fromBasic(q);
    return undefined;
  }
}

/** `a=b; c=d` into a map (values URI-decoded when possible). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    let v = part.slice(eq + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch {
      // keep it raw
    }
    out.set(k, v);
  }
  return out;
}

/** `Basic base64(user:password)`. */
export function basicHeader(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}
