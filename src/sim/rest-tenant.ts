/** Tenant and user endpoints: health, login options, OAI-Secure login, current tenant and user. */
import type { Route } from './http-util.js';
import { sendError } from './http-util.js';
import type { RestContext } from './rest.js';

/** The tenant and user routes. */
export function tenantRoutes(ctx: RestContext): Route[] {
  const { store: s, auth } = ctx;
  return [
    { method: 'HEAD', path: /^\/service\/remoteaccess\/health\/?$/, api: 'remoteaccess', public: true, handle: (r) => r.json(200, undefined) },
    { method: 'GET', path: /^\/service\/remoteaccess\/health\/?$/, api: 'remoteaccess', public: true, handle: (r) => r.json(200, { status: 'UP' }) },
    {
      method: 'GET',
      path: /^\/tenant\/loginOptions\/?$/,
      api: 'tenant',
      type: 'loginOptionCollection',
      public: true,
      handle: (r) => {
        const base = `${r.url.origin}/tenant/loginOptions`;
        const option = (type: string, grantType: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
          id: type.toLowerCase(),
          type,
          grantType,
          providerName: type === 'BASIC' ? 'Cumulocity' : 'Cumulocity OAI-Secure',
          visibleOnLoginPage: true,
          userManagementSource: 'INTERNAL',
          self: `${base}/${type.toLowerCase()}`,
          ...extra,
        });
        r.json(200, {
          loginOptions: [
            option('BASIC', 'PASSWORD', { initRequest: `${base}/basic` }),
            option('OAUTH2_INTERNAL', 'PASSWORD', { initRequest: `${r.url.origin}/tenant/oauth?tenant_id=${auth.tenant}` }),
          ],
          self: base,
        });
      },
    },
    {
      // OAI-Secure login: form body with username and password; sets the `authorization` and XSRF cookies.
      method: 'POST',
      path: /^\/tenant\/oauth\/?$/,
      api: 'tenant',
      public: true,
      async handle(r) {
        const form = new URLSearchParams((await r.rawBody()).toString('utf8'));
        const p = auth.checkPassword(form.get('username') ?? '', form.get('password') ?? '');
        if (!p) return sendError(r.res, 401, 'Invalid credentials!', 'security/Unauthorized', 'tenant');
        const { token, claims } = auth.jwt.issue(p.user);
        r.res.setHeader('Set-Cookie', [`authorization=${token}; Path=/; HttpOnly`, `XSRF-TOKEN=${claims.xsrfToken}; Path=/`]);
        r.json(200, {});
      },
    },
    {
      method: 'GET',
      path: /^\/user\/currentUser\/?$/,
      api: 'user',
      type: 'currentUser',
      handle: (r) => {
        const roles = r.principal.roles.map((id) => ({ id, name: id, self: `${s.baseUrl}/user/roles/${id}` }));
        r.json(200, {
          id: r.principal.user,
          userName: r.principal.user,
          self: `${r.url.origin}/user/currentUser`,
          customProperties: {},
          shouldResetPassword: false,
          effectiveRoles: roles,
          roles: { references: roles.map((role) => ({ role })) },
        });
      },
    },
    {
      method: 'GET',
      path: /^\/tenant\/currentTenant\/?$/,
      api: 'tenant',
      type: 'currentTenant',
      handle: (r) => r.json(200, { name: auth.tenant, domainName: r.url.hostname, allowCreateTenants: false, customProperties: {}, self: `${r.url.origin}/tenant/currentTenant` }),
    },
  ];
}
