/** Property definitions for SmartREST parsing and formatting, shared by `npm test` (few runs) and `npm run fuzz` (many). */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SmartRestError } from 'c8y-tunnel';
import {
  formatLine,
  parseLine,
  parsePayload,
  parseRemoteAccessConnect,
  sanitizeReason,
  splitLines,
} from '#internal/cumulocity/smartrest';

// Strings rich in the characters that matter to the grammar.
const tricky = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ',', '"', '\\', ' ', '\t', '\n', '\r', 'é', '😀', '\u0000', '\u007f') });
const anyText = fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), tricky);
const field = fc.oneof(tricky, fc.string({ unit: 'grapheme-ascii' }));
const fields = fc.array(field, { minLength: 1, maxLength: 8 });

function formattable(xs: string[]): boolean {
  try {
    const l = formatLine(xs);
    return l.trim() !== '';
  } catch (err) {
    assert.equal((err as SmartRestError).code, 'SR_ERR_FIELD');
    return false;
  }
}

export const properties: Record<string, fc.IProperty<never> | fc.IProperty<[unknown]> | fc.IProperty<unknown[]>> = {
  'parsePayload never throws, and every line is parsed or refused with an SR_ERR code': fc.property(anyText, (s) => {
    for (const l of parsePayload(s)) {
      if (l.error) assert.match(l.error.code, /^SR_ERR_/);
      else assert.ok(Array.isArray(l.fields));
    }
  }),
  'parseLine throws nothing but coded SmartRestErrors': fc.property(anyText, (s) => {
    try {
      parseLine(s);
    } catch (err) {
      assert.ok(err instanceof SmartRestError, String(err));
      assert.match(err.code, /^SR_ERR_/);
    }
  }),
  'every formattable line parses back to the same fields': fc.property(fields, (xs) => {
    fc.pre(formattable(xs));
    assert.deepEqual(parseLine(formatLine(xs)), xs);
  }),
  'several formatted lines in one publish split back into the same lines': fc.property(fc.array(fields, { minLength: 1, maxLength: 5 }), (rows) => {
    const ok = rows.filter(formattable);
    fc.pre(ok.length > 0);
    const payload = ok.map((r) => formatLine(r)).join('\n');
    assert.deepEqual(splitLines(payload).map((l) => parseLine(l)), ok);
  }),
  'RFC 4180 doubled quotes parse like backslash-escaped ones': fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', '"', ',', ' ') }), { minLength: 1, maxLength: 5 }), (xs) => {
    const rfc = xs.map((x) => '"' + x.replace(/"/g, '""') + '"').join(',');
    assert.deepEqual(parseLine(rfc), xs);
  }),
  'a valid 530 round-trips into a typed request': fc.property(
    fc.record({
      serial: fc.string({ unit: fc.constantFrom('a', 'B', '1', '-', '_', ' ', ',', '"'), minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '' && s.trim() === s),
      host: fc.oneof(fc.ipV4(), fc.domain()),
      port: fc.integer({ min: 1, max: 65535 }),
      key: fc.uuid(),
    }),
    (r) => {
      assert.deepEqual(parseRemoteAccessConnect(parseLine(formatLine(['530', r.serial, r.host, r.port, r.key]))), { ...r });
    },
  ),
  'a 530 with a bad port, host or key is refused with SR_ERR_FIELD': fc.property(
    fc.oneof(
      fc.constantFrom('0', '65536', '-1', '22abc', '', ' 22x', '1e3', '0x16'),
      fc.integer({ min: 65536 }).map(String),
      fc.integer({ max: 0 }).map(String),
    ),
    (port) => {
      assert.throws(() => parseRemoteAccessConnect(['530', 's', 'h', port, 'k']), { code: 'SR_ERR_FIELD' });
    },
  ),
  'sanitizeReason always yields <= 500 bytes, no control characters, formattable': fc.property(anyText, (s) => {
    const r = sanitizeReason(s);
    assert.ok(Buffer.byteLength(r) <= 500);
    assert.ok(!/[\u0000-\u001f\u007f]/.test(r));
    assert.deepEqual(parseLine(formatLine(['502', 'c8y_RemoteAccessConnect', r])).slice(2), r === '' ? [''] : [r]);
  }),
};

/** Runs every property with `numRuns` cases each; throws on the first counterexample. */
export function runAll(numRuns: number, onProgress?: (name: string) => void): void {
  for (const [name, p] of Object.entries(properties)) {
    onProgress?.(name);
    fc.assert(p as fc.IProperty<unknown[]>, { numRuns });
  }
}
