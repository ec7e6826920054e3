/**
 * One remote access session: the client leg, the device leg, and the relay between them.
 * Frames pass unchanged as binary frames; the only per-message work is a length add and ws's own
 * framing. Backpressure: when the receiving leg holds more than HIGH_WATER unsent bytes, the sending
 * leg is paused until that frame's write callback fires (ws has no 'drain' event).
 */
import type { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { SessionInfo, SimEvents } from './types.js';

/** Unsent bytes on a leg above which the other leg stops reading. */
export const HIGH_WATER = 256 * 1024;

const OPEN = 1;

/** A session and its relay. */
export class Session {
  state: SessionInfo['state'] = 'waiting';
  clientToDevice = 0;
  deviceToClient = 0;
  client: WebSocket | undefined;
  device: WebSocket | undefined;
  /** The key has been used (device upgrade in progress or done). */
  claimed = false;
  /** Counted among the finished sessions. */
  retired = false;
  readonly createdAt = Date.now();
  /** Sweep bookkeeping for the idle timeout. */
  lastTotal = 0;
  lastActive = Date.now();
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #errored = false;
  #openLegs = 0;
  #closedEmitted = false;

  constructor(
    readonly key: string,
    readonly operationId: string,
    readonly deviceId: string,
    readonly clientless: boolean,
    private readonly pendingLimit: number,
    private readonly events: EventEmitter<SimEvents>,
  ) {}

  /** The counters as the public API shows them. */
  info(): SessionInfo {
    return { key: this.key, operationId: this.operationId, deviceId: this.deviceId, state: this.state, clientToDevice: this.clientToDevice, deviceToClient: this.deviceToClient };
  }

  /** Wires the client leg; its bytes are held until the device joins. */
  attachClient(ws: WebSocket): void {
    this.client = ws;
    this.#openLegs++;
    ws.on('error', () => {
      this.#errored = true;
    });
    ws.on('message', (data: Buffer) => {
      this.clientToDevice += data.length;
      const device = this.device;
      if (this.state === 'paired' && device) {
        relay(data, ws, device);
      } else if (this.state === 'waiting') {
        this.#pending.push(data);
        this.#pendingBytes += data.length;
        // Bounded: stop reading the client (TCP backpressure) once the limit is reached.
        if (this.#pendingBytes >= this.pendingLimit) ws.pause();
      }
    });
    ws.on('close', () => this.#legClosed(this.device));
  }

  /** Wires the device leg, flushes held client bytes and starts relaying. */
  attachDevice(ws: WebSocket): void {
    this.device = ws;
    this.#openLegs++;
    this.state = 'paired';
    this.lastActive = Date.now();
    ws.on('error', () => {
      this.#errored = true;
    });
    ws.on('message', (data: Buffer) => {
      this.deviceToClient += data.length;
      const client = this.client;
      if (client) relay(data, ws, client);
    });
    ws.on('close', () => this.#legClosed(this.client));
    const client = this.client;
    if (client) {
      const held = this.#pending;
      this.#pending = [];
      this.#pendingBytes = 0;
      // A client paused at pendingClientBytesLimit is resumed once the whole flush has been written to the
      // device leg (the last frame's write callback), however large the limit; before that, reading it would
      // only grow the device leg's backlog.
      const paused = client.isPaused;
      for (let i = 0; i < held.length; i++) {
        if (paused && i === held.length - 1) ws.send(held[i]!, { binary: true }, () => resumeIfOpen(client));
        else relay(held[i]!, client, ws);
      }
      if (paused && held.length === 0) client.resume();
    }
    this.events.emit('session:paired', this.info());
    // The client may have gone while the device upgrade was in flight.
    if (!this.clientless && (!client || client.readyState !== OPEN)) this.close(1000, 'client gone');
  }

  #legClosed(other: WebSocket | undefined): void {
    this.#openLegs--;
    if (other && other.readyState === OPEN) other.close(this.#errored ? 1011 : 1000);
    this.markClosed();
  }

  /** Marks the session closed; emits 'session:closed' once no leg is open. */
  markClosed(): void {
    this.state = 'closed';
    this.#pending = [];
    if (this.#openLegs <= 0 && !this.#closedEmitted) {
      this.#closedEmitted = true;
      this.events.emit('session:closed', this.info());
    }
  }

  /** Closes every open leg with `code`. */
  close(code: number, reason = ''): void {
    if (this.client && this.client.readyState <= OPEN) this.client.close(code, reason);
    if (this.device && this.device.readyState <= OPEN) this.device.close(code, reason);
    if (!this.client && !this.device) this.markClosed();
  }

  /** Drops the device leg without a close frame. */
  dropDevice(): boolean {
    if (!this.device || this.device.readyState > OPEN) return false;
    this.device.terminate();
    return true;
  }
}

function resumeIfOpen(ws: WebSocket): void {
  if (ws.isPaused && ws.readyState === OPEN) ws.resume();
}

/** Sends one frame from `from` to `to`, pausing `from` while `to` is backed up. */
function relay(data: Buffer, from: WebSocket, to: WebSocket): void {
  if (to.readyState !== OPEN) return;
  if (to.bufferedAmount + data.length > HIGH_WATER && !from.isPaused) {
    from.pause();
    to.send(data, { binary: true }, () => from.resume());
  } else {
    to.send(data, { binary: true });
  }
}
