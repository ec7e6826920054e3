import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as wsModule from 'ws';
import { maskInto } from '#internal/engine/mask-kernel';
import { buildFrame, buildFrameInPlace, closeBody, FrameParser, type FrameSink } from '#internal/engine/ws-codec';

/** What a parser reported, in order. */
class Recorder implements FrameSink {
  data: Buffer[] = [];
  events: string[] = [];
  texts = 0;
  onData(chunk: Buffer, start: number, end: number): void {
    this.data.push(Buffer.from(chunk.subarray(start, end)));
  }
  onText(): void {
    this.texts++;
  }
  onPing(p: Buffer): void {
    this.events.push(`ping:${p.toString('hex')}`);
  }
  onPong(p: Buffer): void {
    this.events.push(`pong:${p.toString('hex')}`);
  }
  onClose(code: number, reason: Buffer): void {
    this.events.push(`close:${code}:${reason.toString()}`);
  }
  onProtocolError(code: number, message: string): void {
    this.events.push(`error:${code}:${message}`);
  }
  get bytes(): Buffer {
    return Buffer.concat(this.data);
  }
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function parse(wire: Buffer, splits: number[] = [], maxPayload = 2 ** 40): Recorder {
  const r = new Recorder();
  const p = new FrameParser(r, maxPayload);
  let at = 0;
  for (const s of [...splits.filter((x) => x > 0 && x < wire.length)].sort((a, b) => a - b)) {
    p.push(wire.subarray(at, s));
    at = s;
  }
  p.push(wire.subarray(at));
  return r;
}

/** A server frame (unmasked), any opcode/fin/length, for the tests. */
function serverFrame(opcode: number, payload: Buffer, fin = true, extra = 0): Buffer {
  const n = payload.length;
  const h = n < 126 ? Buffer.from([0, n]) : n < 65536 ? Buffer.from([0, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    h[1] = 127;
    h.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    h.writeUInt32BE(n >>> 0, 6);
  }
  h[0] = (fin ? 0x80 : 0) | extra | opcode;
  return Buffer.concat([h, payload]);
}

describe('ws-codec: RFC 6455 section 5.7 examples, byte for byte', () => {
  it('a single-frame unmasked text message', () => {
    const r = parse(hex('81 05 48 65 6c 6c 6f'));
    assert.equal(r.bytes.toString(), 'Hello');
    assert.equal(r.texts, 1);
  });
  it('the masked "Hello" of the RFC (key 37fa213d)', () => {
    const out = Buffer.alloc(5);
    maskInto(Buffer.from('Hello'), hex('37fa213d'), out, 0, 5);
    assert.deepEqual(Buffer.concat([hex('8185 37fa213d'), out]), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });
  it('a fragmented unmasked text message', () => {
    const r = parse(hex('01 03 48 65 6c  80 02 6c 6f'));
    assert.equal(r.bytes.toString(), 'Hello');
    assert.equal(r.texts, 1, 'one message, two frames');
  });
  it('an unmasked ping, and 256-byte and 64 KiB binary frames with 16- and 64-bit lengths', () => {
    const b256 = randomBytes(256);
    const b64k = randomBytes(65536);
    const wire = Buffer.concat([hex('89 05 48 65 6c 6c 6f'), hex('82 7e 01 00'), b256, hex('82 7f 00 00 00 00 00 01 00 00'), b64k]);
    const r = parse(wire);
    assert.deepEqual(r.events, [`ping:${Buffer.from('Hello').toString('hex')}`]);
    assert.ok(r.bytes.equals(Buffer.concat([b256, b64k])));
    assert.equal(r.texts, 0);
  });
  it('builds client frames with a 7-, 16- and 64-bit length and the zero mask when asked', () => {
    assert.deepEqual(buildFrame(2, Buffer.from('Hello'), 0, 5, true), hex('82 85 00000000 48 65 6c 6c 6f'));
    const b = randomBytes(300);
    assert.deepEqual(buildFrame(2, b, 0, 256, true), Buffer.concat([hex('82 fe 0100 00000000'), b.subarray(0, 256)]));
    const big = randomBytes(70_000);
    assert.deepEqual(buildFrame(2, big, 0, 70_000, true).subarray(0, 14), hex('82 ff 00000000 00011170 00000000'));
    assert.deepEqual(closeBody(1000, 'bye'), hex('03e8 627965'));
  });
  it('builds the same frames in place, the header in the room before the payload and nothing else touched', () => {
    for (const n of [0, 5, 125, 126, 256, 65_535, 65_536, 70_000]) {
      const room = 64;
      const backing = randomBytes(room + n + 8);
      const payload = backing.subarray(room, room + n);
      const original = Buffer.from(backing);
      const frame = buildFrameInPlace(2, payload, n, true);
      assert.deepEqual(frame, buildFrame(2, original, room, n, true), `${n} bytes`);
      assert.equal(frame.byteOffset + frame.length, payload.byteOffset + n, 'the frame ends where the payload does');
      const hs = frame.length - n;
      assert.deepEqual(backing.subarray(0, room - hs), original.subarray(0, room - hs), 'the bytes before the header stay');
      assert.deepEqual(backing.subarray(room + n), original.subarray(room + n), 'the bytes after the payload stay');
    }
  });
  it('masks with a fresh random key per frame', () => {
    const p = Buffer.alloc(16);
    const keys = new Set<string>();
    for (let i = 0; i < 2000; i++) keys.add(buildFrame(2, p, 0, 16, false).subarray(2, 6).toString('hex'));
    assert.ok(keys.size > 1990, `${keys.size} distinct keys of 2000`);
  });
});

describe('ws-codec: the parser refuses what a server must not send', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['a masked server frame', hex('82 85 37fa213d 7f9f4d5158'), 'error:1002:masked frame from the server'],
    ['RSV1 set', serverFrame(2, Buffer.from('x'), true, 0x40), 'error:1002:RSV bits set without a negotiated extension'],
    ['RSV3 set', serverFrame(2, Buffer.from('x'), true, 0x10), 'error:1002:RSV bits set without a negotiated extension'],
    ['opcode 3', serverFrame(3, Buffer.from('x')), 'error:1002:unknown opcode 3'],
    ['opcode 11', serverFrame(11, Buffer.from('x')), 'error:1002:unknown opcode 11'],
    ['a control frame over 125 bytes', serverFrame(9, Buffer.alloc(126)), 'error:1002:control frame longer than 125 bytes'],
    ['a fragmented ping', serverFrame(9, Buffer.from('x'), false), 'error:1002:fragmented control frame'],
    ['a continuation with no message', serverFrame(0, Buffer.from('x')), 'error:1002:continuation frame outside a fragmented message'],
    ['a new message inside a fragmented one', Buffer.concat([serverFrame(2, Buffer.from('a'), false), serverFrame(2, Buffer.from('b'))]), 'error:1002:new data frame inside a fragmented message'],
    ['a 1-byte close body', serverFrame(8, Buffer.from([3])), 'error:1002:close frame with a 1-byte body'],
    ['close code 1005 on the wire', serverFrame(8, hex('03ed')), 'error:1002:invalid close code 1005'],
    ['close code 2000', serverFrame(8, hex('07d0')), 'error:1002:invalid close code 2000'],
    ['a close reason that is not UTF-8', serverFrame(8, hex('03e8 ff')), 'error:1007:close reason is not UTF-8'],
  ];
  for (const [what, wire, want] of cases) {
    it(what, () => {
      for (const split of [[], [1], [2, 3]]) {
        const r = parse(Buffer.concat([wire, serverFrame(2, Buffer.from('after'))]), split);
        assert.deepEqual(r.events, [want]);
        assert.ok(!r.bytes.toString().includes('after'), 'nothing parsed after the error');
      }
    });
  }
  it('a message above maxPayload, counted across its fragments, is 1009', () => {
    const wire = Buffer.concat([serverFrame(2, Buffer.alloc(600), false), serverFrame(0, Buffer.alloc(600))]);
    assert.deepEqual(parse(wire, [], 1000).events, ['error:1009:message above maxPayload (1000 bytes)']);
    assert.deepEqual(parse(wire, [], 1200).events, []);
  });
  it('a close frame with no body reports 1005 and stops; with a code and reason reports both', () => {
    assert.deepEqual(parse(Buffer.concat([serverFrame(8, Buffer.alloc(0)), serverFrame(2, Buffer.from('x'))])).events, ['close:1005:']);
    assert.deepEqual(parse(serverFrame(8, closeBody(4001, 'gone'))).events, ['close:4001:gone']);
  });
});

/** ws exports its frame parser (`Receiver`), though @types/ws does not declare it. */
const Receiver = (wsModule as unknown as { Receiver: new (o: object) => import('node:stream').Writable }).Receiver;

describe('ws-codec: properties', () => {
  type Msg = { kind: 'data'; text: boolean; payload: Buffer; cuts: number[] } | { kind: 'ping'; payload: Buffer };
  const msg: fc.Arbitrary<Msg> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('data' as const),
        text: fc.boolean(),
        payload: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 140_000 }).map((n) => randomBytes(n))).map((u) => Buffer.from(u)),
        cuts: fc.array(fc.nat(), { maxLength: 4 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('ping' as const), payload: fc.uint8Array({ maxLength: 125 }).map((u) => Buffer.from(u)) }) },
  );

  it('any fragmentation, interleaved pings and any read split yield the same byte stream and events', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(fc.array(msg, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (msgs, splits) => {
        const wire: Buffer[] = [];
        const want: Buffer[] = [];
        const events: string[] = [];
        let texts = 0;
        for (const m of msgs) {
          if (m.kind === 'ping') {
            wire.push(serverFrame(9, m.payload));
            events.push(`ping:${m.payload.toString('hex')}`);
            continue;
          }
          want.push(m.payload);
          if (m.text) texts++;
          const cuts = [...new Set(m.cuts.map((c) => c % (m.payload.length + 1)))].sort((a, b) => a - b);
          const parts: Buffer[] = [];
          let at = 0;
          for (const c of cuts) {
            parts.push(m.payload.subarray(at, c));
            at = c;
          }
          parts.push(m.payload.subarray(at));
          parts.forEach((p, i) => {
            wire.push(serverFrame(i === 0 ? (m.text ? 1 : 2) : 0, p, i === parts.length - 1));
            // A pong between fragments: control frames may interleave a fragmented message.
            if (i < parts.length - 1) {
              wire.push(serverFrame(10, Buffer.from([i])));
              events.push(`pong:${Buffer.from([i]).toString('hex')}`);
            }
          });
        }
        const all = Buffer.concat(wire);
        const r = parse(all, splits.map((s) => s % (all.length + 1)));
        assert.ok(r.bytes.equals(Buffer.concat(want)));
        assert.deepEqual(r.events, events);
        assert.equal(r.texts, texts);
      }),
      { numRuns: 150 },
    );
  });

  it("frames the builder makes, copied or in place, are what ws's own Receiver (server side) reads", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 6 }), fc.boolean(), async (sizes, zero) => {
        const rx = new Receiver({ isServer: true, maxPayload: 0, skipUTF8Validation: true });
        rx.on('error', (e: Error) => assert.fail(e));
        const got: Buffer[] = [];
        rx.on('message', (d: Buffer) => got.push(Buffer.from(d)));
        const sent = sizes.map((n) => randomBytes(n + 3).subarray(3));
        sent.forEach((s, i) => {
          // Every other frame is built in place, after 14 bytes of room (the most a header takes).
          const backing = Buffer.concat([randomBytes(14), s]);
          rx.write(i % 2 === 0 ? buildFrame(2, backing, 14, s.length, zero) : buildFrameInPlace(2, backing.subarray(14), s.length, zero));
        });
        await new Promise<void>((r) => setImmediate(r));
        assert.equal(got.length, sent.length);
        got.forEach((g, i) => assert.ok(g.equals(sent[i]!), `message ${i}`));
      }),
      { numRuns: 60 },
    );
  });
});
