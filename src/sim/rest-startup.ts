/**
 * What a Web SDK app and the Remote access UI call besides the core APIs: the OAuth token login
 * (`POST /tenant/oauth/token`), `GET /application/applicationsByUser/{user}`,
 * `GET /tenant/system/options/system/version`, the CRA service's `POST /keypair/generate`, and the
 * long-polling transport of `/notification/realtime`.
 */
import { generateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { extrasOf } from './extras.js';
import type { Route } from './http-util.js';
import { CLOUD_HEADERS, HttpError, requireRole, sendError } from './http-util.js';
import { sendPage } from './paging.js';
import { REALTIME_MAX_BODY, REALTIME_PATH } from './bayeux.js';
import type { RestContext } from './rest.js';

/** The platform version the emulator reports (that of the `@c8y/client` it is tested with). */
export const SIM_PLATFORM_VERSION = '1023.77.1';

const genRsa = promisify((cb: (err: Error | null, keys: { publicKey: KeyObject; privateKey: KeyObject }) => void) => generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => cb(err, { publicKey, privateKey })));

/** An SSH wire string or mpint (RFC 4251 section 5). */
function sshField(b: Buffer, mpint = false): Buffer {
  const v = mpint && b.length > 0 && (b[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), b]) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(v.length);
  return Buffer.concat([len, v]);
}

/**
 * A fresh RSA key pair as the CRA service's SSH dialog takes it: `publicKey` in OpenSSH
 * `authorized_keys` form (`ssh-rsa AAAA... <comment>`), `privateKey` as PKCS#1 PEM. Node has no
 * OpenSSH public key encoder, so the blob (RFC 4253 section 6.6) is built here.
 */
export async function sshKeyPair(comment: string): Promise<{ publicKey: string; privateKey: string }> {
  const { publicKey, privateKey } = await genRsa();
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const blob = Buffer.concat([sshField(Buffer.from('ssh-rsa')), sshField(Buffer.from(jwk.e, 'base64url'), true), sshField(Buffer.from(jwk.n, 'base64url'), true)]);
  return { publicKey: `ssh-rsa ${blob.toString('base64')}${comment ? ' ' + comment : ''}`, privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }) as string };
}

/** The start-up, OAuth token, key pair and real-time routes. */
export function startupRoutes(ctx: RestContext): Route[] {
  const { auth } = ctx;
  const app = (origin: string, id: string, name: string, key: string, contextPath: string, type: 'HOSTED' | 'MICROSERVICE'): Record<string, unknown> => ({
    id,
    name,
    key,
    contextPath,
    type,
    availability: 'MARKET',
    owner: { tenant: { id: 'management' }, self: `${origin}/tenant/tenants/management` },
    manifest: type === 'MICROSERVICE' ? { isolation: 'MULTI_TENANT', contextPath } : {},
    self: `${origin}/application/applications/${id}`,
  });
  return [
    {
      // The SDK's Client.authenticateViaOAuthInternal: form `grant_type=PASSWORD&username&password`, optional `?tenant_id=`.
      method: 'POST',
      path: /^\/tenant\/oauth\/token\/?$/,
      api: 'tenant',
      public: true,
      async handle(r) {
        const form = new URLSearchParams((await r.rawBody()).toString('utf8'));
        const grant = form.get('grant_type');
        if (grant !== null && grant.toUpperCase() !== 'PASSWORD') throw new HttpError(400, 'grant_type must be PASSWORD');
        const tenant = r.url.searchParams.get('tenant_id');
        const p = tenant !== null && tenant !== auth.tenant ? undefined : auth.checkPassword(form.get('username') ?? '', form.get('password') ?? '');
        if (!p) return sendError(r.res, 401, 'Invalid credentials!', 'security/Unauthorized', 'tenant');
        r.json(200, { access_token: auth.jwt.issue(p.user).token });
      },
    },
    {
      method: 'GET',
      path: /^\/application\/applicationsByUser\/([^/]+)\/?$/,
      api: 'application',
      type: 'applicationCollection',
      handle(r) {
        const user = r.params[0]!;
        if (user !== r.principal.user && r.principal.kind !== 'user') throw new HttpError(403, 'Access is denied');
        if (user !== r.principal.user && !auth.principalFor(user)) throw new HttpError(404, `User ${user.slice(0, 64)} not found`);
        const o = r.url.origin;
        sendPage(
          r,
          'applications',
          [
            app(o, '1', 'administration', 'administration-application-key', 'administration', 'HOSTED'),
            app(o, '2', 'cockpit', 'cockpit-application-key', 'cockpit', 'HOSTED'),
            app(o, '3', 'devicemanagement', 'devicemanagement-application-key', 'devicemanagement', 'HOSTED'),
            app(o, '4', 'cloud-remote-access', 'cloud-remote-access-key', 'remoteaccess', 'MICROSERVICE'),
          ],
          'applicationCollection',
        );
      },
    },
    {
      method: 'GET',
      path: /^\/tenant\/system\/options\/system\/version\/?$/,
      api: 'tenant',
      type: 'option',
      handle: (r) => r.json(200, { category: 'system', key: 'version', value: SIM_PLATFORM_VERSION, self: `${r.url.origin}/tenant/system/options/system/version` }),
    },
    {
      method: 'POST',
      path: /^\/service\/remoteaccess\/keypair\/generate\/?$/,
      api: 'remoteaccess',
      async handle(r) {
        requireRole(r);
        const b = await r.body();
        const hostname = typeof b.hostname === 'string' ? b.hostname.replace(/[^A-Za-z0-9.\-_:@]/g, '').slice(0, 253) : '';
        r.json(200, await sshKeyPair(hostname));
      },
    },
    {
      // Bayeux over long-polling; the session is authenticated at its handshake (see realtime.ts).
      method: 'POST',
      path: REALTIME_PATH,
      api: 'notification',
      public: true,
      async handle(r) {
        const body = await r.rawBody();
        if (body.length > REALTIME_MAX_BODY) throw new HttpError(413, 'Request body too large');
        extrasOf(ctx).realtime.handleHttp(
          r.req,
          body,
          (status, msgs) => {
            if (r.res.writableEnded || r.res.destroyed) return;
            if (!Array.isArray(msgs)) return sendError(r.res, status, msgs.error, undefined, 'notification');
            const text = JSON.stringify(msgs);
            r.res.statusCode = status;
            for (const [k, v] of CLOUD_HEADERS) r.res.setHeader(k, v);
            r.res.setHeader('Content-Type', 'application/json;charset=UTF-8');
            r.res.setHeader('Content-Length', Buffer.byteLength(text));
            r.res.end(text);
          },
          (fn) => r.res.on('close', fn),
        );
      },
    },
  ];
}
