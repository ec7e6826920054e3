/**
 * A chain of processes between a load generator and a TCP target. Every hop is its own OS process.
 *
 *   direct      loadgen -> target
 *   relay       loadgen -> node relay -> node relay -> target              (2 hops, pipe())
 *   tlsrelay    loadgen -> node relay =TLS=> node relay -> target          (2 hops, pipe(); TCP-to-TLS baseline)
 *   socat       loadgen -> socat -> socat -> target                        (2 hops, -b 65536)
 *   engine      loadgen <- cloud (ws server, relays) <- engine -> target   (2 hops: agent and cloud)
 *   naive       loadgen <- cloud <- naive ws tunnel -> target              (2 hops)
 *   websockify  loadgen <- websockify <- naive ws tunnel -> target         (2 hops, Debian websockify as the cloud)
 *
 * The engine dials both legs, as a device agent does; the cloud hop relays each device WebSocket to the
 * load generator, as Cumulocity relays it to the user's client. With `wss` the cloud leg is TLS (the test
 * CA's certificate for 127.0.0.1, test/fixtures/tls), as in every real deployment.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { EngineOptions, TunnelSpec } from 'c8y-tunnel';
import { startNode, type Proc } from './ipc.js';
import { haveCommand, startExternal, type ExtProc } from './procstat.js';

export type ChainKind = 'direct' | 'relay' | 'tlsrelay' | 'socat' | 'engine' | 'naive' | 'websockify';
export type Role = 'sink' | 'source' | 'echo' | 'pinger';

/** Why a baseline cannot run, with the fix; undefined when it can. */
export function unavailable(kind: ChainKind): string | undefined {
  if (kind === 'socat' && !haveCommand('socat')) return 'socat is not installed: apt-get install -y socat';
  if (kind === 'websockify' && !haveCommand('websockify')) return 'websockify is not installed: apt-get install -y websockify';
  return undefined;
}

export interface ChainOptions {
  kind: ChainKind;
  engine?: EngineOptions;
  /** Extra spec fields for every tunnel (zeroMask, highWaterMark, ...). */
  spec?: Partial<TunnelSpec>;
  /** Run the agent under a wrapper (profiling). */
  agentWrap?: string[];
  agentExecArgv?: string[];
  agentEnv?: Record<string, string>;
  distDir: string;
  /** engine/naive: the cloud leg is wss (TLS) instead of ws. */
  wss?: boolean;
  /** engine/naive: the cloud sends what the load generator writes as WebSocket messages of exactly this many bytes. */
  msgSize?: number;
}

/** The test CA's TLS files (certificate for 127.0.0.1 and localhost), from the repository. */
function tlsFiles(distDir: string): { certFile: string; keyFile: string; caFile: string } {
  const dir = resolve(distDir, '../../test/fixtures/tls');
  return { certFile: `${dir}/server.pem`, keyFile: `${dir}/server.key`, caFile: `${dir}/ca.pem` };
}

/** One set of connections through the chain. */
export interface Link {
  target: number;
  loadgen: number;
  /** Agent-side open result (engine/naive/websockify). */
  open?: { opened: number; failed: number; firstError?: string; elapsedMs: number; setupP50Ms: number; setupP99Ms: number };
}

/** An accounted process of the chain. */
export interface Member {
  role: 'agent' | 'cloud' | 'relay1' | 'relay2' | 'target' | 'loadgen';
  name: string;
  pid: number;
}

export class Chain {
  readonly kind: ChainKind;
  target!: Proc;
  loadgen!: Proc;
  agent: Proc | null = null;
  cloud: Proc | null = null;
  relays: Proc[] = [];
  private externals: ExtProc[] = [];
  private cloudPort = 0;
  private keySeq = 0;

  private constructor(private readonly o: ChainOptions) {
    this.kind = o.kind;
  }

  /** Starts the chain's long-lived processes. */
  static async start(o: ChainOptions): Promise<Chain> {
    const c = new Chain(o);
    const p = (n: string): string => `${o.distDir}/procs/${n}.js`;
    const q = { quiet: true };
    const starts: Array<Promise<unknown>> = [
      startNode('target', p('tcp-end'), q).then((x) => (c.target = x)),
      startNode('loadgen', p('tcp-end'), q).then((x) => (c.loadgen = x)),
    ];
    if (o.kind === 'relay' || o.kind === 'tlsrelay') {
      starts.push(startNode('relay1', p('relay'), q).then((x) => (c.relays[0] = x)));
      starts.push(startNode('relay2', p('relay'), q).then((x) => (c.relays[1] = x)));
    }
    if (o.kind === 'engine' || o.kind === 'naive' || o.kind === 'websockify') {
      // Unless a row says otherwise, the engine runs as the agent runs it: one worker thread. A worker
      // carries at most tunnelsPerWorker tunnels (more wait in the queue), so the scale rows raise it.
      const hostOpts = o.kind === 'engine' ? { impl: 'engine', engine: { threads: 1, tunnelsPerWorker: 10_000, ...o.engine } } : { impl: 'naive' };
      const agentOpts: Parameters<typeof startNode>[2] = { quiet: !o.agentWrap, args: [JSON.stringify(hostOpts)], execArgv: ['--expose-gc', ...(o.agentExecArgv ?? [])] };
      if (o.agentWrap) agentOpts.wrap = o.agentWrap;
      if (o.agentEnv) agentOpts.env = o.agentEnv;
      starts.push(startNode('agent', p('engine-host'), agentOpts).then((x) => (c.agent = x)));
    }
    if (o.kind === 'engine' || o.kind === 'naive') {
      starts.push(
        startNode('cloud', p('cloud'), q).then(async (x) => {
          c.cloud = x;
          c.cloudPort = (await x.call<{ port: number }>('listen', o.wss ? { tls: tlsFiles(o.distDir) } : {})).port;
        }),
      );
    }
    await Promise.all(starts);
    return c;
  }

  /** The processes to account, in a fixed order. */
  members(): Member[] {
    const m: Member[] = [];
    if (this.agent) m.push({ role: 'agent', name: this.kind === 'engine' ? 'engine' : 'naive agent', pid: this.agent.pid });
    if (this.cloud) m.push({ role: 'cloud', name: 'bench cloud', pid: this.cloud.pid });
    for (const e of this.externals) m.push({ role: e.name.endsWith('2') ? 'relay2' : e.name === 'websockify' ? 'cloud' : 'relay1', name: e.name, pid: e.pid });
    this.relays.forEach((r, i) => m.push({ role: i === 0 ? 'relay1' : 'relay2', name: `node relay ${i + 1}`, pid: r.pid }));
    m.push({ role: 'target', name: 'target', pid: this.target.pid });
    m.push({ role: 'loadgen', name: 'loadgen', pid: this.loadgen.pid });
    return m;
  }

  /** Opens `n` connections end to end; the target plays `targetRole`, the load generator `loadRole`. */
  async connect(n: number, targetRole: Role, loadRole: Role, timeoutMs = 120_000): Promise<Link> {
    const t = await this.target.call<{ group: number; port: number }>('listen', { role: targetRole });
    let loadgen: number;
    let open: Link['open'];
    switch (this.kind) {
      case 'direct':
        loadgen = (await this.loadgen.call<{ group: number }>('dial', { port: t.port, count: n, role: loadRole }, timeoutMs)).group;
        break;
      case 'relay':
      case 'tlsrelay': {
        // TCP-to-TLS: the relay next to the target (the agent's place) accepts TLS, the first one dials it.
        const f = this.kind === 'tlsrelay' ? tlsFiles(this.o.distDir) : null;
        const r2 = await this.relays[1]!.call<{ port: number }>('listen', { toPort: t.port, ...(f ? { tlsIn: { certFile: f.certFile, keyFile: f.keyFile } } : {}) });
        const r1 = await this.relays[0]!.call<{ port: number }>('listen', { toPort: r2.port, ...(f ? { tlsOut: { caFile: f.caFile } } : {}) });
        loadgen = (await this.loadgen.call<{ group: number }>('dial', { port: r1.port, count: n, role: loadRole }, timeoutMs)).group;
        break;
      }
      case 'socat': {
        const s2 = await this.socat('socat2', t.port);
        const s1 = await this.socat('socat1', s2.port);
        loadgen = (await this.loadgen.call<{ group: number }>('dial', { port: s1.port, count: n, role: loadRole, window: 16 }, timeoutMs)).group;
        break;
      }
      default: {
        const l = await this.loadgen.call<{ group: number; port: number }>('listen', { role: loadRole });
        loadgen = l.group;
        let url: string;
        if (this.kind === 'websockify') {
          const w = await startExternal('websockify', 'websockify', [`127.0.0.1:0`, `127.0.0.1:${l.port}`]);
          this.externals.push(w);
          url = `ws://127.0.0.1:${w.port}/service/remoteaccess/device/`;
        } else {
          url = `${this.o.wss ? 'wss' : 'ws'}://127.0.0.1:${this.cloudPort}/service/remoteaccess/device/`;
        }
        const prefix = `r${l.port}${this.o.msgSize ? `m${this.o.msgSize}` : ''}-${++this.keySeq}-`;
        const spec: Partial<TunnelSpec> = { ...this.o.spec };
        if (this.o.wss) spec.tls = { ...spec.tls, ca: [readFileSync(tlsFiles(this.o.distDir).caFile, 'utf8')] };
        open = await this.agent!.call<NonNullable<Link['open']>>('open', { count: n, host: '127.0.0.1', port: t.port, url, keyPrefix: prefix, spec, timeoutMs: timeoutMs - 5_000 }, timeoutMs);
        if (open.failed > 0) throw new Error(`${open.failed} of ${n} tunnels failed: ${open.firstError}`);
        await this.loadgen.call('waitConns', { group: loadgen, count: n, timeoutMs }, timeoutMs + 1_000);
      }
    }
    await this.target.call('waitConns', { group: t.group, count: n, timeoutMs }, timeoutMs + 1_000);
    const link: Link = { target: t.group, loadgen };
    if (open) link.open = open;
    return link;
  }

  /**
   * Opens `n` idle tunnels whose cloud end holds the session (no relay, no load generator): the idle
   * scale scenario. The target holds its end too.
   */
  async connectHold(n: number, window = 256, timeoutMs = 120_000): Promise<Link & { open: NonNullable<Link['open']> }> {
    if (!this.agent || !this.cloud) throw new Error(`connectHold needs an agent chain, not ${this.kind}`);
    const t = await this.target.call<{ group: number; port: number }>('listen', { role: 'sink' });
    const url = `ws://127.0.0.1:${this.cloudPort}/service/remoteaccess/device/`;
    const open = await this.agent.call<NonNullable<Link['open']>>('open', { count: n, host: '127.0.0.1', port: t.port, url, keyPrefix: `h${++this.keySeq}-`, spec: this.o.spec ?? {}, window, timeoutMs: timeoutMs - 5_000 }, timeoutMs);
    if (open.failed > 0) throw new Error(`${open.failed} of ${n} tunnels failed: ${open.firstError}`);
    await this.target.call('waitConns', { group: t.group, count: n, timeoutMs }, timeoutMs + 1_000);
    return { target: t.group, loadgen: 0, open };
  }

  private async socat(name: string, toPort: number): Promise<ExtProc> {
    const s = await startExternal(name, 'socat', ['-b', '65536', `TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork,backlog=4096`, `TCP:127.0.0.1:${toPort},nodelay`]);
    this.externals.push(s);
    return s;
  }

  /** Ends every connection of a link and waits for the agent to drop its tunnels. */
  async disconnect(link: Link): Promise<void> {
    await Promise.all([link.loadgen ? this.loadgen.call('closeAll', { group: link.loadgen }) : null, this.target.call('closeAll', { group: link.target })]);
    if (this.agent) await this.agent.call('closeAll', { timeoutMs: 10_000 }, 20_000);
    for (const e of this.externals.splice(0)) await e.stop();
  }

  async stop(): Promise<void> {
    for (const e of this.externals.splice(0)) await e.stop();
    if (this.agent) {
      try {
        await this.agent.call('shutdown', {}, 10_000);
      } catch {
        // stopping anyway
      }
    }
    await Promise.all([this.target, this.loadgen, this.agent, this.cloud, ...this.relays].filter((x): x is Proc => !!x).map((x) => x.stop()));
  }
}
