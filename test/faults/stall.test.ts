/**
 * Fault 12: a stalled reader on either side. The proof that memory stays bounded is end to end: while
 * one end does not read, the other end can only get a bounded number of bytes out (kernel buffers plus
 * the agent's and the emulator's high-water marks), however much it tries to send; once the reader
 * resumes, every byte arrives (sha256).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { describe, it } from 'node:test';
import { liveArrayBuffers } from '../helpers/gc.js';
import { withTimeout } from '../helpers/net.js';
import { Sink, chunkAt, pumpTcp } from '../helpers/stream.js';
import { statuses } from '../helpers/agent-rig.js';
import { closedFor, faultRig, lastOp, tcpTarget } from '../helpers/fault-rig.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The most a kernel may hold in one loopback hop: the receiver's buffer plus the sender's, each at the
 * largest size TCP autotuning may grow it to (the third field of tcp_rmem and tcp_wmem). Machines differ
 * a lot (this one lets a receive buffer grow to 32 MiB), so the end-to-end bound is derived, not guessed.
 */
function hopAllowance(): number {
  const max = (name: string, fallback: number): number => {
    try {
      const v = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
      return Number.isSafeInteger(v) && v > 0 ? v : fallback;
    } catch {
      return fallback;
    }
  };
  return max('tcp_rmem', 6 * MiB) + max('tcp_wmem', 4 * MiB);
}

/**
 * What may pile up across the chain while a reader stalls: three loopback hops (client and emulator,
 * emulator and agent, agent and target) at the kernel's allowance, plus the emulator's and the agent's
 * high-water marks (well under 8 MiB together).
 */
const BOUND = 3 * hopAllowance() + 8 * MiB;
/** More than the chain can hold: an unbounded buffer anywhere lets it all out, and the bound fails. */
const TOTAL = BOUND + 32 * MiB;
/** Once stalled, the amount out must stay put: it may not creep up into some unbounded buffer. */
const CREEP = 1 * MiB;
/**
 * The agent's own share, from its 'session:closed' summary: its high-water mark (256 KiB by default)
 * plus one burst of cloud reads (at most 256 KiB) toward the target; the high-water mark plus one
 * 64 KiB read (and a frame header) toward the cloud.
 */
const AGENT_DOWN = 512 * KiB;
const AGENT_UP = 256 * KiB + 64 * KiB + 16;

async function target(t: { after(fn: () => unknown): void }, onConn: (s: net.Socket) => void): Promise<number> {
  return (await tcpTarget(t, onConn)).port;
}

describe('faults: stalled readers', () => {
  it('12a. the client stops reading: the target is held back (bounded bytes in flight), the bystander keeps working, then every byte arrives', { timeout: 30_000 }, async (t) => {
    const r = await faultRig(t);
    let sock: net.Socket | undefined;
    let sent: Promise<string> = Promise.resolve('');
    const port = await target(t, (s) => {
      sock = s;
      sent = pumpTcp(s, TOTAL, 12);
    });
    const { id: configId } = await r.sim.createConfiguration(r.deviceId, { name: 'flood', hostname: '127.0.0.1', port });
    const ws = await r.client(configId);
    ws.pause(); // the client stalls from the start
    const sink = new Sink(TOTAL);
    ws.on('message', sink.push);
    await r.sim.waitForOperationStatus(lastOp(r).id, 'SUCCESSFUL', 5000);
    await new Promise((res) => setTimeout(res, 1000));
    const out1 = sock!.bytesWritten - sock!.writableLength;
    await new Promise((res) => setTimeout(res, 1000));
    const out = sock!.bytesWritten - sock!.writableLength;
    assert.ok(out < BOUND, `the target got ${(out / MiB).toFixed(1)} MiB out while the client read nothing`);
    assert.ok(out - out1 < CREEP, `still creeping: ${(out1 / MiB).toFixed(1)} -> ${(out / MiB).toFixed(1)} MiB`);
    assert.equal(sink.received, 0);
    await r.bystander.check();
    const live0 = await liveArrayBuffers();
    ws.resume();
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes after resume'), await sent);
    // Once delivered, nothing in this process (the emulator, the client) holds on to what went through.
    const held = (await liveArrayBuffers()) - live0;
    assert.ok(held < 8 * MiB, `${(held / MiB).toFixed(1)} MiB still held after delivery`);
    assert.deepEqual(statuses(r.sim, lastOp(r).id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    ws.close();
    const s = await closedFor(r.ends, lastOp(r).c8y_RemoteAccessConnect.connectionKey);
    assert.equal(s.bytesUp, TOTAL);
    assert.ok(s.peakBufferedUp <= AGENT_UP, `the agent held ${s.peakBufferedUp} bytes toward the cloud`);
  });

  it('12b. the target stops reading: the client is held back (bounded bytes in flight), the bystander keeps working, then every byte arrives', { timeout: 30_000 }, async (t) => {
    const r = await faultRig(t);
    let sock: net.Socket | undefined;
    const sink = new Sink(TOTAL);
    const port = await target(t, (s) => {
      sock = s;
      s.pause(); // the target stalls from the start
      s.on('data', sink.push);
    });
    const { id: configId } = await r.sim.createConfiguration(r.deviceId, { name: 'stalled', hostname: '127.0.0.1', port });
    const ws = await r.client(configId);
    await r.sim.waitForOperationStatus(lastOp(r).id, 'SUCCESSFUL', 5000);
    // The client sends as fast as its socket takes bytes (ws's own buffer kept under 1 MiB).
    const hash = createHash('sha256');
    let i = 0;
    let handed = 0;
    const flood = (): void => {
      while (handed < TOTAL && ws.bufferedAmount < MiB && ws.readyState === ws.OPEN) {
        const c = chunkAt(i++, 64 * 1024, 13);
        hash.update(c);
        handed += c.length;
        ws.send(c);
      }
      if (handed < TOTAL && ws.readyState === ws.OPEN) setTimeout(flood, 2);
    };
    flood();
    await new Promise((res) => setTimeout(res, 1000));
    const out1 = handed - ws.bufferedAmount;
    await new Promise((res) => setTimeout(res, 1000));
    const out = handed - ws.bufferedAmount;
    assert.ok(out < BOUND, `the client got ${(out / MiB).toFixed(1)} MiB out while the target read nothing`);
    assert.ok(out - out1 < CREEP, `still creeping: ${(out1 / MiB).toFixed(1)} -> ${(out / MiB).toFixed(1)} MiB`);
    assert.equal(sink.received, 0);
    await r.bystander.check();
    sock!.resume();
    assert.equal(await withTimeout(sink.done, 20_000, 'all bytes after resume'), hash.digest('hex'));
    assert.deepEqual(statuses(r.sim, lastOp(r).id), ['PENDING', 'EXECUTING', 'SUCCESSFUL']);
    ws.close();
    const s = await closedFor(r.ends, lastOp(r).c8y_RemoteAccessConnect.connectionKey);
    assert.equal(s.bytesDown, TOTAL);
    assert.ok(s.peakBufferedDown <= AGENT_DOWN, `the agent held ${s.peakBufferedDown} bytes toward the target`);
  });
});
