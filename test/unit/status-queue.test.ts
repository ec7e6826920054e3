import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusQueue, type OutboxMessage } from '#internal/agent/status-queue';

function msg(n: number): OutboxMessage {
  return { topic: 's/us', payload: `m${n}` };
}

describe('status queue', () => {
  it('queues while detached and flushes in order on attach', () => {
    const q = new StatusQueue();
    for (let i = 0; i < 5; i++) q.push(msg(i));
    assert.equal(q.size, 5);
    const sent: string[] = [];
    q.attach((m, done) => {
      sent.push(m.payload);
      done();
    });
    assert.deepEqual(sent, ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(q.size, 0);
  });

  it('sends at once while attached without waiting for acks', () => {
    const q = new StatusQueue();
    const acks: Array<() => void> = [];
    const sent: string[] = [];
    q.attach((m, done) => {
      sent.push(m.payload);
      acks.push(() => done());
    });
    q.push(msg(1));
    q.push(msg(2));
    assert.deepEqual(sent, ['m1', 'm2']);
    assert.equal(q.size, 2);
    for (const a of acks) a();
    assert.equal(q.size, 0);
  });

  it('re-queues unacknowledged messages in front, in order, when the link drops', async () => {
    const q = new StatusQueue();
    const first: string[] = [];
    const acks: Array<(e?: Error) => void> = [];
    q.attach((m, done) => {
      first.push(m.payload);
      acks.push(done);
    });
    q.push(msg(1));
    q.push(msg(2));
    q.push(msg(3));
    acks[0]!(); // m1 acked
    q.detach();
    q.push(msg(4)); // while down
    acks[1]!(new Error('connection closed')); // late callbacks of the old link are ignored
    acks[2]!();
    assert.equal(q.size, 3);
    const second: string[] = [];
    q.attach((m, done) => {
      second.push(m.payload);
      done();
    });
    assert.deepEqual(second, ['m2', 'm3', 'm4']);
    assert.equal(q.size, 0);
    await q.drained();
  });

  it('keeps the order when the link drops in the middle of a flush', () => {
    const q = new StatusQueue();
    for (let i = 0; i < 4; i++) q.push(msg(i));
    const sent: string[] = [];
    q.attach((m) => {
      sent.push(m.payload);
      if (m.payload === 'm1') q.detach();
    });
    assert.deepEqual(sent, ['m0', 'm1']);
    const after: string[] = [];
    q.attach((m, done) => {
      after.push(m.payload);
      done();
    });
    assert.deepEqual(after, ['m0', 'm1', 'm2', 'm3']);
  });

  it('resolves drained() once everything is acknowledged', async () => {
    const q = new StatusQueue();
    let ack: (() => void) | undefined;
    q.attach((_m, done) => (ack = () => done()));
    q.push(msg(1));
    let drained = false;
    const p = q.drained().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false);
    ack!();
    await p;
    assert.equal(drained, true);
  });

  it('marks by-name messages in flight at a drop as uncertain; rewrite() replaces or drops them before the next attach', () => {
    const q = new StatusQueue();
    q.attach(() => {}); // never acked
    q.push({ topic: 's/us', payload: '503,c8y_RemoteAccessConnect', byName: { serial: 'd', key: 'ka', status: 'SUCCESSFUL' } });
    q.push({ topic: 's/us', payload: '506,42' });
    q.detach();
    q.push({ topic: 's/us', payload: '502,c8y_RemoteAccessConnect,"x"', byName: { serial: 'd', key: 'kb', status: 'FAILED', reason: 'x' } });
    assert.deepEqual(q.uncertain().map((m) => m.payload), ['503,c8y_RemoteAccessConnect'], 'only the by-name message that was in flight');
    const seen: Array<[string, boolean]> = [];
    const dropped = q.rewrite((m, uncertain) => {
      seen.push([m.payload, uncertain]);
      if (m.byName?.key === 'ka') return null;
      if (m.byName?.key === 'kb') return { topic: m.topic, payload: '505,7,"x"' };
      return undefined;
    });
    assert.equal(dropped, 1);
    assert.deepEqual(seen, [['503,c8y_RemoteAccessConnect', true], ['506,42', false], ['502,c8y_RemoteAccessConnect,"x"', false]]);
    assert.deepEqual(q.uncertain(), []);
    const sent: string[] = [];
    q.attach((m, done) => {
      sent.push(m.payload);
      done();
    });
    assert.deepEqual(sent, ['506,42', '505,7,"x"']);
  });
});
