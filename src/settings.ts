/**
 * Settings tables: the one machinery behind the agent's settings and the `sim`, `demo` and `connect` flags.
 * A table has one row per setting (flag, environment variables, kind, default, min/max, choices, a check,
 * help and docs text); from it come the node:util parseArgs options, the `--help` rows, the docs table and
 * one resolving loop that returns a typed object. Each surface supplies only how its errors read.
 */
import { parseArgs } from 'node:util';

/** How a raw value is read: text, text never echoed, integer, decimal seconds, flag, comma-separated list. */
export type Kind = 'string' | 'secret' | 'int' | 'seconds' | 'bool' | 'list';

/** Reports a problem with one setting's value; the surface turns it into its coded error. */
export type Fail = (problem: string) => never;

/** Reports what a value should have been (`an integer 0-65535, got "x"`); the surface words it. */
export type Expected = (what: string) => never;

/** What every row says about itself, whatever its kind. */
export interface SettingMeta {
  flag: string;
  short?: string;
  /** Environment variables, first found wins (an empty one counts as unset). */
  env?: readonly string[];
  /** The value's placeholder in `--help` and the docs (`<ms>`). */
  arg?: string;
  /** One line (or a few, split by \n) for `--help`. */
  help: string;
  /** The docs' longer text (markdown); `help` when absent. */
  doc?: string;
  /** The default as `--help` shows it, where that is not the raw `default`. */
  defaultText?: string;
  /** The default as the docs show it (markdown), where that is not the raw `default` in backticks. */
  docDefault?: string;
  required?: boolean;
  /** The surface's own line for a missing required setting. */
  missing?: string;
}

/** One row: its metadata, and `read`, which turns the raw value (undefined = not given) into the setting. */
export interface Setting<V> extends SettingMeta {
  kind: Kind;
  default?: string | number | boolean | readonly string[];
  min?: number;
  max?: number;
  choices?: readonly string[];
  read(raw: unknown, fail: Fail, expected: Expected): V;
}

/** A table for the typed object T: one row per key. */
export type SettingsTable<T> = { [K in keyof T]-?: Setting<T[K]> };

/** A row with its key, for walking a table in order. */
export type SettingRow<K extends string = string> = Setting<unknown> & { key: K };

/** The rows of a table, in order. */
export function rows<T>(table: SettingsTable<T>): Array<SettingRow<keyof T & string>> {
  return Object.entries<Setting<unknown>>(table).map(([key, s]) => ({ ...s, key: key as keyof T & string }));
}

/** A value is present unless undefined or null; a required setting may not be empty either. */
function given(v: unknown, required: boolean | undefined): boolean {
  return v !== undefined && v !== null && !(required && v === '');
}

/** The value of a row that has a default or is required, else possibly undefined. */
type Out<T, O> = O extends { default: unknown } | { required: true } ? T : T | undefined;

/** A check or normalization of an already typed value. */
type Then<T> = (v: T, fail: Fail) => T;

function row<T, O extends SettingMeta & { default?: unknown; then?: Then<T> }>(kind: Kind, o: O, convert: (raw: unknown, expected: Expected, fail: Fail) => T, extra: Partial<Setting<unknown>> = {}): Setting<Out<T, O>> {
  const { then, ...meta } = o;
  const read = (raw: unknown, fail: Fail, expected: Expected): T | undefined => {
    const v = given(raw, o.required) ? raw : o.default;
    if (v === undefined || v === null) return undefined;
    const t = convert(v, expected, fail);
    return then ? then(t, fail) : t;
  };
  // The conditional type only says whether a value always comes out; read() keeps that promise.
  return { ...(meta as SettingMeta), ...extra, kind, read } as Setting<Out<T, O>>;
}

/** Text (the flag's value or the environment's as given). */
export function text<O extends SettingMeta & { default?: string; then?: Then<string> }>(o: O): Setting<Out<string, O>> {
  return row('string', o, (raw, expected) => toText(raw, expected));
}

/** Text never echoed in an error (a password, a proxy URL with credentials). */
export function secret<O extends SettingMeta & { default?: string; then?: Then<string> }>(o: O): Setting<Out<string, O>> {
  return row('secret', o, (raw, expected) => toText(raw, expected));
}

/**
 * One of `choices`. `redact` keeps the value out of the error (only its length is said): a setting that
 * is often mistyped for a password, like C8Y_AUTH, would otherwise print the password.
 */
export function choice<C extends string, O extends SettingMeta & { choices: readonly C[]; default?: C; redact?: boolean }>(o: O): Setting<Out<C, O>> {
  const { choices, redact, ...rest } = o;
  const said = `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
  return row(
    'string',
    rest as SettingMeta & Omit<O, 'choices' | 'redact'>,
    (raw, expected): C => {
      const s = toText(raw, expected);
      const hit = choices.find((c) => c === s);
      if (hit === undefined) return expected(`${said}${redact ? ` (got a value of ${s.length} characters)` : `, got ${quote(s)}`}`);
      return hit;
    },
    { choices },
  ) as Setting<Out<C, O>>;
}

/** An integer min..max (strings of digits too: flags and environment variables are text). */
export function int<O extends SettingMeta & { default?: number; min: number; max: number; then?: Then<number> }>(o: O): Setting<Out<number, O>> {
  return row('int', o, (raw, expected) => parseInteger(raw, o.min, o.max) ?? expected(`an integer ${o.min}-${o.max}, got ${quote(String(raw))}`), { min: o.min, max: o.max });
}

/** Decimal seconds (`0.25`) at least `min`, or above it with `above`; the value is in milliseconds. */
export function seconds<O extends SettingMeta & { default?: number; min: number; above?: boolean }>(o: O): Setting<Out<number, O>> {
  const { above, ...rest } = o;
  return row(
    'seconds',
    rest as SettingMeta & Omit<O, 'above'>,
    (raw, expected) => {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n) || n < o.min || (above && n === o.min)) expected(`a number of seconds ${above ? '>' : '>='} ${o.min}, got ${quote(String(raw))}`);
      return Math.round(n * 1000);
    },
    { min: o.min },
  ) as Setting<Out<number, O>>;
}

/** A flag: true/false, or 1/0, yes/no, on/off as text. */
export function bool<O extends SettingMeta & { default?: boolean }>(o: O): Setting<Out<boolean, O>> {
  return row('bool', o, (raw, expected) => {
    if (typeof raw === 'boolean') return raw;
    if (typeof raw === 'string' && /^(1|true|yes|on)$/i.test(raw)) return true;
    if (typeof raw === 'string' && /^(0|false|no|off|)$/i.test(raw)) return false;
    return expected('true or false');
  });
}

/** A list: strings, each possibly comma-separated; blanks dropped. */
export function list<O extends SettingMeta & { default?: readonly string[]; each?: (v: string, fail: Fail) => void; then?: Then<string[]> }>(o: O): Setting<Out<string[], O>> {
  const { each, then, ...rest } = o;
  return row('list', rest, (raw, expected, fail) => {
    const split = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
    let items: string[];
    if (Array.isArray(raw)) {
      if (!raw.every((x) => typeof x === 'string')) expected('a list of strings');
      items = (raw as string[]).flatMap(split);
    } else if (typeof raw === 'string') items = split(raw);
    else return expected('a comma-separated list');
    if (each) for (const item of items) each(item, fail);
    return then ? then(items, fail) : items;
  }) as Setting<Out<string[], O>>;
}

function toText(raw: unknown, expected: Expected): string {
  return typeof raw === 'string' ? raw : expected('a string');
}

/** A value for an error line: JSON-quoted, at most 32 characters of it. */
export function quote(s: string): string {
  return JSON.stringify(s.slice(0, 32));
}

/** The range of a TCP port flag (0 = any free port, where the flag listens). */
export const PORT = { min: 0, max: 65535 } as const;

/**
 * The one integer parser: a number, or a string of decimal digits (surrounding blanks allowed), within
 * min..max; undefined otherwise. Used by every table and every port field outside them.
 */
export function parseInteger(raw: unknown, min: number, max: number): number | undefined {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d{1,16}\s*$/.test(raw) ? Number(raw) : NaN;
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

/** How one surface words its errors. */
export interface Surface<K> {
  /** A problem with one value, `what` naming where it came from. */
  invalid(what: string, problem: string): Error;
  /** What one value should have been (`an integer 1-10`, `true or false`). */
  expected(what: string, expectation: string): Error;
  /** The required settings not given (all of them, for one line). */
  missing(keys: K[]): Error;
  /** Where a setting's value came from, for `invalid` (`--auth`, `C8Y_AUTH`, `"auth" in agent.json`). */
  origin(key: K): string;
}

/** Resolves raw values (by key) through a table: required ones first, all at once, then each row in order. */
export function resolveSettings<T>(table: SettingsTable<T>, raw: Partial<Record<keyof T, unknown>>, surface: Surface<keyof T>): T {
  const keys = Object.keys(table) as Array<keyof T>;
  const lacking = keys.filter((k) => table[k].required && !given(raw[k], true));
  if (lacking.length > 0) throw surface.missing(lacking);
  const out: Partial<T> = {};
  const one = <K extends keyof T>(k: K): void => {
    out[k] = table[k].read(
      raw[k],
      (problem) => {
        throw surface.invalid(surface.origin(k), problem);
      },
      (expectation) => {
        throw surface.expected(surface.origin(k), expectation);
      },
    );
  };
  for (const k of keys) one(k);
  // Every key of the table was assigned just above.
  return out as T;
}

/** A table's node:util parseArgs options (a list repeats; a flag is a boolean). */
export function argOptions(table: readonly SettingRow[]): Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const s of table) options[s.flag] = { type: s.kind === 'bool' ? 'boolean' : 'string', ...(s.kind === 'list' ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
  return options;
}

/** The flags that take a value, as typed (`http-port`). */
export function valueFlags(table: readonly SettingRow[]): string[] {
  return table.filter((s) => s.kind !== 'bool').map((s) => s.flag);
}

/**
 * Parses argv by a table: values by key, with each row's environment variables as a fallback, and where
 * each came from. Throws `bad(message)` for an unknown flag or a positional argument.
 */
export function parseFlags(table: readonly SettingRow[], argv: string[], env: NodeJS.ProcessEnv, bad: (message: string, cause?: unknown) => Error): { raw: Record<string, unknown>; origins: Record<string, string> } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: argOptions(table), strict: true, allowPositionals: false }));
  } catch (err) {
    throw bad((err as Error).message.split('\n')[0]!, err);
  }
  const raw: Record<string, unknown> = {};
  const origins: Record<string, string> = {};
  for (const s of table) {
    if (values[s.flag] !== undefined) {
      raw[s.key] = values[s.flag];
      origins[s.key] = `--${s.flag}`;
      continue;
    }
    const name = (s.env ?? []).find((e) => env[e] !== undefined && env[e] !== '');
    if (name !== undefined) {
      raw[s.key] = env[name];
      origins[s.key] = name;
    }
  }
  return { raw, origins };
}

/** The default as `--help` and the docs show it; undefined when there is none worth saying. */
export function shownDefault(s: SettingRow): string | undefined {
  if (s.defaultText !== undefined) return s.defaultText;
  const d = s.default;
  if (d === undefined || d === '' || (Array.isArray(d) && d.length === 0)) return undefined;
  if (s.kind === 'seconds' && typeof d === 'number') return String(d);
  return Array.isArray(d) ? d.join(',') : String(d);
}

/** `--help` rows: `  -s, --flag <arg>   help (default x) [env NAME]`, continuation lines aligned. */
export function helpRows(table: readonly SettingRow[]): string[] {
  const left = (s: SettingRow): string => `  ${s.short ? `-${s.short}, ` : '    '}--${s.flag}${s.arg ? ` <${s.arg}>` : ''}`;
  const width = Math.max(...table.map((s) => left(s).length)) + 1;
  const out: string[] = [];
  for (const s of table) {
    // A flag that is off unless given says nothing about its default.
    const def = s.kind === 'bool' && s.default === false ? undefined : shownDefault(s);
    const tail = `${s.required ? ' (required)' : def !== undefined ? ` (default ${def})` : ''}${s.env ? ` [env ${s.env[0]}]` : ''}`;
    const lines = `${s.help}${tail}`.split('\n');
    out.push(`${left(s).padEnd(width)} ${lines[0]}`);
    for (const l of lines.slice(1)) out.push(`${' '.repeat(width)} ${l}`);
  }
  return out;
}

/** The default as the docs' table shows it. */
function docDefault(s: SettingRow): string {
  if (s.required) return '**required**';
  if (s.docDefault !== undefined) return s.docDefault;
  const shown = s.defaultText ?? shownDefault(s);
  if (shown !== undefined) return `\`${shown}\``;
  return s.default === undefined ? 'none' : 'empty';
}

/**
 * The markdown table of a settings table (flag, environment, key, default, meaning), then `extra` rows
 * as given: what docs/configuration.md holds between its `settings-table` markers.
 */
export function docsTable(table: readonly SettingRow[], extra: readonly string[] = []): string {
  const cell = (t: string): string => t.replace(/\|/g, '\\|');
  const lines = ['| flag | environment | config-file / library key | default | meaning |', '|---|---|---|---|---|'];
  for (const s of table) {
    const flag = `\`--${s.flag}${s.arg ? ` <${cell(s.arg)}>` : ''}\``;
    const env = (s.env ?? []).map((e) => `\`${e}\``).join(', ');
    lines.push(`| ${flag} |${env ? ` ${env} ` : ' '}| \`${s.key}\` | ${docDefault(s)} | ${s.doc ?? s.help} |`);
  }
  return [...lines, ...extra].join('\n');
}

/** The text between `<!-- name:start -->` and `<!-- name:end -->` in a document, trimmed; undefined without them. */
export function between(doc: string, name: string): string | undefined {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(doc);
  return m ? m[1] : undefined;
}

/** `-h, --help`: every command has it; a command line that asks for it is not validated further. */
export const HELP_ROW: SettingRow = { key: 'help', flag: 'help', short: 'h', kind: 'bool', help: 'this text', read: (v) => v === true };

/**
 * A command's flags (and their environment variables) resolved through its table, errors worded
 * `--flag must be ...` and made by `error` (the command's coded error); undefined when --help was asked.
 */
export function parseCommandLine<T>(table: SettingsTable<T>, argv: string[], env: NodeJS.ProcessEnv, error: (message: string, cause?: unknown) => Error): T | undefined {
  const { raw, origins } = parseFlags([...rows(table), HELP_ROW], argv, env, error);
  if (raw.help === true) return undefined;
  return resolveSettings(table, raw as Partial<Record<keyof T, unknown>>, {
    invalid: (what, problem) => error(`${what} ${problem}`),
    expected: (what, e) => error(`${what} must be ${e}`),
    missing: (keys) => error(table[keys[0]!].missing ?? `--${table[keys[0]!].flag} is required`),
    origin: (k) => origins[k as string] ?? `--${table[k].flag}`,
  });
}

/** A check for text flags: not empty, no whitespace (names, passwords and addresses on a command line). */
export function oneWord(v: string, fail: Fail): string {
  return v === '' || /\s/.test(v) ? fail('must be non-empty and without whitespace') : v;
}

/** A check for a proxy setting: an http:// or https:// URL (Basic proxy credentials may be in it). */
export function proxyUrl(raw: string, fail: Fail): string {
  let ok = false;
  try {
    const u = new URL(raw);
    ok = u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    ok = false;
  }
  return ok ? raw : fail('expected an http:// or https:// proxy URL');
}
