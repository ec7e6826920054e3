/** One engine, one cloud-like WebSocket server and one TCP target, all on port 0 and closed after the test. */
import type net from 'node:net';
import type { TestContext } from 'node:test';
import { createEngine, type Engine, type EngineOptions, type TunnelHandle, type TunnelSpec } from 'c8y-tunnel';
import { cloudLikeWss, tcpTarget } from './net.js';

export interface Rig {
  engine: Engine;
  cloud: Awaited<ReturnType<typeof cloudLikeWss>>;
  /** The target's port. */
  port: number;
  /** Opens a tunnel from the target to the cloud server, with extra spec fields. */
  open(extra?: Partial<TunnelSpec>): TunnelHandle;
}

export async function rig(
  t: TestContext,
  opts: { threads?: number; engine?: EngineOptions; echo?: boolean; onTarget?: (s: net.Socket) => void; cloud?: Parameters<typeof cloudLikeWss>[0] } = {},
): Promise<Rig> {
  const { port } = await tcpTarget(t, (s) => {
    if (opts.echo) s.pipe(s);
    opts.onTarget?.(s);
  });
  const cloud = await cloudLikeWss(opts.cloud);
  const engine = createEngine({ threads: opts.threads ?? 1, ...opts.engine });
  t.after(async () => {
    await engine.close({ graceMs: 500 });
    await cloud.close();
  });
  return { engine, cloud, port, open: (extra = {}) => engine.open({ host: '127.0.0.1', port, url: cloud.url(), ...extra }) };
}

/** Holds the cloud's upgrade answer until the returned function is called. */
export function gateUpgrades(r: Rig): () => void {
  let release!: () => void;
  const gate = new Promise<void>((res) => (release = res));
  r.cloud.wss.options.verifyClient = (_info: unknown, cb: (ok: boolean) => void) => void gate.then(() => cb(true));
  return release;
}
