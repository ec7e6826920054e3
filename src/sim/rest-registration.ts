/**
 * Device registration over REST: `/devicecontrol/newDeviceRequests[/{id}]` for the operator and
 * `POST /devicecontrol/deviceCredentials` for a device logged in as the bootstrap user (see
 * registration.ts for the flow).
 */
import { extrasOf } from './extras.js';
import type { Route } from './http-util.js';
import { HttpError, sendError } from './http-util.js';
import { sendPage } from './paging.js';
import type { RestContext } from './rest.js';
import type { NewDeviceRequest } from './registration.js';

/** The registration routes (listed before the device control module, whose credential route they replace). */
export function registrationRoutes(ctx: RestContext): Route[] {
  const REQS = /^\/devicecontrol\/newDeviceRequests\/?$/;
  const REQ = /^\/devicecontrol\/newDeviceRequests\/([^/]+)\/?$/;
  const json = (origin: string, r: NewDeviceRequest): Record<string, unknown> => ({
    id: r.id,
    status: r.status,
    creationTime: r.creationTime,
    owner: r.owner,
    self: `${origin}/devicecontrol/newDeviceRequests/${encodeURIComponent(r.id)}`,
  });
  return [
    {
      method: 'GET',
      path: REQS,
      api: 'devicecontrol',
      type: 'newDeviceRequestCollection',
      handle(r) {
        ctx.admin(r.principal);
        sendPage(r, 'newDeviceRequests', extrasOf(ctx).registration.list().map((x) => json(r.url.origin, x)), 'newDeviceRequestCollection');
      },
    },
    {
      method: 'POST',
      path: REQS,
      api: 'devicecontrol',
      type: 'newDeviceRequest',
      async handle(r) {
        ctx.admin(r.principal);
        const created = extrasOf(ctx).registration.create((await r.body()).id, r.principal.user);
        const body = json(r.url.origin, created);
        r.json(201, body, { headers: { Location: body.self as string } });
      },
    },
    {
      method: 'GET',
      path: REQ,
      api: 'devicecontrol',
      type: 'newDeviceRequest',
      handle(r) {
        ctx.admin(r.principal);
        const req = extrasOf(ctx).registration.get(r.params[0]!);
        if (!req) throw new HttpError(404, `New device request ${r.params[0]!.slice(0, 64)} not found`);
        r.json(200, json(r.url.origin, req));
      },
    },
    {
      method: 'PUT',
      path: REQ,
      api: 'devicecontrol',
      type: 'newDeviceRequest',
      async handle(r) {
        ctx.admin(r.principal);
        r.json(200, json(r.url.origin, extrasOf(ctx).registration.update(r.params[0]!, (await r.body()).status)));
      },
    },
    {
      method: 'DELETE',
      path: REQ,
      api: 'devicecontrol',
      handle(r) {
        ctx.admin(r.principal);
        if (!extrasOf(ctx).registration.delete(r.params[0]!)) throw new HttpError(404, `New device request ${r.params[0]!.slice(0, 64)} not found`);
        r.json(204, undefined);
      },
    },
    {
      // Only the bootstrap user may ask (Cumulocity: ROLE_DEVICE_BOOTSTRAP); any other caller gets 403, no credentials 401.
      method: 'POST',
      path: /^\/devicecontrol\/deviceCredentials\/?$/,
      api: 'devicecontrol',
      type: 'deviceCredentials',
      public: true,
      async handle(r) {
        const reg = extrasOf(ctx).registration;
        if (!reg.isBootstrapHeader(r.req.headers.authorization)) {
          if (r.principal) throw new HttpError(403, 'Access is denied: only the bootstrap user may request device credentials');
          return sendError(r.res, 401, 'Invalid credentials!', 'security/Unauthorized', 'devicecontrol');
        }
        const id = (await r.body()).id;
        if (typeof id !== 'string' || id === '') throw new HttpError(422, 'id is required');
        const creds = reg.poll(id);
        if (!creds) throw new HttpError(404, `No accepted new device request for ${id.slice(0, 64)}`);
        r.json(201, { ...creds, self: `${r.url.origin}/devicecontrol/deviceCredentials/${encodeURIComponent(id)}` });
      },
    },
  ];
}
