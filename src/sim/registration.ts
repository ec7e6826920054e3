/**
 * Device registration, as Cumulocity documents it: an operator creates a new device request
 * (WAITING_FOR_CONNECTION); the device, logged in as the bootstrap user, polls for credentials
 * (404 each time; the first poll moves the request to PENDING_ACCEPTANCE); the operator accepts it
 * (ACCEPTED: only after that first poll); the next poll answers 201 with `device_<id>` and a fresh
 * password, and the request is gone. From then on that password (not the shared device password)
 * logs the device in. At most `limit` requests exist at once.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Authenticator } from './auth.js';
import { HttpError } from './http-util.js';

/** The tenant and user name of the bootstrap user (Cumulocity's is `management/devicebootstrap`). */
export const BOOTSTRAP_TENANT = 'management';
export const BOOTSTRAP_USER = 'devicebootstrap';

/** Registration statuses. */
export type RequestStatus = 'WAITING_FOR_CONNECTION' | 'PENDING_ACCEPTANCE' | 'ACCEPTED';

/** One new device request. */
export interface NewDeviceRequest {
  id: string;
  status: RequestStatus;
  creationTime: string;
  owner: string;
}

/** The issued credentials of a device. */
export interface DeviceCredentials {
  id: string;
  tenantId: string;
  username: string;
  password: string;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The registration state of one emulator. */
export class Registration {
  readonly #requests = new Map<string, NewDeviceRequest>();

  constructor(
    private readonly auth: Authenticator,
    readonly bootstrapPassword: string,
    readonly limit = 10_000,
  ) {}

  /** True for `management/devicebootstrap` (or a bare `devicebootstrap`) with the bootstrap password. */
  isBootstrap(username: string, password: string): boolean {
    return (username === `${BOOTSTRAP_TENANT}/${BOOTSTRAP_USER}` || username === BOOTSTRAP_USER) && same(password, this.bootstrapPassword);
  }

  /** True when an `Authorization: Basic` header names the bootstrap user. */
  isBootstrapHeader(header: string | undefined): boolean {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
    if (!m) return false;
    const text = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    return colon > 0 && this.isBootstrap(text.slice(0, colon), text.slice(colon + 1));
  }

  list(): NewDeviceRequest[] {
    return [...this.#requests.values()];
  }

  get(id: string): NewDeviceRequest | undefined {
    return this.#requests.get(id);
  }

  /** A new request (409 when one exists for the id, 422 for a bad id). */
  create(id: unknown, owner: string): NewDeviceRequest {
    if (typeof id !== 'string' || id === '' || id.length > 1000 || /[\s/:]/.test(id)) throw new HttpError(422, 'id must be a non-empty string (at most 1000 characters, no whitespace, "/" or ":")');
    if (this.#requests.has(id)) throw new HttpError(409, `A new device request for ${id.slice(0, 64)} already exists`);
    if (this.#requests.size >= this.limit) throw new HttpError(422, `At most ${this.limit} new device requests`);
    const r: NewDeviceRequest = { id, status: 'WAITING_FOR_CONNECTION', creationTime: new Date().toISOString(), owner };
    this.#requests.set(id, r);
    return r;
  }

  /** Accepts a request; only ACCEPTED may be set, and only once the device asked for credentials. */
  update(id: string, status: unknown): NewDeviceRequest {
    const r = this.#requests.get(id);
    if (!r) throw new HttpError(404, `New device request ${id.slice(0, 64)} not found`);
    if (status === undefined || status === r.status) return r;
    if (status !== 'ACCEPTED') throw new HttpError(422, 'status can only be set to ACCEPTED');
    if (r.status === 'WAITING_FOR_CONNECTION') throw new HttpError(422, `Device ${id.slice(0, 64)} has not requested credentials yet (status WAITING_FOR_CONNECTION)`);
    r.status = 'ACCEPTED';
    return r;
  }

  delete(id: string): boolean {
    return this.#requests.delete(id);
  }

  /**
   * A device's poll. Undefined (the caller answers 404) until the request is accepted; the first
   * poll marks it PENDING_ACCEPTANCE. On acceptance: credentials, the request removed.
   */
  poll(id: string): DeviceCredentials | undefined {
    const r = this.#requests.get(id);
    if (!r) return undefined;
    if (r.status === 'WAITING_FOR_CONNECTION') r.status = 'PENDING_ACCEPTANCE';
    if (r.status !== 'ACCEPTED') return undefined;
    this.#requests.delete(id);
    const username = `device_${id}`;
    const password = randomBytes(18).toString('base64url');
    this.auth.devicePasswords.set(username, password);
    return { id, tenantId: this.auth.tenant, username, password };
  }
}
