/** The user's side of a remote access session, as a library: resolve, then serve locally or on stdio. */
import type { Readable, Writable } from 'node:stream';
import { authHeader, type ConnectOptions } from './options.js';
import { listenLocal, type ListenOptions, type LocalProxy, type SessionListener } from './listener.js';
import { resolveTarget, type ResolvedTarget } from './rest.js';
import { clientUrl, runSession, type SessionHooks, type SessionResult, type SessionTarget } from './session.js';
import { createOperationWatch } from './watch.js';
import { proxyFor } from '../net/proxy.js';

export { parseConnectArgs, normalizeBaseUrl, authHeader, DEFAULT_LISTEN } from './options.js';
export type { ConnectOptions, Credentials, LocalMode } from './options.js';
export { resolveTarget, listConfigurations } from './rest.js';
export type { RemoteAccessConfiguration, ResolvedTarget } from './rest.js';
export { clientUrl, runSession } from './session.js';
export type { SessionHooks, SessionResult, SessionTarget } from './session.js';
export { listenLocal, DEFAULT_MAX_SESSIONS } from './listener.js';
export type { ListenOptions } from './listener.js';
export { createOperationWatch } from './watch.js';
export type { OperationWatch, OperationState } from './watch.js';
export type { LocalProxy, SessionListener } from './listener.js';

/** Resolves device and configuration through REST and returns what a session needs. */
export async function prepareSession(opts: Pick<ConnectOptions, 'baseUrl' | 'credentials' | 'device' | 'config' | 'ca' | 'proxy' | 'noProxy' | 'handshakeTimeoutMs' | 'lingerMs'>): Promise<{
  resolved: ResolvedTarget;
  target: SessionTarget;
}> {
  const authorization = authHeader(opts.credentials);
  const proxied = { ...(opts.proxy ? { proxy: opts.proxy } : {}), ...(opts.noProxy ? { noProxy: opts.noProxy } : {}) };
  const rest = { baseUrl: opts.baseUrl, authorization, ...(opts.ca ? { ca: opts.ca } : {}), ...proxied };
  const resolved = await resolveTarget(rest, opts.device, opts.config);
  const url = clientUrl(opts.baseUrl, resolved.deviceId, resolved.configId);
  const proxy = proxyFor(url, opts.proxy, opts.noProxy ?? '');
  const target: SessionTarget = {
    url,
    authorization,
    handshakeTimeoutMs: opts.handshakeTimeoutMs,
    watch: () => createOperationWatch(rest, resolved.deviceId, resolved),
    ...(opts.lingerMs !== undefined ? { lingerMs: opts.lingerMs } : {}),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(proxy ? { proxy } : {}),
  };
  return { resolved, target };
}

/** `connect --listen`: resolves, then listens; every local connection is a new session. */
export async function connectListen(
  opts: ConnectOptions & { local: { kind: 'listen'; host: string; port: number } },
  onSession?: SessionListener,
  listen: ListenOptions = {},
): Promise<LocalProxy & { resolved: ResolvedTarget }> {
  const { resolved, target } = await prepareSession(opts);
  const proxy = await listenLocal(opts.local.host, opts.local.port, target, onSession, { ...(opts.maxSessions !== undefined ? { maxSessions: opts.maxSessions } : {}), ...listen });
  return Object.assign(proxy, { resolved });
}

/** `connect --stdio`: resolves, then runs one session on the given streams (default stdin/stdout). */
export async function connectStdio(opts: ConnectOptions, input: Readable = process.stdin, output: Writable = process.stdout, hooks?: SessionHooks): Promise<SessionResult> {
  const { target } = await prepareSession(opts);
  return runSession(input, output, target, undefined, hooks);
}
