/**
 * Inventory and identity endpoints beyond the core set: `GET /inventory/managedObjects/count`,
 * the `childDevices` references of a managed object, and `DELETE /identity/externalIds/{type}/{id}`.
 * Listed before the core inventory module (whose `/managedObjects/{id}` would match `count`).
 */
import type { Principal } from './auth.js';
import type { Route } from './http-util.js';
import { HttpError } from './http-util.js';
import { sendPage } from './paging.js';
import { listManagedObjects } from './rest-inventory.js';
import type { RestContext } from './rest.js';
import type { ManagedObject } from './store.js';

/** The extra inventory and identity routes. */
export function inventoryExtraRoutes(ctx: RestContext): Route[] {
  const s = ctx.store;
  const CHILDREN = /^\/inventory\/managedObjects\/([^/]+)\/childDevices\/?$/;
  const CHILD = /^\/inventory\/managedObjects\/([^/]+)\/childDevices\/([^/]+)\/?$/;
  const ref = (origin: string, parentId: string, child: ManagedObject): Record<string, unknown> => ({
    managedObject: { id: child.id, name: child.name, self: `${origin}/inventory/managedObjects/${child.id}` },
    self: `${origin}/inventory/managedObjects/${parentId}/childDevices/${child.id}`,
  });
  const childrenOf = (parentId: string): ManagedObject[] => {
    const refs = ((s.mo(parentId)?.childDevices as { references?: Array<{ managedObject: { id: string } }> } | undefined)?.references ?? []);
    return refs.map((x) => s.mo(x.managedObject.id)).filter((mo): mo is ManagedObject => mo !== undefined);
  };
  /** Links an existing object; a device may link only objects it already owns (no adopting another device). */
  const link = (p: Principal, parentId: string, childId: unknown): ManagedObject => {
    if (typeof childId !== 'string' || childId === '') throw new HttpError(422, 'managedObject.id is required');
    const child = s.mo(childId);
    if (!child || !ctx.owns(p, childId)) throw new HttpError(404, `Managed object ${childId.slice(0, 32)} not found`);
    if (s.isSelfOrDescendant(parentId, childId)) throw new HttpError(422, 'A managed object cannot be its own child or ancestor');
    const current = s.parentOf(childId);
    if (current !== undefined && current !== parentId) throw new HttpError(409, `Managed object ${childId.slice(0, 32)} is already a child device of ${current}`);
    s.addChild(parentId, childId);
    return child;
  };
  return [
    {
      // How many the list would hold, with the same filters.
      method: 'GET',
      path: /^\/inventory\/managedObjects\/count\/?$/,
      api: 'inventory',
      handle: (r) => r.json(200, listManagedObjects(ctx, r.url.searchParams).filter((mo) => ctx.owns(r.principal, mo.id)).length),
    },
    {
      method: 'GET',
      path: CHILDREN,
      api: 'inventory',
      type: 'managedObjectReferenceCollection',
      handle(r) {
        const parentId = ctx.managedObject(r.principal, r.params[0]!).id;
        const kids = childrenOf(parentId).filter((c) => ctx.owns(r.principal, c.id));
        sendPage(r, 'references', kids.map((c) => ref(r.url.origin, parentId, c)), 'managedObjectReferenceCollection');
      },
    },
    {
      // Three bodies, as the SDK sends them: a reference `{managedObject: {id}}`, a collection
      // `{references: [...]}` (bulk), or a new managed object (created as a child).
      method: 'POST',
      path: CHILDREN,
      api: 'inventory',
      type: 'managedObjectReference',
      async handle(r) {
        const parentId = ctx.managedObject(r.principal, r.params[0]!).id;
        const b = await r.body();
        const o = r.url.origin;
        if (Array.isArray(b.references)) {
          if (b.references.length > 1000) throw new HttpError(422, 'At most 1000 references at once');
          const ids = b.references.map((x: unknown) => (x as { managedObject?: { id?: unknown } } | null)?.managedObject?.id);
          const kids = ids.map((id) => link(r.principal, parentId, id));
          return r.json(201, { references: kids.map((c) => ref(o, parentId, c)), self: `${o}/inventory/managedObjects/${parentId}/childDevices` }, { type: 'managedObjectReferenceCollection' });
        }
        const refMo = b.managedObject as { id?: unknown } | undefined;
        if (refMo !== null && typeof refMo === 'object' && Object.keys(b).length === 1) {
          const child = link(r.principal, parentId, refMo.id);
          const body = ref(o, parentId, child);
          return r.json(201, body, { headers: { Location: body.self as string } });
        }
        if (Object.hasOwn(b, '__proto__')) throw new HttpError(422, 'Fragment name __proto__ is not allowed');
        delete b.id;
        const child = s.createManagedObject(b, r.principal.user);
        s.addChild(parentId, child.id);
        r.json(201, child, { type: 'managedObject', headers: { Location: `${o}/inventory/managedObjects/${child.id}` } });
      },
    },
    {
      method: 'GET',
      path: CHILD,
      api: 'inventory',
      type: 'managedObjectReference',
      handle(r) {
        const [parentId, childId] = r.params as [string, string];
        ctx.managedObject(r.principal, parentId);
        const child = childrenOf(parentId).find((c) => c.id === childId);
        if (!child || !ctx.owns(r.principal, childId)) throw new HttpError(404, `Managed object ${childId.slice(0, 32)} is not a child device of ${parentId.slice(0, 32)}`);
        r.json(200, ref(r.url.origin, parentId, child));
      },
    },
    {
      method: 'DELETE',
      path: CHILD,
      api: 'inventory',
      handle(r) {
        const [parentId, childId] = r.params as [string, string];
        ctx.managedObject(r.principal, parentId);
        if (!s.removeChild(parentId, childId)) throw new HttpError(404, `Managed object ${childId.slice(0, 32)} is not a child device of ${parentId.slice(0, 32)}`);
        r.json(204, undefined);
      },
    },
    {
      method: 'DELETE',
      path: /^\/identity\/externalIds\/([^/]+)\/([^/]+)\/?$/,
      api: 'identity',
      handle(r) {
        const [type, ext] = r.params as [string, string];
        const id = s.findExternal(type, ext);
        if (id === undefined || !ctx.owns(r.principal, id)) throw new HttpError(404, `External id ${type.slice(0, 64)}/${ext.slice(0, 64)} not found`);
        s.removeExternalId(type, ext);
        r.json(204, undefined);
      },
    },
  ];
}
