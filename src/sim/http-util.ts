/** Small HTTP helpers shared by the REST routes and the WebSocket upgrades. */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Principal } from './auth.js';
import { BASIC_CHALLENGE, challengeFor, ROLE_REMOTE_ACCESS } from './auth.js';

/** The headers Cumulocity adds to its responses (and its 101 upgrade replies). */
export const CLOUD_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-XSS-Protection', '1; mode=block'],
  ['Cache-Control', 'no-cache, no-store, max-age=0, must-revalidate'],
  ['Pragma', 'no-cache'],
  ['Expires', '0'],
];

/** The challenge a 401 carries (`challengeFor` picks XBasic for `UseXBasic: true`). */
export const WWW_AUTHENTICATE = BASIC_CHALLENGE;

/** Cumulocity's vendor media type of a resource (`managedObject`, `operationCollection`, `error`, ...). */
export function mediaType(type: string): string {
  return `application/vnd.com.nsn.cumulocity.${type}+json;charset=UTF-8;ver=0.9`;
}

/**
 * A Cumulocity-style error body; `api` names the API that answers (`inventory`, `identity`,
 * `devicecontrol`, ...), as in `inventory/Not Found`.
 */
export function errorBody(status: number, message: string, error?: string, api = 'remoteaccess'): { error: string; message: string; info: string } {
  return { error: error ?? `${api}/${(STATUS_CODES[status] ?? 'Error').replace(/\s+/g, ' ')}`, message, info: 'https://cumulocity.com/docs' };
}

/** Answers a refused upgrade on the raw socket, then closes it. */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify(errorBody(status, message));
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`, 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  if (status === 401) lines.push(`WWW-Authenticate: ${WWW_AUTHENTICATE}`);
  for (const [k, v] of CLOUD_HEADERS) lines.push(`${k}: ${v}`);
  socket.on('error', () => {});
  if (socket.writable) socket.end(lines.join('\r\n') + '\r\n\r\n' + body, () => socket.destroy());
  else socket.destroy();
}

/** Sends JSON with Cumulocity's content type and headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.statusCode = status;
  for (const [k, v] of CLOUD_HEADERS) res.setHeader(k, v);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  if (status === 401) res.setHeader('WWW-Authenticate', challengeFor(res.req?.headers));
  if (text !== '') {
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Length', Buffer.byteLength(text));
  }
  res.end(text);
}

/** Sends a Cumulocity-style error (the remote access microservice's plain JSON unless `api` names a core API). */
export function sendError(res: ServerResponse, status: number, message: string, error?: string, api?: string): void {
  sendJson(res, status, errorBody(status, message, error, api), api === undefined || api === 'remoteaccess' ? 'application/json' : mediaType('error'));
}

/** What every route sees of a request, authenticated or not. */
export interface PublicRequest {
  method: string;
  url: URL;
  /** The pattern's capture groups, URI-decoded. */
  params: string[];
  /** The caller, when the request carried valid credentials. */
  principal: Principal | undefined;
  req: IncomingMessage;
  res: ServerResponse;
  /** The body as a JSON object ({} when empty); 400/413/422 otherwise. Bounded (1 MiB). */
  body: () => Promise<Record<string, unknown>>;
  /** The raw body, bounded (1 MiB; 413 beyond, and the connection is closed). */
  rawBody: () => Promise<Buffer>;
  /** Answers JSON: 200 with the route's media type unless told otherwise. */
  json: (status: number, body: unknown, opts?: { type?: string; headers?: Record<string, string> }) => void;
}

/** The request as an authenticated route sees it. */
export interface RestRequest extends PublicRequest {
  principal: Principal;
}

/**
 * One REST route. `api` names errors (`inventory/Not Found`); `type` is the media type of a
 * successful answer (`managedObject` becomes `application/vnd.com.nsn.cumulocity.managedObject+json`;
 * absent: `application/json`). Routes with `public: true` run without credentials.
 */
export type Route = {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';
  path: RegExp;
  api: string;
  type?: string;
} & ({ public: true; handle: (r: PublicRequest) => void | Promise<void> } | { public?: false; handle: (r: RestRequest) => void | Promise<void> });

/** Thrown by handlers to answer with an error status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The remote access microservice requires its role. */
export function requireRole(r: RestRequest): void {
  if (!r.principal.roles.includes(ROLE_REMOTE_ACCESS)) throw new HttpError(403, 'Access is denied: remote access role missing');
}
