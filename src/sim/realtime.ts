/**
 * Cumulocity's real-time notification API: Bayeux (CometD) at `/notification/realtime`, over HTTP
 * long-polling (what `@c8y/client`'s `realtime.subscribe` uses in Node: the cometd library's XHR
 * transport, which appends `/handshake`, `/connect`, ... to the URL) and over WebSocket (what it uses
 * in a browser). Channels: `/operations/<deviceId>`, `/managedobjects/<id>`, `/events/<source>`,
 * `/alarms/<source>`, `/measurements/<source>`, each also as `/<api>/*` (every object the caller may
 * see). A data message is `{ channel, id, data: { realtimeAction: CREATE|UPDATE|DELETE, data } }`.
 *
 * Written by hand: no maintained Bayeux *server* library exists for Node (the cometd packages are
 * clients), and the subset Cumulocity speaks is small. Every table is bounded: sessions
 * (`maxClients`), subscriptions per session, undelivered messages per session (`queueLimit`: one
 * more ends the session with `408::Queue full` and a re-handshake advice, so a slow client learns
 * that it lost messages instead of losing them silently), and a session whose client stopped
 * polling expires (`sessionExpiryMs` after its last connect ended).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Authenticator, Principal } from './auth.js';
import { parseCookies } from './auth.js';
import { looksLikeJwt } from './jwt.js';
import {
  CHANNEL,
  MAX_TIMEOUT_MS,
  MAX_WS_BUFFERED,
  parseBatch,
  REALTIME_DEFAULTS,
  REALTIME_MAX_BODY,
  REALTIME_PATH,
  type BayeuxMessage,
  type RealtimeAction,
  type RealtimeApi,
  type RealtimeOptions,
} from './bayeux.js';

interface Held {
  reply: BayeuxMessage;
  /** Sends the queued data plus the connect reply, and ends the hold. */
  finish: (msgs: BayeuxMessage[]) => void;
  timer: NodeJS.Timeout;
}

interface Session {
  id: string;
  principal: Principal;
  subs: Set<string>;
  queue: BayeuxMessage[];
  overflow: boolean;
  held?: Held;
  ws?: WebSocket;
  /** When the last connect ended (or the session began). */
  idleSince: number;
  timeoutMs: number;
  intervalMs: number;
}

/** Where a batch came from: the HTTP request (credentials, cookies) and, for WebSocket, the socket. */
interface Origin {
  req: IncomingMessage;
  ws?: WebSocket;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** The Bayeux server of one emulator. */
export class Realtime {
  readonly #opts: RealtimeOptions;
  readonly #sessions = new Map<string, Session>();
  /** channel -> sessions subscribed to exactly that channel. */
  readonly #byChannel = new Map<string, Set<Session>>();
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: REALTIME_MAX_BODY, perMessageDeflate: false });
  readonly #sweep: NodeJS.Timeout;
  #seq = 0;
  #closed = false;

  constructor(
    private readonly auth: Authenticator,
    /** Whether the principal may see this object (a device: its own and its children). */
    private readonly maySee: (p: Principal, id: string) => boolean,
    opts: Partial<RealtimeOptions> = {},
  ) {
    this.#opts = { ...REALTIME_DEFAULTS, ...opts };
    this.#sweep = setInterval(() => this.#expire(), Math.min(1000, this.#opts.sessionExpiryMs)).unref();
  }

  /** Live sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Publishes a change to every session subscribed to `/<api>/<id>` or `/<api>/*` that may see
   * `sourceId`. The object is copied once, now. Deletions reach users only (a deleted object has no
   * owner left to check).
   */
  publish(api: RealtimeApi, id: string, action: RealtimeAction, object: unknown, sourceId = id): void {
    const channel = `/${api}/${id}`;
    const exact = this.#byChannel.get(channel);
    const wild = this.#byChannel.get(`/${api}/*`);
    if (!exact?.size && !wild?.size) return;
    const msg: BayeuxMessage = { channel, id: String(++this.#seq), data: { realtimeAction: action, data: action === 'DELETE' ? id : structuredClone(object) } };
    const done = new Set<Session>();
    for (const set of [exact, wild]) {
      for (const s of set ?? []) {
        if (done.has(s)) continue;
        done.add(s);
        const visible = s.principal.kind === 'user' || (action !== 'DELETE' && this.maySee(s.principal, sourceId));
        if (visible) this.#enqueue(s, msg);
      }
    }
  }

  /** Handles a long-polling POST body; `send` gets the answer (possibly after a held connect). */
  handleHttp(req: IncomingMessage, body: Buffer, send: (status: number, msgs: BayeuxMessage[] | { error: string }) => void, onClose: (fn: () => void) => void): void {
    const msgs = parseBatch(body);
    if (!msgs) return send(400, { error: 'Body must be a JSON array of Bayeux messages' });
    let finished = false;
    const out: BayeuxMessage[] = [];
    const finish = (extra: BayeuxMessage[]): void => {
      if (finished) return;
      finished = true;
      send(200, [...out, ...extra]);
    };
    const held = this.#batch(msgs, { req }, out, finish);
    if (!held) return finish([]);
    // The client gave up on its long poll: the session stays, the queue is kept for the next connect.
    onClose(() => {
      if (!finished && held.held?.finish === finish) {
        clearTimeout(held.held.timer);
        held.held = undefined;
        held.idleSince = Date.now();
        finished = true;
      }
    });
  }

  /** Takes a WebSocket upgrade to `/notification/realtime`; false when the path is another. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): boolean {
    if (!REALTIME_PATH.test(url.pathname)) return false;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      if (this.#closed) return ws.close(1001);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        const msgs = isBinary ? undefined : parseBatch(data);
        if (!msgs) return ws.close(1003, 'expected a JSON array of Bayeux messages');
        const out: BayeuxMessage[] = [];
        const finish = (extra: BayeuxMessage[]): void => this.#wsSend(ws, extra);
        this.#batch(msgs, { req, ws }, out, finish);
        if (out.length) this.#wsSend(ws, out);
      });
      ws.on('close', () => {
        for (const s of this.#sessions.values()) {
          if (s.ws !== ws) continue;
          s.ws = undefined;
          if (s.held) {
            clearTimeout(s.held.timer);
            s.held = undefined;
          }
          s.idleSince = Date.now();
        }
      });
    });
    return true;
  }

  /** Ends every session (held connects are answered) and closes every WebSocket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const s of [...this.#sessions.values()]) this.#drop(s);
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
  }

  // ---- the protocol ----------------------------------------------------------------------------

  /** Processes a batch; replies go to `out`; returns the session whose connect is now held, if any. */
  #batch(msgs: BayeuxMessage[], origin: Origin, out: BayeuxMessage[], finish: (extra: BayeuxMessage[]) => void): Session | undefined {
    let held: Session | undefined;
    for (const m of msgs) {
      const channel = typeof m.channel === 'string' ? m.channel : '';
      const base: BayeuxMessage = { channel, ...(m.id !== undefined ? { id: m.id } : {}) };
      if (channel === '/meta/handshake') {
        out.push(this.#handshake(m, origin, base));
        continue;
      }
      const s = typeof m.clientId === 'string' ? this.#sessions.get(m.clientId) : undefined;
      if (!s) {
        out.push({ ...base, successful: false, error: '402::Unknown client', advice: { reconnect: 'handshake', interval: 0 } });
        continue;
      }
      base.clientId = s.id;
      if (origin.ws) s.ws = origin.ws;
      switch (channel) {
        case '/meta/connect':
          if (this.#connect(s, m, base, out, finish)) held = s;
          break;
        case '/meta/subscribe':
        case '/meta/unsubscribe':
          out.push(this.#subscribe(s, channel === '/meta/subscribe', m.subscription, base));
          break;
        case '/meta/disconnect':
          this.#drop(s);
          out.push({ ...base, successful: true });
          break;
        default:
          out.push({ ...base, successful: false, error: '403::Publish denied' });
      }
    }
    return held;
  }

  #handshake(m: BayeuxMessage, origin: Origin, base: BayeuxMessage): BayeuxMessage {
    const principal = this.#authenticate(m, origin.req);
    if (!principal) return { ...base, successful: false, error: '401::Authentication failed', advice: { reconnect: 'none', interval: 0 } };
    if (this.#sessions.size >= this.#opts.maxClients) return { ...base, successful: false, error: '503::Too many clients', advice: { reconnect: 'retry', interval: 1000 } };
    const advice = m.advice ?? {};
    const s: Session = {
      id: randomBytes(12).toString('base64url'),
      principal,
      subs: new Set(),
      queue: [],
      overflow: false,
      idleSince: Date.now(),
      timeoutMs: Math.min(num(advice.timeout) || this.#opts.connectTimeoutMs, MAX_TIMEOUT_MS),
      intervalMs: Math.min(num(advice.interval) ?? 0, MAX_TIMEOUT_MS),
    };
    this.#sessions.set(s.id, s);
    return {
      ...base,
      version: '1.0',
      minimumVersion: '1.0',
      supportedConnectionTypes: ['websocket', 'long-polling'],
      clientId: s.id,
      successful: true,
      advice: { reconnect: 'retry', interval: s.intervalMs, timeout: s.timeoutMs },
    };
  }

  /**
   * Credentials, in the order a client may send them: the handshake's `ext.com.cumulocity.authn`
   * (`token`: base64 Basic credentials or a JWT; `xsrfToken` with the `authorization` cookie), else
   * whatever the HTTP request carried (Authorization header, cookie plus X-XSRF-TOKEN, `?token=`).
   */
  #authenticate(m: BayeuxMessage, req: IncomingMessage): Principal | undefined {
    const authn = m.ext?.['com.cumulocity.authn'] as { token?: unknown; xsrfToken?: unknown } | undefined;
    if (authn && typeof authn.token === 'string' && authn.token !== '') {
      return looksLikeJwt(authn.token) ? this.auth.fromToken(authn.token) : this.auth.fromBasic(authn.token);
    }
    if (authn && typeof authn.xsrfToken === 'string' && authn.xsrfToken !== '') {
      const cookie = parseCookies(req.headers.cookie).get('authorization');
      const claims = cookie ? this.auth.jwt.verify(cookie) : undefined;
      return claims && claims.xsrfToken === authn.xsrfToken ? this.auth.principalFor(claims.sub) : undefined;
    }
    return this.auth.fromRequest(req, new URL(req.url ?? '/', 'http://localhost'));
  }

  /** Answers at once when data waits or the client asked for no wait; else holds. Returns whether it holds. */
  #connect(s: Session, m: BayeuxMessage, base: BayeuxMessage, out: BayeuxMessage[], finish: (extra: BayeuxMessage[]) => void): boolean {
    if (s.overflow) {
      this.#drop(s);
      out.push({ ...base, successful: false, error: '408::Queue full, messages were lost', advice: { reconnect: 'handshake', interval: 0 } });
      return false;
    }
    const reply: BayeuxMessage = { ...base, successful: true, advice: { reconnect: 'retry', interval: s.intervalMs, timeout: s.timeoutMs } };
    const timeout = Math.min(num(m.advice?.timeout) ?? s.timeoutMs, MAX_TIMEOUT_MS);
    // A newer connect releases the older one (one pending connect per session).
    if (s.held) this.#release(s);
    if (timeout === 0 || s.queue.length > 0) {
      out.push(...s.queue.splice(0), reply);
      s.idleSince = Date.now();
      return false;
    }
    const timer = setTimeout(() => this.#release(s), timeout);
    s.held = { reply, finish, timer };
    return true;
  }

  /** Answers the held connect with whatever is queued. */
  #release(s: Session): void {
    const h = s.held;
    if (!h) return;
    clearTimeout(h.timer);
    s.held = undefined;
    s.idleSince = Date.now();
    h.finish([...s.queue.splice(0), h.reply]);
  }

  #subscribe(s: Session, on: boolean, sub: unknown, base: BayeuxMessage): BayeuxMessage {
    const channel = typeof sub === 'string' ? sub : '';
    const reply = { ...base, subscription: channel };
    const m = CHANNEL.exec(channel);
    if (!m) return { ...reply, successful: false, error: `400::Unknown channel ${channel.slice(0, 100)}` };
    if (!on) {
      s.subs.delete(channel);
      this.#byChannel.get(channel)?.delete(s);
      if (this.#byChannel.get(channel)?.size === 0) this.#byChannel.delete(channel);
      return { ...reply, successful: true };
    }
    if (m[2] !== '*' && s.principal.kind !== 'user' && !this.maySee(s.principal, m[2]!)) return { ...reply, successful: false, error: '403::Permission denied' };
    if (!s.subs.has(channel) && s.subs.size >= this.#opts.maxSubscriptions) return { ...reply, successful: false, error: `403::At most ${this.#opts.maxSubscriptions} subscriptions per client` };
    s.subs.add(channel);
    let set = this.#byChannel.get(channel);
    if (!set) this.#byChannel.set(channel, (set = new Set()));
    set.add(s);
    return { ...reply, successful: true };
  }

  #enqueue(s: Session, msg: BayeuxMessage): void {
    if (s.overflow) return;
    if (s.ws && s.ws.readyState === s.ws.OPEN) {
      if (s.ws.bufferedAmount > MAX_WS_BUFFERED) return this.#overflow(s);
      return this.#wsSend(s.ws, [msg]);
    }
    if (s.queue.length >= this.#opts.queueLimit) return this.#overflow(s);
    s.queue.push(msg);
    if (s.held) this.#release(s);
  }

  /** The session lost messages: it is told so on its next connect (or now, when one is held). */
  #overflow(s: Session): void {
    s.overflow = true;
    s.queue.length = 0;
    this.#unsubscribeAll(s);
    const h = s.held;
    if (h) {
      clearTimeout(h.timer);
      s.held = undefined;
      this.#drop(s);
      h.finish([{ ...h.reply, successful: false, error: '408::Queue full, messages were lost', advice: { reconnect: 'handshake', interval: 0 } }]);
    } else if (s.ws) {
      this.#wsSend(s.ws, [{ channel: '/meta/connect', clientId: s.id, successful: false, error: '408::Queue full, messages were lost', advice: { reconnect: 'handshake', interval: 0 } }]);
      this.#drop(s);
    }
  }

  #wsSend(ws: WebSocket, msgs: BayeuxMessage[]): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msgs));
  }

  #unsubscribeAll(s: Session): void {
    for (const c of s.subs) {
      const set = this.#byChannel.get(c);
      set?.delete(s);
      if (set?.size === 0) this.#byChannel.delete(c);
    }
    s.subs.clear();
  }

  /** Removes a session; a held connect is answered (unsuccessful, with a handshake advice). */
  #drop(s: Session): void {
    this.#unsubscribeAll(s);
    this.#sessions.delete(s.id);
    const h = s.held;
    if (h) {
      clearTimeout(h.timer);
      s.held = undefined;
      h.finish([{ ...h.reply, successful: false, error: '402::Session ended', advice: { reconnect: 'handshake', interval: 0 } }]);
    }
  }

  #expire(): void {
    const now = Date.now();
    for (const s of [...this.#sessions.values()]) {
      if (s.held || (s.ws && s.ws.readyState === s.ws.OPEN)) continue;
      if (now - s.idleSince > s.intervalMs + this.#opts.sessionExpiryMs) this.#drop(s);
    }
  }
}
