/**
 * SmartREST 2.0 lines: pure parsing and formatting, shared by the agent and the emulator.
 *
 * Cumulocity's rules (docs: mqtt-bundle/implementation.md): a value holding `"`, `,`, a line break, a
 * tab or leading/trailing whitespace is wrapped in double quotes, and an embedded quote is escaped with a
 * backslash (`\"`). RFC 4180 escapes it by doubling (`""`); thin-edge and other clients send that, so the
 * parser accepts both. One MQTT publish may carry several lines.
 */
import { C8yTunnelError, SmartRestError } from '../errors.js';

/** Cumulocity's MQTT payload cap, header included; a line can never be longer. */
export const MAX_SMARTREST_PAYLOAD = 16184;

const NEEDS_QUOTES = /[",\r\n\t]|^\s|\s$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Splits one publish into its lines. Line breaks inside quoted values belong to the value. Empty lines
 * are dropped. Never throws: a broken quote runs to the end of the payload and the line parser reports it.
 */
export function splitLines(payload: string): string[] {
  const lines: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    const c = payload.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Inside quotes, `\"` is an escaped quote (Cumulocity); `""` (RFC 4180) toggles twice and so needs no case.
      if (inQuotes && payload.charCodeAt(i - 1) === 0x5c /* \ */) continue;
      inQuotes = !inQuotes;
    } else if (!inQuotes && (c === 0x0a || c === 0x0d)) {
      if (i > start) lines.push(payload.slice(start, i));
      start = i + 1;
    }
  }
  if (start < payload.length) lines.push(payload.slice(start));
  return lines.filter((l) => l.trim() !== '');
}

/**
 * Parses one line into its fields. Throws a SmartRestError with code SR_ERR_EMPTY, SR_ERR_QUOTE or
 * SR_ERR_TOO_LONG on a malformed line.
 */
export function parseLine(line: string, maxLength = MAX_SMARTREST_PAYLOAD): string[] {
  if (line.length > maxLength) throw new SmartRestError('SR_ERR_TOO_LONG', `SmartREST line of ${line.length} characters exceeds ${maxLength}`);
  if (line.trim() === '') throw new SmartRestError('SR_ERR_EMPTY');
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    if (line.charCodeAt(i) === 0x22) {
      // quoted value
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new SmartRestError('SR_ERR_QUOTE', 'unterminated quoted value');
        const c = line[i]!;
        if (c === '\\' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (c === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (c === '"') {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      fields.push(value);
      if (i === n) return fields;
      if (line[i] !== ',') throw new SmartRestError('SR_ERR_QUOTE', `unexpected character after a quoted value at column ${i + 1}`);
      i++;
    } else {
      const comma = line.indexOf(',', i);
      const end = comma === -1 ? n : comma;
      const value = line.slice(i, end);
      if (value.includes('"')) throw new SmartRestError('SR_ERR_QUOTE', `quote inside an unquoted value at column ${i + 1}`);
      fields.push(value.trim());
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}

/**
 * Formats fields into one line with Cumulocity's quoting. Throws SR_ERR_FIELD for a value that cannot be
 * written unambiguously (a quoted value that ends with a backslash).
 */
export function formatLine(fields: ReadonlyArray<string | number>): string {
  let out = '';
  for (let k = 0; k < fields.length; k++) {
    if (k > 0) out += ',';
    const v = String(fields[k]);
    if (NEEDS_QUOTES.test(v)) {
      if (v.endsWith('\\')) throw new SmartRestError('SR_ERR_FIELD', 'a quoted SmartREST value cannot end with a backslash');
      out += '"' + v.replace(/"/g, '\\"') + '"';
    } else {
      out += v;
    }
  }
  return out;
}

/** One line of a downstream publish, parsed or refused. */
export type ParsedLine = { line: string; fields: string[]; error?: undefined } | { line: string; fields?: undefined; error: C8yTunnelError };

/** Splits and parses a whole publish; malformed lines come back with their error, never thrown. */
export function parsePayload(payload: string, maxLength = MAX_SMARTREST_PAYLOAD): ParsedLine[] {
  if (payload.length > maxLength) {
    return [{ line: payload.slice(0, 64), error: new SmartRestError('SR_ERR_TOO_LONG', `SmartREST payload of ${payload.length} characters exceeds ${maxLength}`) }];
  }
  return splitLines(payload).map((line) => {
    try {
      return { line, fields: parseLine(line, maxLength) };
    } catch (err) {
      return { line, error: err instanceof C8yTunnelError ? err : new SmartRestError('SR_ERR_FIELD', String(err), { cause: err }) };
    }
  });
}

/** A parsed `530` remote access connect request. */
export interface RemoteAccessConnect {
  serial: string;
  host: string;
  port: number;
  key: string;
}

const KEY_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** Validates a target port: a decimal integer 1..65535, given as a number or a string. */
export function parsePort(value: unknown): number {
  const s = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!/^[0-9]{1,5}$/.test(s)) throw new SmartRestError('SR_ERR_FIELD', `invalid port ${JSON.stringify(String(value).slice(0, 16))}`);
  const port = Number(s);
  if (port < 1 || port > 65535) throw new SmartRestError('SR_ERR_FIELD', `port ${port} out of range 1-65535`);
  return port;
}

/** Validates a target host name or address: no whitespace or control characters, at most 253 characters. */
export function parseHost(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > 253 || CONTROL.test(value) || /\s/.test(value)) {
    throw new SmartRestError('SR_ERR_FIELD', 'invalid target host');
  }
  return value;
}

/** Validates a connection key: 1..128 characters of [A-Za-z0-9_-] (no `/`, no `..`). */
export function parseKey(value: unknown): string {
  if (typeof value !== 'string' || !KEY_RE.test(value)) throw new SmartRestError('SR_ERR_FIELD', 'invalid connection key');
  return value;
}

/** Turns the fields of a `530` line into a typed request; throws SR_ERR_TEMPLATE / SR_ERR_FIELDS / SR_ERR_FIELD. */
export function parseRemoteAccessConnect(fields: readonly string[]): RemoteAccessConnect {
  if (fields[0] !== '530') throw new SmartRestError('SR_ERR_TEMPLATE', `expected template 530, got ${JSON.stringify((fields[0] ?? '').slice(0, 8))}`);
  if (fields.length !== 5) throw new SmartRestError('SR_ERR_FIELDS', `530 needs 4 fields, got ${fields.length - 1}`);
  const serial = fields[1]!;
  if (serial === '' || CONTROL.test(serial)) throw new SmartRestError('SR_ERR_FIELD', 'invalid device serial');
  return { serial, host: parseHost(fields[2]), port: parsePort(fields[3]), key: parseKey(fields[4]) };
}

/**
 * Makes a free-text reason safe for a SmartREST FAILED status: control characters become spaces, at
 * most `maxBytes` UTF-8 bytes (never cutting a character), and never a trailing backslash.
 */
export function sanitizeReason(reason: string, maxBytes = 500): string {
  let s = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (Buffer.byteLength(s) > maxBytes) {
    const buf = Buffer.from(s).subarray(0, maxBytes);
    s = buf.toString('utf8');
    if (s.endsWith('\ufffd')) s = s.slice(0, -1);
  }
  while (s.endsWith('\\')) s = s.slice(0, -1);
  return s;
}
