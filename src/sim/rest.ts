/**
 * The REST subset of Cumulocity the agent, the client and the tests use (docs/sim.md lists it).
 * Admin users may do everything; device users (`device_<serial>`) may register themselves and read
 * and update their own managed object and operations (and those of their children).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator, Principal } from './auth.js';
import type { Delivery } from './delivery.js';
import type { RestRequest, Route } from './http-util.js';
import { HttpError, sendError, sendJson } from './http-util.js';
import { configurationRoutes } from './rest-configurations.js';
import type { Store } from './store.js';
import { isStatus } from './store.js';

const MAX_BODY = 1024 * 1024;

function safeDecode(x: string): string {
  try {
    return decodeURIComponent(x);
  } catch {
    return x;
  }
}

function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
      if (n > MAX_BODY) reject(new HttpError(413, 'Request body too large'));
      else parts.push(d);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(parts).toString('utf8');
      if (text.trim() === '') return resolve({});
      try {
        const v: unknown = JSON.parse(text);
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return reject(new HttpError(422, 'Body must be a JSON object'));
        resolve(v as Record<string, unknown>);
      } catch {
        reject(new HttpError(400, 'Malformed JSON body'));
      }
    });
  });
}

/** The REST API of one emulator. */
export class Rest {
  readonly #routes: Route[];

  constructor(
    private readonly store: Store,
    private readonly auth: Authenticator,
    private readonly delivery: Delivery,
  ) {
    this.#routes = [...this.#coreRoutes(), ...configurationRoutes(store)];
  }

  /** Handles one request (never throws). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    res.on('error', () => {});
    req.on('error', () => {});
    if (url.pathname === '/service/remoteaccess/health' && (method === 'HEAD' || method === 'GET')) return sendJson(res, 200, method === 'GET' ? { status: 'UP' } : undefined);
    if (url.pathname === '/tenant/loginOptions' && method === 'GET') return sendJson(res, 200, { loginOptions: [{ type: 'BASIC' }, { type: 'OAUTH2_INTERNAL' }] });
    if (url.pathname === '/tenant/oauth' && method === 'POST') return void this.#login(req, res);
    const principal = this.auth.fromRequest(req, url);
    if (!principal) return sendError(res, 401, 'Invalid credentials!', 'security/Unauthorized');
    let pathMatched = false;
    for (const [m, pattern, handler] of this.#routes) {
      const match = pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (m !== method) continue;
      const r: RestRequest = { method, url, params: match.slice(1).map(safeDecode), principal, body: () => readBody(req), res };
      Promise.resolve()
        .then(() => handler(r))
        .catch((err: unknown) => {
          if (res.headersSent) {
            res.destroy();
            return;
          }
          if (err instanceof HttpError) sendError(res, err.status, err.message);
          else sendError(res, 500, 'Internal error');
        });
      return;
    }
    sendError(res, pathMatched ? 405 : 404, pathMatched ? `Method ${method} not allowed` : `Not found: ${url.pathname.slice(0, 100)}`);
  }

  /** OAI-Secure login: form body with username and password; sets the `authorization` and XSRF cookies. */
  async #login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const d of req) {
      parts.push(d as Buffer);
      if (parts.length > 64) return sendError(res, 413, 'Request body too large');
    }
    const form = new URLSearchParams(Buffer.concat(parts).toString('utf8'));
    const user = form.get('username') ?? '';
    const p = this.auth.checkPassword(user, form.get('password') ?? '');
    if (!p) return sendError(res, 401, 'Invalid credentials!', 'security/Unauthorized');
    const { token, claims } = this.auth.jwt.issue(p.user);
    res.setHeader('Set-Cookie', [`authorization=${token}; Path=/; HttpOnly`, `XSRF-TOKEN=${claims.xsrfToken}; Path=/`]);
    sendJson(res, 200, {});
  }

  /** Whether the principal may see and change this managed object. */
  owns(p: Principal, moId: string): boolean {
    if (p.kind === 'user') return true;
    const mo = this.store.mo(moId);
    if (!mo) return false;
    if (mo.owner === p.user) return true;
    const own = this.store.findExternal('c8y_Serial', p.serial);
    return own !== undefined && this.store.isSelfOrDescendant(moId, own);
  }

  #mo(p: Principal, id: string): Record<string, unknown> {
    const mo = this.store.mo(id);
    if (!mo || !this.owns(p, id)) throw new HttpError(404, `Managed object ${id.slice(0, 32)} not found`);
    return mo;
  }

  #coreRoutes(): Route[] {
    const s = this.store;
    const admin = (p: Principal): void => {
      if (p.kind !== 'user') throw new HttpError(403, 'Access is denied');
    };
    const extJson = (type: string, externalId: string, moId: string): Record<string, unknown> => ({
      externalId,
      type,
      self: `${s.baseUrl}/identity/externalIds/${encodeURIComponent(type)}/${encodeURIComponent(externalId)}`,
      managedObject: { id: moId, self: `${s.baseUrl}/inventory/managedObjects/${moId}` },
    });
    const page = (r: RestRequest, key: string, items: unknown[]): void => {
      const pageSize = Math.max(1, Math.min(2000, Number(r.url.searchParams.get('pageSize')) || 5));
      const currentPage = Math.max(1, Number(r.url.searchParams.get('currentPage')) || 1);
      const slice = items.slice((currentPage - 1) * pageSize, currentPage * pageSize);
      sendJson(r.res, 200, { [key]: slice, statistics: { pageSize, currentPage, totalPages: Math.ceil(items.length / pageSize) }, self: r.url.pathname });
    };
    return [
      ['GET', /^\/user\/currentUser\/?$/, (r) => {
        const roles = r.principal.roles.map((id) => ({ id, name: id, self: `${s.baseUrl}/user/roles/${id}` }));
        sendJson(r.res, 200, { id: r.principal.user, userName: r.principal.user, self: `${s.baseUrl}/user/currentUser`, effectiveRoles: roles, roles: { references: roles.map((role) => ({ role })) } });
      }],
      ['GET', /^\/tenant\/currentTenant\/?$/, (r) => sendJson(r.res, 200, { name: this.auth.tenant, domainName: r.url.host })],
      ['GET', /^\/identity\/externalIds\/([^/]+)\/([^/]+)\/?$/, (r) => {
        const [type, ext] = r.params as [string, string];
        const id = s.findExternal(type, ext);
        if (id === undefined || !this.owns(r.principal, id)) throw new HttpError(404, `External id ${type}/${ext.slice(0, 64)} not found`);
        sendJson(r.res, 200, extJson(type, ext, id));
      }],
      ['GET', /^\/identity\/globalIds\/([^/]+)\/externalIds\/?$/, (r) => {
        const id = r.params[0]!;
        this.#mo(r.principal, id);
        sendJson(r.res, 200, { externalIds: s.externalIdsOf(id).map((e) => extJson(e.type, e.externalId, id)), self: r.url.pathname });
      }],
      ['POST', /^\/identity\/globalIds\/([^/]+)\/externalIds\/?$/, async (r) => {
        const id = r.params[0]!;
        this.#mo(r.principal, id);
        const b = await r.body();
        if (typeof b.externalId !== 'string' || b.externalId === '' || typeof b.type !== 'string' || b.type === '') throw new HttpError(422, 'externalId and type are required strings');
        if (r.principal.kind === 'device' && b.type === 'c8y_Serial' && b.externalId !== r.principal.serial) throw new HttpError(403, 'A device may only register its own serial');
        if (!s.addExternalId(id, b.type, b.externalId)) throw new HttpError(409, `External id ${b.type}/${b.externalId.slice(0, 64)} already exists`);
        sendJson(r.res, 201, extJson(b.type, b.externalId, id));
      }],
      ['GET', /^\/inventory\/managedObjects\/?$/, (r) => {
        const type = r.url.searchParams.get('type');
        const frag = r.url.searchParams.get('fragmentType');
        const items = s.managedObjects().filter((mo) => this.owns(r.principal, mo.id) && (!type || mo.type === type) && (!frag || frag in mo));
        page(r, 'managedObjects', items);
      }],
      ['POST', /^\/inventory\/managedObjects\/?$/, async (r) => {
        const b = await r.body();
        delete b.id;
        sendJson(r.res, 201, s.createManagedObject(b, r.principal.user));
      }],
      ['GET', /^\/inventory\/managedObjects\/([^/]+)\/?$/, (r) => sendJson(r.res, 200, this.#mo(r.principal, r.params[0]!))],
      ['PUT', /^\/inventory\/managedObjects\/([^/]+)\/?$/, async (r) => {
        this.#mo(r.principal, r.params[0]!);
        sendJson(r.res, 200, s.updateManagedObject(r.params[0]!, await r.body()));
      }],
      ['DELETE', /^\/inventory\/managedObjects\/([^/]+)\/?$/, (r) => {
        admin(r.principal);
        if (!s.deleteManagedObject(r.params[0]!)) throw new HttpError(404, 'Managed object not found');
        sendJson(r.res, 204, undefined);
      }],
      ['GET', /^\/devicecontrol\/operations\/?$/, (r) => {
        const q = r.url.searchParams;
        const filter = { deviceId: q.get('deviceId') ?? undefined, status: q.get('status') ?? undefined, fragmentType: q.get('fragmentType') ?? undefined };
        const ops = s.operations(filter).filter((op) => this.owns(r.principal, op.deviceId));
        page(r, 'operations', q.get('revert') === 'true' ? ops.reverse() : ops);
      }],
      ['POST', /^\/devicecontrol\/operations\/?$/, async (r) => {
        admin(r.principal);
        const b = await r.body();
        const deviceId = typeof b.deviceId === 'string' ? b.deviceId : '';
        if (!s.mo(deviceId)) throw new HttpError(422, 'deviceId must name an existing device');
        const { deviceId: _d, id: _i, status: _s, description, ...fragments } = b;
        const op = s.createOperation(deviceId, fragments, typeof description === 'string' ? description : '');
        this.delivery.deliver(op);
        sendJson(r.res, 201, op);
      }],
      ['GET', /^\/devicecontrol\/operations\/([^/]+)\/?$/, (r) => {
        const op = s.op(r.params[0]!);
        if (!op || !this.owns(r.principal, op.deviceId)) throw new HttpError(404, 'Operation not found');
        sendJson(r.res, 200, op);
      }],
      ['PUT', /^\/devicecontrol\/operations\/([^/]+)\/?$/, async (r) => {
        const op = s.op(r.params[0]!);
        if (!op || !this.owns(r.principal, op.deviceId)) throw new HttpError(404, 'Operation not found');
        const b = await r.body();
        if (b.status !== undefined) {
          if (!isStatus(b.status)) throw new HttpError(422, 'status must be PENDING, EXECUTING, SUCCESSFUL or FAILED');
          const reason = typeof b.failureReason === 'string' ? b.failureReason : undefined;
          const err = s.setStatus(op.id, b.status, reason);
          if (err) throw new HttpError(422, err);
        }
        sendJson(r.res, 200, op);
      }],
      ['POST', /^\/devicecontrol\/deviceCredentials\/?$/, async (r) => {
        admin(r.principal);
        const b = await r.body();
        if (typeof b.id !== 'string' || b.id === '') throw new HttpError(422, 'id is required');
        sendJson(r.res, 201, { id: b.id, tenantId: this.auth.tenant, username: `device_${b.id}`, password: this.auth.devicePassword });
      }],
    ];
  }
}
