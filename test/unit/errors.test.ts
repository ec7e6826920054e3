import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { AgentError, C8yTunnelError, ConnectError, ERROR_CODES, errorFor, isCleanEnd, SimError, SmartRestError, TunnelError, type ErrorCode, type WireError } from 'c8y-tunnel';
import { toWireError } from '#internal/errors';
import { parseLine } from '#internal/cumulocity/smartrest';

const FAMILY_BY_PREFIX = { TUN: TunnelError, AGENT: AgentError, SR: SmartRestError, CONNECT: ConnectError, SIM: SimError } as const;
const FAMILIES = Object.values(FAMILY_BY_PREFIX);
const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const familyOf = (code: string): (typeof FAMILIES)[number] => {
  const f = FAMILY_BY_PREFIX[code.split('_')[0] as keyof typeof FAMILY_BY_PREFIX];
  assert.ok(f, `no family for the prefix of ${code}`);
  return f;
};

/** Sends plain data through a real MessagePort (the structured clone a worker's postMessage uses). */
function acrossPort(w: WireError): Promise<WireError> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (m: WireError) => {
      port1.close();
      resolve(m);
    });
    port1.postMessage(w);
  });
}

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes src/errors.ts defines', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const documented = new Set([...doc.matchAll(/^\| `([A-Z]+_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]));
    const defined = new Set(Object.keys(ERROR_CODES));
    assert.deepEqual([...defined].filter((c) => !documented.has(c)), [], 'codes missing from docs/errors.md');
    assert.deepEqual([...documented].filter((c) => !defined.has(c as string)), [], 'documented codes that do not exist');
  });

  it("docs/errors.md names each section's class, and every code in it is of that class", () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const sections = doc.split(/^## /m).slice(1).filter((s) => /^\| `[A-Z]+_ERR_/m.test(s));
    assert.ok(sections.length >= FAMILIES.length);
    for (const s of sections) {
      const heading = s.split('\n')[0]!;
      const named = /`([A-Za-z]+Error)`/.exec(heading)?.[1];
      assert.ok(named, `the heading "${heading}" names no class`);
      for (const [, code] of s.matchAll(/^\| `([A-Z]+_ERR_[A-Z0-9_]+)` \|/gm)) {
        assert.equal(errorFor(code as ErrorCode).name, named, `${code} under "${heading}"`);
      }
    }
  });
});

describe('error families', () => {
  it('every code has exactly one family, picked by its prefix; all are C8yTunnelErrors', () => {
    for (const code of CODES) {
      const e = errorFor(code);
      const family = familyOf(code);
      assert.ok(e instanceof family, code);
      assert.ok(e instanceof C8yTunnelError && e instanceof Error, code);
      assert.deepEqual(FAMILIES.filter((f) => e instanceof f), [family], `${code} is of one family only`);
      assert.equal(e.name, family.name);
      assert.equal(e.code, code);
      assert.equal(e.message, ERROR_CODES[code]);
      assert.match(String(e.stack), new RegExp(`^${family.name}: `));
    }
  });

  it('the names users see: TunnelError, AgentError, SmartRestError, ConnectError, SimError', () => {
    assert.deepEqual(
      FAMILIES.map((f) => f.name),
      ['TunnelError', 'AgentError', 'SmartRestError', 'ConnectError', 'SimError'],
    );
    // An agent error is no engine error any more: catch-alls test the base.
    const agent = new AgentError('AGENT_ERR_CONFIG', 'invalid --host');
    assert.equal(agent instanceof TunnelError, false);
    assert.ok(agent instanceof C8yTunnelError);
  });

  it('a thrown SmartREST error is a SmartRestError', () => {
    assert.throws(() => parseLine('530,"open'), (err: unknown) => err instanceof SmartRestError && err.code === 'SR_ERR_QUOTE');
  });

  it('survives a real MessagePort in its family, with status and syscode', async () => {
    for (const code of CODES) {
      const e = errorFor(code, `${code} happened`, { status: 404, syscode: 'ECONNREFUSED' });
      const back = C8yTunnelError.fromWire(await acrossPort(e.toWire()));
      assert.ok(back instanceof familyOf(code), code);
      assert.deepEqual([back.code, back.message, back.status, back.syscode], [code, `${code} happened`, 404, 'ECONNREFUSED']);
    }
    // Inherited: the old spelling still works and still picks the family by code.
    assert.ok(TunnelError.fromWire({ code: 'SR_ERR_FIELD', message: 'x' }) instanceof SmartRestError);
  });

  it('an unknown code from the wire becomes TUN_ERR_INTERNAL, a TunnelError', () => {
    const back = C8yTunnelError.fromWire({ code: 'NOPE' as ErrorCode, message: 'from a newer worker' });
    assert.ok(back instanceof TunnelError);
    assert.equal(back.code, 'TUN_ERR_INTERNAL');
    assert.equal(back.message, 'from a newer worker');
  });

  it('toWireError keeps a coded plain object as its code, and a system error as syscode', () => {
    assert.ok(C8yTunnelError.fromWire(toWireError({ code: 'CONNECT_ERR_AUTH', message: 'no' })) instanceof ConnectError);
    const sys = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    assert.deepEqual(toWireError(sys, 'TUN_ERR_PROXY'), { code: 'TUN_ERR_PROXY', message: 'connect ECONNREFUSED', syscode: 'ECONNREFUSED' });
  });

  it('carries `cause` through the standard option, and never onto the wire', () => {
    const inner = new Error('EACCES');
    const e = new AgentError('AGENT_ERR_CONFIG', 'cannot read', { cause: inner });
    assert.equal(e.cause, inner);
    assert.equal('cause' in e.toWire(), false);
    assert.equal('cause' in new AgentError('AGENT_ERR_CONFIG'), false, 'no cause given, none set');
  });

  it('isCleanEnd tells clean tunnel ends from every error code', () => {
    for (const end of ['TUN_END_TCP_EOF', 'TUN_END_WS_CLOSED', 'TUN_END_LOCAL', 'TUN_END_IDLE']) assert.equal(isCleanEnd(end), true, end);
    for (const code of CODES) assert.equal(isCleanEnd(code), false, code);
  });
});

// Compiled, never run: the type checker refuses a code of another family and the abstract base (the build fails if not).
export function familiesAreTyped(): unknown[] {
  return [
    // @ts-expect-error an agent code is no engine code
    new TunnelError('AGENT_ERR_CONFIG'),
    // @ts-expect-error an engine code is no agent code
    new AgentError('TUN_ERR_INTERNAL'),
    // @ts-expect-error a SmartREST code is no connect code
    new ConnectError('SR_ERR_FIELD'),
    // @ts-expect-error the base is abstract: build a family
    new C8yTunnelError('TUN_ERR_INTERNAL'),
    // errorFor's type follows the code's family.
    errorFor('SIM_ERR_CONFIG') satisfies SimError,
  ];
}
