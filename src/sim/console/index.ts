/**
 * The emulator's browser console (docs/console.md): static pages under `/apps/console/` (`/` redirects
 * there), the way Cumulocity serves its apps, plus what the console needs that the REST subset lacks:
 * `POST /user/logout` (as the Web SDK's CookieAuth calls it) and one emulator-only view,
 * `GET /sim/console/state`, with the live sessions, which devices have an agent connected now, and
 * the status history of a device's operations (Cumulocity keeps those in audit records the emulator
 * does not have). Everything else the page reads and writes through the emulator's ordinary REST API
 * and client WebSocket, exactly as the official UI does.
 *
 * The page's own files live in `assets/` (copied next to this module by `npm run build`); xterm.js is
 * served from the installed `@xterm/xterm` package. No CDN, no inline script: every page answer carries
 * a Content-Security-Policy with `script-src 'self'`.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Authenticator } from '../auth.js';
import { parseCookies, ROLE_REMOTE_ACCESS } from '../auth.js';
import { sendError, sendJson } from '../http-util.js';
import type { Store } from '../store.js';
import type { SessionInfo, StatusChange } from '../types.js';

/** Where the console is served. */
export const CONSOLE_PATH = '/apps/console/';

/**
 * No inline script, nothing from another origin. `connect-src 'self'` covers the same-origin
 * WebSockets (CSP Level 3). Styles: xterm.js writes its measured cell sizes into a `<style>` element of
 * its own, so inline styles are allowed (styles cannot run code; scripts stay `'self'` only).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Sessions the state view returns per device (newest first). */
const MAX_SESSIONS = 50;
/** Operations whose history the state view returns (the device's newest). */
const MAX_HISTORIES = 50;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, name: string): Asset {
  return { body, type: TYPES[extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Reads the page's files once: the built `assets/` next to this module plus xterm.js from its package. */
function loadAssets(): Map<string, Asset> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = join(here, 'assets');
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir)) out.set(name === 'index.html' ? '' : name, asset(readFileSync(join(dir, name)), name));
  const xterm = dirname(createRequire(import.meta.url).resolve('@xterm/xterm/package.json'));
  out.set('vendor/xterm.js', asset(readFileSync(join(xterm, 'lib', 'xterm.js')), 'xterm.js'));
  out.set('vendor/xterm.css', asset(readFileSync(join(xterm, 'css', 'xterm.css')), 'xterm.css'));
  return out;
}

/** What the console reads from the emulator's internals. */
export interface ConsoleDeps {
  auth: Authenticator;
  store: Store;
  /** Whether the agent of this serial has an MQTT connection now. */
  isConnected(serial: string): boolean;
  sessions(): SessionInfo[];
  history(operationId: string): StatusChange[];
}

/** Handles the console's requests; returns false for every other path (the REST API's). */
export type ConsoleHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The console's request handler. Assets are read on the first console request. */
export function createConsole(deps: ConsoleDeps): ConsoleHandler {
  let assets: Map<string, Asset> | undefined;
  return (req, res) => {
    res.on('error', () => {});
    req.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (path === '/' && (method === 'GET' || method === 'HEAD')) return redirect(res, CONSOLE_PATH);
    if (path === '/apps/console' && (method === 'GET' || method === 'HEAD')) return redirect(res, CONSOLE_PATH);
    if (path.startsWith(CONSOLE_PATH)) {
      if (method !== 'GET' && method !== 'HEAD') {
        sendError(res, 405, `Method ${method} not allowed`);
        return true;
      }
      try {
        assets ??= loadAssets();
      } catch (err) {
        // A build that skipped the asset copy (plain `tsc`): say so instead of failing the request.
        sendError(res, 500, `The console's files are missing (${(err as Error).message.split('\n')[0]}); run npm run build`);
        return true;
      }
      const a = assets.get(path.slice(CONSOLE_PATH.length));
      if (!a) {
        sendError(res, 404, `Not found: ${path.slice(0, 100)}`);
        return true;
      }
      serveAsset(req, res, a, method === 'HEAD');
      return true;
    }
    if (path === '/user/logout' && method === 'POST') {
      logout(deps.auth, req, res);
      return true;
    }
    if (path === '/sim/console/state' && method === 'GET') {
      state(deps, req, res);
      return true;
    }
    return false;
  };
}

function redirect(res: ServerResponse, to: string): true {
  res.statusCode = 302;
  res.setHeader('Location', to);
  res.setHeader('Content-Length', 0);
  res.end();
  return true;
}

function serveAsset(req: IncomingMessage, res: ServerResponse, a: Asset, head: boolean): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('ETag', a.etag);
  if (req.headers['if-none-match'] === a.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', a.type);
  res.setHeader('Content-Length', a.body.length);
  res.end(head ? undefined : a.body);
}

/** `POST /user/logout`: ends the cookie's token and clears both cookies; 200 whether or not one was sent. */
function logout(auth: Authenticator, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const token = parseCookies(req.headers.cookie).get('authorization');
  if (token) auth.revoke(token);
  res.setHeader('Set-Cookie', ['authorization=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0', 'XSRF-TOKEN=; Path=/; SameSite=Lax; Max-Age=0']);
  sendJson(res, 200, {});
}

/**
 * `GET /sim/console/state[?deviceId=<id>]` (emulator only; needs the remote access role):
 * `{ connected: [device ids whose agent is connected], sessions: [...], histories: { opId: [...] } }`,
 * sessions and histories only for `deviceId`, newest first and bounded.
 */
function state(deps: ConsoleDeps, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const url = new URL(req.url ?? '/', 'http://sim');
  const p = deps.auth.fromRequest(req, url);
  if (!p) return sendError(res, 401, 'Invalid credentials!', 'security/Unauthorized');
  if (p.kind !== 'user' || !p.roles.includes(ROLE_REMOTE_ACCESS)) return sendError(res, 403, 'Access is denied: remote access role missing');
  const { store } = deps;
  const connected: string[] = [];
  for (const mo of store.managedObjects()) {
    if (!('c8y_IsDevice' in mo)) continue;
    const serial = store.serialOf(store.rootOf(mo.id));
    if (serial !== undefined && deps.isConnected(serial)) connected.push(mo.id);
  }
  const deviceId = url.searchParams.get('deviceId');
  const sessions: Array<Omit<SessionInfo, 'key'>> = [];
  const histories: Record<string, StatusChange[]> = {};
  if (deviceId) {
    const all = deps.sessions();
    for (let i = all.length - 1; i >= 0 && sessions.length < MAX_SESSIONS; i--) {
      const { key: _key, ...s } = all[i]!;
      if (s.deviceId === deviceId) sessions.push(s);
    }
    const ops = store.operations({ deviceId });
    for (let i = ops.length - 1; i >= 0 && i >= ops.length - MAX_HISTORIES; i--) histories[ops[i]!.id] = deps.history(ops[i]!.id);
  }
  sendJson(res, 200, { connected, sessions, histories });
}
