/**
 * Scenario 8: the traffic real clients send, one tunnel each, every engine row beside a baseline fed the
 * same write sizes in the same run (runs alternating): the target writing 64 KiB and 1 KiB chunks (device
 * to cloud); the cloud sending 64 KiB, 16 KiB and 1 KiB WebSocket messages (cloud to device; go-c8y-cli
 * sends one message per 1,024-byte read); wss on the cloud leg beside a TCP-to-TLS relay; the JavaScript
 * mask beside the native one; and one 64 MiB frame, which the tunnel must stream rather than hold.
 */
import { wanted, type Ctx } from '../lib/context.js';
import { KiB, MiB } from '../lib/stats.js';
import type { Row, ScenarioResult } from '../lib/types.js';
import { throughputGroup, type Direction, type ThroughputSpec } from './throughput.js';

const size = (n: number): string => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);
/** The engine host without any native masking: the engine's JS kernel, and ws without bufferutil. */
export const JS_MASK_ENV = { C8Y_TUNNEL_MASK: 'js', WS_NO_BUFFER_UTIL: '1' };

export async function scenario8(ctx: Ctx): Promise<ScenarioResult> {
  const z = ctx.sizes;
  const base = { conns: 1, bytes: z.s8Bytes, warmup: z.s8Warmup, runs: z.s8Runs };
  const groups: ThroughputSpec[][] = [];
  /** An engine row and its baseline (relay or TLS relay), fed the same writes. */
  const pair = (dir: Direction, id: string, what: string, o: { writeSize: number; msgSize?: number; wss?: boolean }, extra: ThroughputSpec[] = []): void => {
    const baseKind = o.wss ? 'tlsrelay' : 'relay';
    const relayKey = `s8.${dir}.${id}.${baseKind}`;
    const dirText = dir === 'd2c' ? 'device to cloud' : 'cloud to device';
    const g: ThroughputSpec[] = [
      { ...base, key: relayKey, label: `${o.wss ? 'TCP-to-TLS Node relay x2' : 'plain Node relay x2 (pipe)'}, ${what}, ${dirText}`, chain: baseKind, direction: dir, writeSize: o.writeSize },
      { ...base, key: `s8.${dir}.${id}.engine`, label: `engine${o.wss ? ' over wss' : ''}, ${what}, ${dirText}`, chain: 'engine', direction: dir, baseline: relayKey, ...o },
      ...extra.map((x) => ({ ...x, baseline: relayKey })),
    ];
    groups.push(g.filter((x) => wanted(ctx, x.key)));
  };
  pair('d2c', 'w64k', 'target writes 64 KiB', { writeSize: 64 * KiB }, [
    { ...base, key: 's8.d2c.w64k.engine-jsmask', label: 'engine with the JS mask (C8Y_TUNNEL_MASK=js, WS_NO_BUFFER_UTIL=1), target writes 64 KiB, device to cloud', chain: 'engine', direction: 'd2c', writeSize: 64 * KiB, agentEnv: JS_MASK_ENV },
  ]);
  pair('d2c', 'w1k', 'target writes 1 KiB', { writeSize: KiB });
  for (const m of [64 * KiB, 16 * KiB, KiB]) pair('c2d', `m${m / KiB}k`, `${size(m)} WebSocket messages`, { writeSize: m, msgSize: m });
  pair('d2c', 'wss', 'target writes 64 KiB', { writeSize: 64 * KiB, wss: true });
  pair('c2d', 'wss', '64 KiB WebSocket messages', { writeSize: 64 * KiB, msgSize: 64 * KiB, wss: true });
  const frame = z.s8Frame;
  // One frame per run. maxPayload is raised so that an engine that assembles messages can run the row at all.
  const frameRow: ThroughputSpec = { key: `s8.c2d.frame${frame / MiB}m.engine`, label: `engine, one ${size(frame)} WebSocket frame per run, cloud to device`, chain: 'engine', direction: 'c2d', conns: 1, bytes: frame, warmup: frame, runs: z.s8Runs, msgSize: frame, spec: { maxPayload: 2 * frame } };
  if (wanted(ctx, frameRow.key)) groups.push([frameRow]);
  const rows: Row[] = [];
  for (const g of groups) if (g.length > 0) rows.push(...(await throughputGroup(ctx, g)));
  return {
    id: 's8',
    title: 'Traffic shapes: write and message sizes, wss, mask, one huge frame',
    description: `One tunnel per row, ${size(z.s8Bytes)} per run, median of ${z.s8Runs} run(s) after a ${size(z.s8Warmup)} warm-up; each engine row alternates its runs with its baseline fed the same write sizes (the source writes that many bytes per write(); cloud to device, the bench cloud sends exactly that many bytes per WebSocket message, as a client sending one message per read does). The TCP-to-TLS relay has TLS between its two relays (the one next to the target accepts it); wss rows use a certificate of the test CA. cpuRatio is the agent's CPU per GiB over that of the baseline's comparable hop: the relay that reads the source's writes (relay 2 device to cloud, relay 1 cloud to device; the TLS-accepting relay 2 over wss; bench/lib/baseline-hop.ts says why); the ratio to relay 2 stands beside it. The frame row sends one ${size(frame)} frame per run and reports the engine's peak of bytes queued toward the target and the agent's peak RSS.`,
    rows,
  };
}
