/** Inventory (`/inventory/managedObjects`) and identity (`/identity/...`) endpoints. */
import type { Route } from './http-util.js';
import { HttpError } from './http-util.js';
import { sendPage } from './paging.js';
import { parseQuery, wildcard } from './query.js';
import type { RestContext } from './rest.js';
import type { ManagedObject } from './store.js';

/** Documented list parameters the emulator does not evaluate: refused (422) rather than ignored. */
const LIST_NOT_EMULATED = ['childAssetId', 'childAdditionId'];
/** Documented flags that change the answer, refused when true. */
const FLAGS_NOT_EMULATED = ['withParents', 'withGroups', 'withLatestValues', 'withChildrenCount', 'withChildrenAndAdditions'];
const DETAIL_NOT_EMULATED: string[] = [];

/** 422 for a documented parameter the emulator would otherwise silently ignore. */
export function refuseUnemulated(q: URLSearchParams, params: readonly string[], flags: readonly string[] = FLAGS_NOT_EMULATED): void {
  for (const p of params) if (q.has(p)) throw new HttpError(422, `The filter ${p} is not emulated by c8y-tunnel sim`);
  for (const f of flags) if (q.get(f) === 'true') throw new HttpError(422, `${f}=true is not emulated by c8y-tunnel sim`);
}

function boolParam(q: URLSearchParams, name: string, dflt: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (v !== 'true' && v !== 'false') throw new HttpError(422, `${name} must be true or false`);
  return v === 'true';
}

/** Managed objects matching the documented filters of `GET /inventory/managedObjects`, in creation order. */
export function listManagedObjects(ctx: RestContext, q: URLSearchParams): ManagedObject[] {
  const s = ctx.store;
  refuseUnemulated(q, LIST_NOT_EMULATED);
  const type = q.get('type');
  const frag = q.get('fragmentType');
  const owner = q.get('owner');
  const text = q.get('text');
  const textRe = text ? wildcard(text, 'i') : undefined;
  const ids = q.get('ids') === null ? undefined : new Set(q.get('ids')!.split(',').map((x) => x.trim()));
  const childDeviceId = q.get('childDeviceId');
  const onlyRoots = boolParam(q, 'onlyRoots', false);
  const queries = ['query', 'q'].map((k) => q.get(k)).filter((x): x is string => x !== null && x.trim() !== '').map(parseQuery);
  let items = s.managedObjects().filter(
    (mo) =>
      (!type || mo.type === type) &&
      (!frag || Object.hasOwn(mo, frag)) &&
      (!owner || mo.owner === owner) &&
      (!ids || ids.has(mo.id)) &&
      (!childDeviceId || s.parentOf(childDeviceId) === mo.id) &&
      (!onlyRoots || s.parentOf(mo.id) === undefined) &&
      (!textRe || Object.values(mo).some((v) => typeof v === 'string' && textRe.test(v))) &&
      queries.every((qq) => qq.matches(mo)),
  );
  for (const qq of queries) items = qq.sort(items);
  return items;
}

/** `withChildren=false` drops the child references, `skipChildrenNames=true` their names. */
function childrenView(q: URLSearchParams): (mo: ManagedObject) => Record<string, unknown> {
  const withChildren = boolParam(q, 'withChildren', true);
  const skipNames = boolParam(q, 'skipChildrenNames', false);
  if (withChildren && !skipNames) return (mo) => mo;
  return (mo) => {
    const out: Record<string, unknown> = { ...mo };
    for (const k of ['childDevices', 'childAssets', 'childAdditions']) {
      const c = out[k] as { references?: Array<{ managedObject: Record<string, unknown> }> } | undefined;
      if (!c) continue;
      if (!withChildren) delete out[k];
      else out[k] = { ...c, references: (c.references ?? []).map((ref) => ({ managedObject: { id: ref.managedObject.id, self: ref.managedObject.self } })) };
    }
    return out;
  };
}

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
        const id = ctx.managedObject(r.principal, r.params[0]!).id;
        sendPage(r, 'externalIds', s.externalIdsOf(id).map((e) => extJson(r.url.origin, e.type, e.externalId, id)), 'externalIdCollection');
      },
    },
    {
      method: 'POST',
      path: EXT_OF,
      api: 'identity',
      type: 'externalId',
      async handle(r) {
        const id = ctx.managedObject(r.principal, r.params[0]!).id;
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
        const items = listManagedObjects(ctx, r.url.searchParams).filter((mo) => ctx.owns(r.principal, mo.id));
        sendPage(r, 'managedObjects', items.map(childrenView(r.url.searchParams)), 'managedObjectCollection');
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
    {
      method: 'GET',
      path: MO,
      api: 'inventory',
      type: 'managedObject',
      handle(r) {
        refuseUnemulated(r.url.searchParams, DETAIL_NOT_EMULATED);
        r.json(200, childrenView(r.url.searchParams)(ctx.managedObject(r.principal, r.params[0]!)));
      },
    },
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
