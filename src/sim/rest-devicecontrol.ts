/** Device control endpoints: operations (device credentials: rest-registration.ts). */
import type { Route } from './http-util.js';
import { HttpError } from './http-util.js';
import { sendPage } from './paging.js';
import type { RestContext } from './rest.js';
import { isStatus } from './store.js';

/** An ISO 8601 date (or date and time) parameter as epoch ms; 422 when it is not one. */
function date(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const t = /^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new HttpError(422, `${name} must be an ISO 8601 date or date and time, got "${v.slice(0, 40)}"`);
  return t;
}

/** The device control routes. */
export function devicecontrolRoutes(ctx: RestContext): Route[] {
  const s = ctx.store;
  const OPS = /^\/devicecontrol\/operations\/?$/;
  const OP = /^\/devicecontrol\/operations\/([^/]+)\/?$/;
  const visible = (r: { principal: Parameters<RestContext['owns']>[0] }, id: string): NonNullable<ReturnType<typeof s.op>> => {
    const op = s.op(id);
    if (!op || !ctx.owns(r.principal, op.deviceId)) throw new HttpError(404, `Operation ${id.slice(0, 32)} not found`);
    return op;
  };
  return [
    {
      method: 'GET',
      path: OPS,
      api: 'devicecontrol',
      type: 'operationCollection',
      handle(r) {
        const q = r.url.searchParams;
        const status = q.get('status') || undefined;
        if (status !== undefined && !isStatus(status)) throw new HttpError(422, 'status must be PENDING, EXECUTING, SUCCESSFUL or FAILED');
        const filter = { deviceId: q.get('deviceId') || undefined, status, fragmentType: q.get('fragmentType') || undefined };
        const agentId = q.get('agentId');
        const bulk = q.get('bulkOperationId');
        const from = date(q, 'dateFrom');
        const to = date(q, 'dateTo');
        const revert = q.get('revert');
        if (revert !== null && revert !== '' && revert !== 'true' && revert !== 'false') throw new HttpError(422, 'revert must be true or false');
        const ops = s.operations(filter).filter((op) => {
          if (!ctx.owns(r.principal, op.deviceId)) return false;
          if (agentId && s.rootOf(op.deviceId) !== agentId) return false;
          if (bulk && op.bulkOperationId !== bulk) return false;
          const t = Date.parse(op.creationTime);
          return (from === undefined || t >= from) && (to === undefined || t < to);
        });
        sendPage(r, 'operations', revert === 'true' ? ops.reverse() : ops, 'operationCollection');
      },
    },
    {
      method: 'POST',
      path: OPS,
      api: 'devicecontrol',
      type: 'operation',
      async handle(r) {
        ctx.admin(r.principal);
        const b = await r.body();
        const deviceId = typeof b.deviceId === 'string' ? b.deviceId : '';
        if (!s.mo(deviceId)) throw new HttpError(422, 'deviceId must name an existing device');
        const { deviceId: _d, id: _i, status: _s, description, ...fragments } = b;
        const op = s.createOperation(deviceId, fragments, typeof description === 'string' ? description : '');
        ctx.delivery.deliver(op);
        r.json(201, op, { headers: { Location: `${r.url.origin}/devicecontrol/operations/${op.id}` } });
      },
    },
    { method: 'GET', path: OP, api: 'devicecontrol', type: 'operation', handle: (r) => r.json(200, visible(r, r.params[0]!)) },
    {
      method: 'PUT',
      path: OP,
      api: 'devicecontrol',
      type: 'operation',
      async handle(r) {
        const op = visible(r, r.params[0]!);
        const b = await r.body();
        if (b.status !== undefined) {
          if (!isStatus(b.status)) throw new HttpError(422, 'status must be PENDING, EXECUTING, SUCCESSFUL or FAILED');
          const reason = typeof b.failureReason === 'string' ? b.failureReason : undefined;
          const err = s.setStatus(op.id, b.status, reason);
          if (err) throw new HttpError(422, err);
        }
        r.json(200, op);
      },
    },
  ];
}
