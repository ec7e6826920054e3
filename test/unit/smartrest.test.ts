import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLine, parseLine, parsePayload, parseRemoteAccessConnect, sanitizeReason, splitLines } from '#internal/cumulocity/smartrest';

describe('smartrest', () => {
  it('parses a plain 530 line into a typed request', () => {
    const r = parseRemoteAccessConnect(parseLine('530,DeviceSerial,10.0.0.67,22,eb5e9d13-1caa-486b-bdda-130ca0d87df8'));
    assert.deepEqual(r, { serial: 'DeviceSerial', host: '10.0.0.67', port: 22, key: 'eb5e9d13-1caa-486b-bdda-130ca0d87df8' });
  });

  it('accepts both backslash and doubled quote escapes', () => {
    assert.deepEqual(parseLine('502,c8y_X,"a \\"quoted\\" word"'), ['502', 'c8y_X', 'a "quoted" word']);
    assert.deepEqual(parseLine('502,c8y_X,"a ""quoted"" word"'), ['502', 'c8y_X', 'a "quoted" word']);
  });

  it('splits a publish into lines, keeping line breaks inside quotes', () => {
    assert.deepEqual(splitLines('530,a,h,1,k\n530,b,"x\ny",2,k2\r\n\n'), ['530,a,h,1,k', '530,b,"x\ny",2,k2']);
  });

  it('quotes values the Cumulocity way when formatting', () => {
    assert.equal(formatLine(['502', 'c8y_RemoteAccessConnect', 'target 1.2.3.4:22 refused, "really"']), '502,c8y_RemoteAccessConnect,"target 1.2.3.4:22 refused, \\"really\\""');
  });

  it('rejects malformed lines with a code, never throws from parsePayload', () => {
    const out = parsePayload('530,"unterminated\n530,a"b,c');
    assert.ok(out.every((l) => l.error?.code.startsWith('SR_ERR_')));
    assert.throws(() => parseRemoteAccessConnect(parseLine('530,s,h,22abc,k')), { code: 'SR_ERR_FIELD' });
    assert.throws(() => parseRemoteAccessConnect(parseLine('530,s,h,65536,k')), { code: 'SR_ERR_FIELD' });
    assert.throws(() => parseRemoteAccessConnect(parseLine('530,s,h,22,../k')), { code: 'SR_ERR_FIELD' });
    assert.throws(() => parseRemoteAccessConnect(parseLine('530,s,h,22')), { code: 'SR_ERR_FIELDS' });
  });

  it('sanitizes failure reasons to 500 bytes without control characters', () => {
    const r = sanitizeReason('bad\nthing\t' + 'é'.repeat(400));
    assert.ok(Buffer.byteLength(r) <= 500);
    assert.ok(!/[\u0000-\u001f]/.test(r));
  });
});
