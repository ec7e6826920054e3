// The emulator's REST API as the official web UI calls it: OAI-Secure login (`POST /tenant/oauth` sets the
// HttpOnly `authorization` cookie and the readable `XSRF-TOKEN` cookie), then every request with the
// cookie plus `X-XSRF-TOKEN`, and `UseXBasic: true` so that a 401 never carries a `Basic` challenge (which
// would open the browser's own password dialog). Nothing authenticated is sent before a login.

/** The XSRF token from its cookie ('' when logged out). */
export function xsrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)XSRF-TOKEN=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

/** An API error: HTTP status plus the Cumulocity error body's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function errorOf(res) {
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body && typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON
  }
  return new ApiError(res.status, message);
}

/** A JSON request with the cookie's XSRF token; resolves with the body (undefined for 204). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json', UseXBasic: 'true', 'X-XSRF-TOKEN': xsrfToken() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return undefined;
  const text = await res.text();
  return text === '' ? undefined : JSON.parse(text);
}

/** `POST /tenant/oauth?tenant_id=`, form body, as the Web SDK's `loginViaOAuthInternal`. */
export async function login(tenant, user, password) {
  const form = new URLSearchParams({ grant_type: 'PASSWORD', username: user, password });
  const res = await fetch(`/tenant/oauth?tenant_id=${encodeURIComponent(tenant)}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8', UseXBasic: 'true' },
    body: form.toString(),
    credentials: 'same-origin',
  });
  if (!res.ok) throw await errorOf(res);
}

/** `POST /user/logout` (CookieAuth.logout): ends the token and clears the cookies. */
export async function logout() {
  await api('/user/logout', { method: 'POST', body: {} }).catch(() => {});
}

/**
 * The client WebSocket as the web UI opens it: `binary` subprotocol, auth only in the query
 * (`?XSRF-TOKEN=`) plus the browser's own `authorization` cookie; no headers.
 */
export function openClientSocket(deviceId, configId) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = `/service/remoteaccess/client/${encodeURIComponent(deviceId)}/configurations/${encodeURIComponent(configId)}`;
  const ws = new WebSocket(`${scheme}//${location.host}${path}?XSRF-TOKEN=${encodeURIComponent(xsrfToken())}`, 'binary');
  ws.binaryType = 'arraybuffer';
  return ws;
}
