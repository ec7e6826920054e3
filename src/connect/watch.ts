/**
 * Watches the c8y_RemoteAccessConnect operation behind a session, so a device that reports FAILED (target
 * refused, not allowed by policy, ...) ends the session with the device's reason at once, instead of a
 * silent wait for the cloud's 30 s operation timeout. The client never learns its operation id, so the
 * session's operation is the oldest one for the same device and target created after a look just before
 * the WebSocket opened. Best effort: without read access to operations the watch stays silent; a network
 * blip (a failed or timed-out look) only skips that look, the next one tries again.
 */
import { C8yTunnelError } from '../errors.js';
import { getJson, type RestTarget } from './rest.js';

/** What the watch reports about the session's operation. */
export interface OperationState {
  id: string;
  status: string;
  failureReason?: string;
}

/** A watch for one session: `baseline()` before the WebSocket opens, then `check()` until it settles. */
export interface OperationWatch {
  baseline(): Promise<void>;
  check(): Promise<OperationState | undefined>;
  /** False once the operations API turned out unusable (no permission): nothing to wait for. */
  enabled(): boolean;
}

interface RawOp {
  id?: unknown;
  status?: unknown;
  failureReason?: unknown;
  creationTime?: unknown;
  c8y_RemoteAccessConnect?: { hostname?: unknown; port?: unknown };
}

/** Creates a watch for sessions to `deviceId` whose configuration targets hostname:port (when known). */
export function createOperationWatch(rest: RestTarget, deviceId: string, target: { hostname?: string; port?: number }): OperationWatch {
  let known: Set<string> | undefined;
  let disabled = false;
  // Cumulocity sorts newest first (revert=true) only for a range query, hence the dateFrom.
  const path =
    `/devicecontrol/operations?deviceId=${encodeURIComponent(deviceId)}&fragmentType=c8y_RemoteAccessConnect` +
    '&dateFrom=1970-01-01T00:00:00.000Z&revert=true&pageSize=20';
  const matches = (op: RawOp): boolean => {
    const f = op.c8y_RemoteAccessConnect;
    if (!f) return false;
    if (target.hostname !== undefined && f.hostname !== target.hostname) return false;
    return target.port === undefined || Number(f.port) === target.port;
  };
  const list = async (): Promise<RawOp[] | undefined> => {
    if (disabled) return undefined;
    try {
      const body = (await getJson(rest, path)) as { operations?: unknown } | undefined;
      return Array.isArray(body?.operations) ? (body.operations as RawOp[]).filter(matches) : undefined;
    } catch (err) {
      // No permission: fall back to the cloud's own timeout for good. Anything else may pass: look again later.
      if (err instanceof C8yTunnelError && err.code === 'CONNECT_ERR_AUTH') disabled = true;
      return undefined;
    }
  };
  return {
    enabled: () => !disabled && known !== undefined,
    async baseline() {
      const ops = await list();
      known = ops ? new Set(ops.map((o) => String(o.id))) : undefined;
    },
    async check() {
      if (!known) return undefined;
      const ops = await list();
      // Ours is the oldest operation created after the baseline: our WebSocket opened right after it, so
      // only sessions opened in those few milliseconds can come first; later ones come after.
      const fresh = (ops ?? []).filter((o) => !known!.has(String(o.id)));
      const mine = fresh.reduce<RawOp | undefined>((a, o) => (!a || String(o.creationTime ?? '') < String(a.creationTime ?? '') ? o : a), undefined);
      if (!mine) return undefined;
      const state: OperationState = { id: String(mine.id), status: String(mine.status) };
      if (typeof mine.failureReason === 'string') state.failureReason = mine.failureReason;
      return state;
    },
  };
}
