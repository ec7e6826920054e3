/**
 * Which hop of a two-relay baseline chain an engine row of scenario 8 is compared with.
 *
 * A hop's CPU depends on the writes it reads: the hop that reads the source's writes directly reads them
 * at the source's sizes (1 KiB writes, 1 KiB reads), while the hop after it reads what the first relay
 * forwarded, coalesced by the pipeline. The agent reads the writes of its source directly: the target's
 * (device to cloud) or the bench cloud's, one WebSocket message each (cloud to device). So its baseline is
 * the relay that reads the load's writes: relay 2 device to cloud (next to the target, the source), relay 1
 * cloud to device (next to the load generator, the source). Over wss the baseline is the TLS-accepting
 * relay (relay 2) in both directions: like the agent, it terminates TLS; the TLS records it reads carry the
 * source's write sizes as the cloud's do.
 * The relay next to the target is kept beside it (`hopCpuPerGiB`) in the report, so both readings show.
 * The throughput targets use the same hops for s1's rows when the peers set the pace (targets.ts).
 */
import type { Row } from './types.js';

/** The key of an s8 engine row's baseline row, or undefined for rows without one. */
export function baselineKeyOf(key: string): string | undefined {
  if (!key.startsWith('s8.') || !/\.engine(-[a-z]+)?$/.test(key) || key.includes('.frame')) return undefined;
  return key.replace(/\.engine(-[a-z]+)?$/, key.includes('.wss.') ? '.tlsrelay' : '.relay');
}

/** The role of the relay hop that reads the source's writes as the agent does (see above). */
export function baselineRole(baseKey: string): 'relay1' | 'relay2' {
  return (baseKey.startsWith('s8.c2d.') || baseKey.startsWith('s1.c2d.')) && baseKey.endsWith('.relay') ? 'relay1' : 'relay2';
}

/** The comparable hop's name, as the report and the targets print it. */
export function hopLabel(baseKey: string): string {
  return baselineRole(baseKey) === 'relay1' ? 'relay 1' : 'relay 2';
}

/** CPU-s/GiB of a baseline row's comparable hop. */
export function baselineHopCpu(base: Row | undefined): number | undefined {
  if (!base || base.status !== 'ok') return undefined;
  return base.procs?.find((p) => p.role === baselineRole(base.key))?.cpuPerGiB ?? base.metrics.hopCpuPerGiB;
}

/** The agent's CPU per GiB over its baseline hop's, same run; undefined when either is missing. */
export function cpuRatioOf(row: Row, base: Row | undefined): number | undefined {
  const a = row.status === 'ok' ? row.metrics.hopCpuPerGiB : undefined;
  const b = baselineHopCpu(base);
  return a === undefined || !b ? undefined : Math.round((a / b) * 1000) / 1000;
}
