/** Inventory (`/inventory/managedObjects`) and identity (`/identity/...`) endpoints. */
import type { Route } from './http-util.js';
import { HttpError } from './http-util.js';
import { sendPage } from './paging.js';
import type { RestContext } from './rest.js';

/** A managed object body; `__proto__` is refused (assigned, it would swap the object's prototype). */
function fragments(b: Record<string, unknown>): Record<string, unknown> {
  if (Object.hasOwn(b, '__proto__')) throw new HttpError(422, 'Fragment name __proto__ is not allowed');
  return b;
}

/** The inventory and identity routes. */
export function inventoryRoutes(ctx: RestContext): Route[] {
  const s = ctx.store;
  const extJson = (origin: string, type: string, externalId: string, moId: string): Record<string, unknown> => ({
    externalId,
    type,
    self: `${origin}/identity/externalIds/${encodeURIComponent(type)}/${encodeURIComponent(externalId)}`,
    managedObject: { id: moId, self: `${origin}/inventory/managedObjects/${moId}` },
  });
  const MOS = /^\/inventory\/managedObjects\/?$/;
  const MO = /^\/inventory\/managedObjects\/([^/]+)\/?$/;
  const EXT_OF = /^\/identity\/globalIds\/([^/]+)\/externalIds\/?$/;
  return [
    {
      method: 'GET',
      path: /^\/identity\/externalIds\/([^/]+)\/([^/]+)\/?$/,
      api: 'identity',
      type: 'externalId',
      handle(r) {
        const [type, ext] = r.params as [string, string];
        const id = s.findExternal(type, ext);
        if (id === undefined || !ctx.owns(r.principal, id)) throw new HttpError(404, `External id ${type.slice(0, 64)}/${ext.slice(0, 64)} not found`);
        r.json(200, extJson(r.url.origin, type, ext, id));
      },
    },
    {
      method: 'GET',
      path: EXT_OF,
      api: 'identity',
      type: 'externalIdCollection',
      handle(r) {
        const id = r.params[0]!;
        ctx.managedObject(r.principal, id);
        sendPage(r, 'externalIds', s.externalIdsOf(id).map((e) => extJson(r.url.origin, e.type, e.externalId, id)), 'externalIdCollection');
      },
    },
    {
      method: 'POST',
      path: EXT_OF,
      api: 'identity',
      type: 'externalId',
      async handle(r) {
        const id = r.params[0]!;
        ctx.managedObject(r.principal, id);
        const b = await r.body();
        if (typeof b.externalId !== 'string' || b.externalId === '' || typeof b.type !== 'string' || b.type === '') throw new HttpError(422, 'externalId and type are required strings');
        if (r.principal.kind === 'device' && b.type === 'c8y_Serial' && b.externalId !== r.principal.serial) throw new HttpError(403, 'A device may only register its own serial');
        if (!s.addExternalId(id, b.type, b.externalId)) throw new HttpError(409, `External id ${b.type.slice(0, 64)}/${b.externalId.slice(0, 64)} already exists`);
        const body = extJson(r.url.origin, b.type, b.externalId, id);
        r.json(201, body, { headers: { Location: body.self as string } });
      },
    },
    {
      method: 'GET',
      path: MOS,
      api: 'inventory',
      type: 'managedObjectCollection',
      handle(r) {
        const type = r.url.searchParams.get('type');
        const frag = r.url.searchParams.get('fragmentType');
        const items = s.managedObjects().filter((mo) => ctx.owns(r.principal, mo.id) && (!type || mo.type === type) && (!frag || Object.hasOwn(mo, frag)));
        sendPage(r, 'managedObjects', items, 'managedObjectCollection');
      },
    },
    {
      method: 'POST',
      path: MOS,
      api: 'inventory',
      type: 'managedObject',
      async handle(r) {
        const b = fragments(await r.body());
        delete b.id;
        const mo = s.createManagedObject(b, r.principal.user);
        r.json(201, mo, { headers: { Location: `${r.url.origin}/inventory/managedObjects/${mo.id}` } });
      },
    },
    { method: 'GET', path: MO, api: 'inventory', type: 'managedObject', handle: (r) => r.json(200, ctx.managedObject(r.principal, r.params[0]!)) },
    {
      method: 'PUT',
      path: MO,
      api: 'inventory',
      type: 'managedObject',
      async handle(r) {
        ctx.managedObject(r.principal, r.params[0]!);
        r.json(200, s.updateManagedObject(r.params[0]!, fragments(await r.body())));
      },
    },
    {
      method: 'DELETE',
      path: MO,
      api: 'inventory',
      handle(r) {
        ctx.admin(r.principal);
        if (!s.deleteManagedObject(r.params[0]!)) throw new HttpError(404, `Managed object ${r.params[0]!.slice(0, 32)} not found`);
        r.json(204, undefined);
      },
    },
  ];
}
