/** Small HTTP helpers shared by the REST routes and the WebSocket upgrades. */
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
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

/** A Cumulocity-style error body. */
export function errorBody(status: number, message: string, error?: string): { error: string; message: string; info: string } {
  return { error: error ?? `remoteaccess/${(STATUS_CODES[status] ?? 'Error').replace(/\s+/g, ' ')}`, message, info: 'https://cumulocity.com/docs' };
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
export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.statusCode = status;
  for (const [k, v] of CLOUD_HEADERS) res.setHeader(k, v);
  if (status === 401) res.setHeader('WWW-Authenticate', challengeFor(res.req?.headers));
  if (text !== '') {
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Length', Buffer.byteLength(text));
  }
  res.end(text);
}

/** Sends a Cumulocity-style error. */
export function sendError(res: ServerResponse, status: number, message: string, error?: string): void {
  sendJson(res, status, errorBody(status, message, error));
}

/** The request as a route sees it. */
export interface RestRequest {
  method: string;
  url: URL;
  params: string[];
  principal: Principal;
  body: () => Promise<Record<string, unknown>>;
  res: ServerResponse;
}

/** A route: method, path pattern, handler. */
export type Route = [method: string, pattern: RegExp, handler: (r: RestRequest) => void | Promise<void>];

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
