/**
 * A TCP proxy between the agent and the in-process broker that reads the MQTT framing (fixed header and
 * remaining length, MQTT 3.1.1 section 2.2) of both directions and lets a test pass, swallow or cut at
 * one packet: a PUBACK or SUBACK that never comes back, a publish that reaches the broker on a link that
 * dies before its PUBACK returns. It forwards bytes unchanged; nothing in the agent or the broker is mocked.
 * Written by hand because the point is to act between two packets of one TCP stream.
 */
import net from 'node:net';
import { closeServer, listen0 } from './net.js';

/** One MQTT packet as it crossed the proxy. */
export interface Packet {
  /** 3 PUBLISH, 4 PUBACK, 8 SUBSCRIBE, 9 SUBACK, ... */
  type: number;
  flags: number;
  raw: Buffer;
  /** PUBLISH: topic and payload. */
  topic?: string;
  payload?: string;
  /** PUBLISH (QoS > 0), PUBACK, SUBSCRIBE, SUBACK: the packet identifier. */
  packetId?: number;
}

/** What to do with a packet: forward it, drop it, forward it and then cut both sockets, or cut at once. */
export type Verdict = 'pass' | 'drop' | 'pass-then-cut' | 'cut';

export interface MqttProxy {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export type Rule = (p: Packet, conn: number) => Verdict;

function parse(raw: Buffer): Packet {
  const type = raw[0]! >> 4;
  const flags = raw[0]! & 0x0f;
  let i = 1;
  while (raw[i]! & 0x80) i++;
  i++;
  const body = raw.subarray(i);
  const p: Packet = { type, flags, raw };
  if (type === 3) {
    const tlen = body.readUInt16BE(0);
    p.topic = body.subarray(2, 2 + tlen).toString('utf8');
    let j = 2 + tlen;
    if ((flags >> 1) & 3) {
      p.packetId = body.readUInt16BE(j);
      j += 2;
    }
    p.payload = body.subarray(j).toString('utf8');
  } else if ((type === 4 || type === 8 || type === 9) && body.length >= 2) {
    p.packetId = body.readUInt16BE(0);
  }
  return p;
}

/** Splits a byte stream into whole packets; keeps the rest for the next chunk. */
class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buf.length < 2) break;
      let len = 0;
      let mul = 1;
      let i = 1;
      let done = false;
      for (; i < 5 && i < this.buf.length; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if (!(b & 0x80)) {
          done = true;
          break;
        }
      }
      if (!done) break;
      const total = i + 1 + len;
      if (this.buf.length < total) break;
      out.push(this.buf.subarray(0, total));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }
}

/** Starts a proxy to `target` (mqtt://host:port); `up` sees agent-to-broker packets, `down` the others. */
export async function mqttProxy(target: string, rules: { up?: Rule; down?: Rule } = {}): Promise<MqttProxy> {
  const t = new URL(target);
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    const conn = connections++;
    const broker = net.connect(Number(t.port), t.hostname);
    for (const s of [client, broker]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        broker.destroy();
      });
    }
    let cutting = false;
    const wire = (from: net.Socket, to: net.Socket, rule: Rule | undefined): void => {
      const framer = new Framer();
      from.on('data', (chunk: Buffer) => {
        for (const raw of framer.push(chunk)) {
          if (to.destroyed || cutting) return;
          const v = rule ? rule(parse(raw), conn) : 'pass';
          if (v === 'drop') continue;
          if (v === 'cut') {
            client.destroy();
            broker.destroy();
            return;
          }
          if (v === 'pass-then-cut') {
            // Written first, then both sides cut: the broker gets it, the agent never hears back.
            cutting = true;
            to.write(raw, () => {
              client.destroy();
              broker.destroy();
            });
            from.pause();
            return;
          }
          to.write(raw);
        }
      });
    };
    wire(client, broker, rules.up);
    wire(broker, client, rules.down);
  });
  const port = await listen0(server);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () => closeServer(server, sockets),
  };
}
