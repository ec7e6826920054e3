import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuery } from '#internal/sim/query';

const objects = [
  { id: '1', name: "it's (here)", type: 'c8y_A', n: 3, flag: true, c8y_IsDevice: {}, tags: ['x', 'y'] },
  { id: '2', name: 'dev-2', type: 'c8y_B', n: 10, flag: false, c8y_Hardware: { serialNumber: 'SN-9' } },
  { id: '3', name: 'Dev-3', n: 7 },
];
const ids = (q: string): string[] => {
  const p = parseQuery(q);
  return p.sort(objects.filter((o) => p.matches(o))).map((o) => o.id);
};

describe('sim query language subset', () => {
  it('eq/ne with wildcards (case-sensitive), numbers with the SDK\'s f suffix, booleans, null, arrays, dotted paths', () => {
    assert.deepEqual(ids("name eq 'dev-*'"), ['2']);
    assert.deepEqual(ids("name ne 'dev-*'"), ['1', '3']);
    assert.deepEqual(ids('n gt 5f'), ['2', '3']);
    assert.deepEqual(ids('n le 7'), ['1', '3']);
    assert.deepEqual(ids('flag eq true'), ['1']);
    assert.deepEqual(ids('type eq null'), ['3']);
    assert.deepEqual(ids("tags eq 'y'"), ['1']);
    assert.deepEqual(ids("c8y_Hardware.serialNumber eq 'SN-*'"), ['2']);
    assert.deepEqual(ids('type eq c8y_B'), ['2'], 'a bare word is a string');
  });

  it('quotes and brackets escaped the way @c8y/client escapes them', () => {
    assert.deepEqual(ids("name eq 'it''s \\(here\\)'"), ['1']);
    assert.deepEqual(ids("$filter=(name eq 'it''s \\(here\\)') $orderby=id"), ['1']);
  });

  it('has(), not(), and binds tighter than or, parentheses, $filter= and $orderby=', () => {
    assert.deepEqual(ids('has(c8y_IsDevice) or has(c8y_Hardware)'), ['1', '2']);
    assert.deepEqual(ids('not(has(c8y_IsDevice))'), ['2', '3']);
    assert.deepEqual(ids('n gt 1 or n gt 5 and n lt 8'), ['1', '2', '3']);
    assert.deepEqual(ids('(n gt 1 or n gt 5) and n lt 8'), ['1', '3']);
    assert.deepEqual(ids('$filter=(n gt 1) $orderby=n desc'), ['2', '3', '1']);
    assert.deepEqual(ids('$orderby=type asc, name desc'), ['1', '2', '3'], 'objects without the property sort last');
    assert.deepEqual(ids(''), ['1', '2', '3']);
  });

  it('refuses with 422 what it does not evaluate, naming it', () => {
    for (const [q, why] of [
      ['bygroupid(12)', /bygroupid\(\) is not emulated/],
      ["name eq 'x", /unterminated string/],
      ['name eq', /a value expected/],
      ['name like x', /an operator/],
      ['(name eq x', /"\)" expected/],
      ['name eq x)', /unexpected "\)"/],
      ['$select=name', /only \$filter= and \$orderby=/],
      ['$orderby=name sideways', /asc or desc/],
      ['n gt true', /gt needs a number or a string/],
    ] as const) {
      assert.throws(() => ids(q), (err: { status?: number; message: string }) => err.status === 422 && why.test(err.message), q);
    }
  });
});
