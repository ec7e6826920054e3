/**
 * The REST subset of Cumulocity the agent, the client and the tests use (docs/sim.md lists it).
 * Admin users may do everything; device users (`device_<serial>`) may register themselves and read
 * and update their own managed object and operations (and those of their children).
 *
 * Routing is a table: each `src/sim/rest-*.ts` module exports a `RouteModule` (a function of the
 * shared `RestContext` returning its routes), and `ROUTE_MODULES` below lists them. To add an API,
 * write a module and add it to that list.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator, Principal } from './auth.js';
import type { Delivery } from './delivery.js';
import type { PublicRequest, RestRequest, Route } from './http-util.js';
import { HttpError, mediaType, sendError, sendJson } from './http-util.js';
import { configurationRoutes } from './rest-configurations.js';
import { devicecontrolRoutes } from './rest-devicecontrol.js';
import { inventoryRoutes } from './rest-inventory.js';
import { tenantRoutes } from './rest-tenant.js';
import { inventoryExtraRoutes } from './rest-inventory-extra.js';
import { recordRoutes } from './rest-records.js';
import { registrationRoutes } from './rest-registration.js';
import { startupRoutes } from './rest-startup.js';
import type { ManagedObject, Store } from './store.js';

/** Largest request body read (413 beyond, and the connection is closed). */
export const MAX_BODY = 1024 * 1024;

/** What every route module gets. */
export interface RestContext {
  store: Store;
  auth: Authenticator;
  delivery: Delivery;
  /** Whether the principal may see and change this managed object. */
  owns(p: Principal, moId: string): boolean;
  /** The live managed object, or 404 when it does not exist or the principal may not see it. */
  managedObject(p: Principal, id: string): ManagedObject;
  /** 403 unless the principal is a user (not a device). */
  admin(p: Principal): void;
}

/** A module of routes. */
export type RouteModule = (ctx: RestContext) => Route[];

/** Every REST route module, tried in order (first match wins). */
export const ROUTE_MODULES: RouteModule[] = [tenantRoutes, startupRoutes, inventoryExtraRoutes, registrationRoutes, recordRoutes, inventoryRoutes, devicecontrolRoutes, configurationRoutes];

function safeDecode(x: string): string {
  try {
    return decodeURIComponent(x);
  } catch {
    return x;
  }
}

/** Reads the body up to MAX_BODY; beyond it rejects with 413 and stops reading. */
function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY) return reject(new HttpError(413, `Request body larger than ${MAX_BODY} bytes`));
    const parts: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer): void => {
      n += d.length;
      if (n <= MAX_BODY) return void parts.push(d);
      req.off('data', onData);
      req.pause();
      reject(new HttpError(413, `Request body larger than ${MAX_BODY} bytes`));
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readRaw(req)).toString('utf8');
  if (text.trim() === '') return Object.create(null) as Record<string, unknown>;
  let v: unknown;
  try {
    // A null-prototype copy of every object: a "__proto__" key is then plain data, never a prototype.
    v = JSON.parse(text, (_k, value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.assign(Object.create(null), value) : value));
  } catch {
    throw new HttpError(400, 'Malformed JSON body');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(422, 'Body must be a JSON object');
  return v as Record<string, unknown>;
}

/** The REST API of one emulator. */
export class Rest {
  readonly #routes: Route[];
  readonly ctx: RestContext;

  constructor(store: Store, auth: Authenticator, delivery: Delivery) {
    const owns = (p: Principal, moId: string): boolean => {
      if (p.kind === 'user') return true;
      const mo = store.mo(moId);
      if (!mo) return false;
      if (mo.owner === p.user) return true;
      const own = store.findExternal('c8y_Serial', p.serial);
      return own !== undefined && store.isSelfOrDescendant(moId, own);
    };
    this.ctx = {
      store,
      auth,
      delivery,
      owns,
      managedObject(p, id) {
        const mo = store.mo(id);
        if (!mo || !owns(p, id)) throw new HttpError(404, `Managed object ${id.slice(0, 32)} not found`);
        return mo;
      },
      admin(p) {
        if (p.kind !== 'user') throw new HttpError(403, 'Access is denied');
      },
    };
    this.#routes = ROUTE_MODULES.flatMap((m) => m(this.ctx));
  }

  /** Whether the principal may see and change this managed object. */
  owns(p: Principal, moId: string): boolean {
    return this.ctx.owns(p, moId);
  }

  /** Handles one request (never throws). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', requestBase(req));
    const method = req.method ?? 'GET';
    res.on('error', () => {});
    req.on('error', () => {});
    let principal: Principal | undefined | null = null;
    const who = (): Principal | undefined => (principal === null ? (principal = this.ctx.auth.fromRequest(req, url)) : principal);
    let pathMatched = false;
    for (const route of this.#routes) {
      const match = route.path.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const p = who();
      if (!route.public && !p) return sendError(res, 401, 'Invalid credentials!', 'security/Unauthorized', route.api);
      return this.#run(route, { method, url, params: match.slice(1).map(safeDecode), principal: p, req, res, body: () => readJson(req), rawBody: () => readRaw(req), json: json(route, res) });
    }
    const api = apiOf(url.pathname);
    if (!who()) return sendError(res, 401, 'Invalid credentials!', 'security/Unauthorized', api);
    sendError(res, pathMatched ? 405 : 404, pathMatched ? `Method ${method} not allowed` : `Not found: ${url.pathname.slice(0, 100)}`, undefined, api);
  }

  #run(route: Route, r: PublicRequest): void {
    Promise.resolve()
      .then(() => (route.public ? route.handle(r) : route.handle(r as RestRequest)))
      .catch((err: unknown) => {
        const { res, req } = r;
        if (res.headersSent) return void res.destroy();
        const status = err instanceof HttpError ? err.status : 500;
        if (status === 413) {
          // Stop reading an oversized body: the connection closes once the answer is out.
          res.setHeader('Connection', 'close');
          res.on('finish', () => req.socket.destroy());
        }
        sendError(res, status, err instanceof HttpError ? err.message : 'Internal error', undefined, route.api);
      });
  }
}

/** The API a path belongs to, for the error body of a path no route knows (`/inventory/x` is `inventory`). */
function apiOf(pathname: string): string {
  const first = /^\/([A-Za-z]+)/.exec(pathname)?.[1] ?? '';
  return ['inventory', 'identity', 'devicecontrol', 'user', 'tenant', 'alarm', 'event', 'measurement', 'application', 'notification'].includes(first) ? first : 'remoteaccess';
}

/** The base a request's URL is resolved against: its own Host (so `domainName` and links name it). */
function requestBase(req: IncomingMessage): string {
  const host = req.headers.host;
  return host && /^[A-Za-z0-9.\-:[\]]{1,300}$/.test(host) ? `http://${host}` : 'http://localhost';
}

function json(route: Route, res: ServerResponse): PublicRequest['json'] {
  return (status, body, opts = {}) => {
    const type = opts.type ?? route.type;
    sendJson(res, status, body, type ? mediaType(type) : 'application/json', opts.headers);
  };
}
