/**
 * A tunnel's sockets and timers, wired to the tunnel without a closure: every listener is a module-level
 * function that finds its tunnel through a symbol on the emitter (`this`), and every timer gets its tunnel
 * as its argument, so an idle tunnel costs no closures. The listeners only hand the event on; the tunnel
 * never throws from one, and every socket has an error listener, so nothing here takes a thread down.
 */
import net from 'node:net';
import { KiB } from '../constants.js';
import type { WireError } from '../errors.js';
import { cloudReadBuffer, readBuffer } from './read-buffer.js';
import type { EndCode, EndedBy } from './types.js';

const kTunnel = Symbol('tunnel');
/** A socket that carries its tunnel. */
export type Tagged<T> = T & { [kTunnel]: LegEvents };
const tunnelOf = (e: object): LegEvents => (e as Tagged<object>)[kTunnel];

/**
 * The target socket's writable high-water mark: cloud reads pause once this much waits toward the target.
 * Set explicitly because Node's default changed from 16 KiB to 64 KiB in Node 22, and the bound toward the
 * target (this + one burst of cloud reads, tunnel.ts) is documented and tested the same on every supported line.
 */
const TARGET_WRITE_HIGH_WATER = 16 * KiB;

/** What the listeners and timers hand their events to (the tunnel). */
export interface LegEvents {
  /** A target read into the shared buffer; returns false to pause the target. */
  fromTarget(buf: Buffer, n: number): boolean;
  targetConnected(): void;
  targetDrained(): void;
  targetGone(): void;
  targetFailed(err: NodeJS.ErrnoException): void;
  /** One cloud socket read, Node's own chunk ('data': a socket dialed through a proxy, and the upgrade's head). */
  fromCloud(chunk: Buffer): void;
  /** One cloud socket read into the shared cloud buffer, `buf[0, n)` (onread: a socket dialed here). */
  fromCloudRead(socket: net.Socket, buf: Buffer, n: number): void;
  cloudDrained(): void;
  cloudGone(): void;
  cloudFailed(err: NodeJS.ErrnoException): void;
  endFirst(by: EndedBy, code: EndCode): void;
  failSetup(err: WireError): void;
  endTargetDue(): void;
  graceExpired(): void;
  burstDue(): void;
  readonly targetName: string;
}

/** Opens the TCP connection to the target, read through `onread` into the shared buffer (read-buffer.ts). */
export function connectTarget(t: LegEvents, host: string, port: number): Tagged<net.Socket> {
  const sock = net.connect({
    host,
    port,
    noDelay: true,
    writableHighWaterMark: TARGET_WRITE_HIGH_WATER,
    onread: { buffer: readBuffer, callback: onTargetRead },
  } as net.NetConnectOpts) as Tagged<net.Socket>;
  sock[kTunnel] = t;
  sock.on('connect', onTargetConnect);
  sock.on('end', onTargetEnd);
  sock.on('error', onTargetError);
  sock.on('close', onTargetClose);
  sock.on('drain', onTargetDrain);
  return sock;
}

/**
 * `onread` of the cloud sockets dial.ts opens itself (not through a proxy: a TLS socket over another
 * socket ignores the option): reads into the shared cloud buffer (read-buffer.ts). Such a socket is tagged
 * when it is made (tagCloud), since its reads of the upgrade's answer come here too.
 */
export const CLOUD_ONREAD = { buffer: cloudReadBuffer, callback: onCloudRead };

/** Marks a socket opened with CLOUD_ONREAD as `t`'s. */
export function tagCloud(t: LegEvents, socket: net.Socket): void {
  (socket as Tagged<net.Socket>)[kTunnel] = t;
}

/** Takes over the cloud socket after the upgrade (dial.ts). */
export function adoptCloud(t: LegEvents, socket: net.Socket): Tagged<net.Socket> {
  const s = socket as Tagged<net.Socket>;
  // A socket read through onread (tagged when dialed) has no 'data' to listen to.
  if (s[kTunnel] === undefined) s.on('data', onCloudData);
  s[kTunnel] = t;
  s.on('error', onCloudError);
  s.on('close', onCloudClose);
  s.on('drain', onCloudDrain);
  return s;
}

// ---- listeners (`this` is the emitter) ----
// One trampoline a line: each hands the event to the socket's tunnel, and none is a closure.

function onTargetRead(this: net.Socket, n: number, buf: Buffer): boolean { return tunnelOf(this).fromTarget(buf, n); }
function onTargetConnect(this: net.Socket): void { tunnelOf(this).targetConnected(); }
function onTargetEnd(this: net.Socket): void { tunnelOf(this).endFirst('tcp', 'TUN_END_TCP_EOF'); }
function onTargetDrain(this: net.Socket): void { tunnelOf(this).targetDrained(); }
function onTargetClose(this: net.Socket): void { tunnelOf(this).targetGone(); }
function onTargetError(this: net.Socket, err: NodeJS.ErrnoException): void { tunnelOf(this).targetFailed(err); }
function onCloudData(this: net.Socket, chunk: Buffer): void { tunnelOf(this).fromCloud(chunk); }
function onCloudRead(this: net.Socket, n: number, buf: Buffer): boolean { tunnelOf(this).fromCloudRead(this, buf, n); return true; }
function onCloudDrain(this: net.Socket): void { tunnelOf(this).cloudDrained(); }
function onCloudClose(this: net.Socket): void { tunnelOf(this).cloudGone(); }
function onCloudError(this: net.Socket, err: NodeJS.ErrnoException): void { tunnelOf(this).cloudFailed(err); }

// ---- timers (the tunnel is the argument) ----

export function onTcpTimeout(t: LegEvents): void {
  t.failSetup({ code: 'TUN_ERR_TCP_TIMEOUT', message: `${t.targetName} did not accept the connection in time` });
}
export function onWsTimeout(t: LegEvents): void {
  t.failSetup({ code: 'TUN_ERR_WS_TIMEOUT', message: 'cloud did not answer the WebSocket upgrade in time' });
}
export function onEndTargetDue(t: LegEvents): void {
  t.endTargetDue();
}
export function onGraceExpired(t: LegEvents): void {
  t.graceExpired();
}
/** The check phase after a burst of full cloud reads (setImmediate; tunnel.ts). */
export function onBurstDue(t: LegEvents): void {
  t.burstDue();
}
