/**
 * The subset of Cumulocity's inventory query language (`query=` and `q=`) the emulator evaluates:
 * `$filter=(...)` (the wrapper is optional) with `eq`, `ne`, `gt`, `ge`, `lt`, `le` on dotted paths,
 * `has(fragment)`, `not(...)`, `and`, `or` and parentheses; quoted strings (`''` for a quote, `\` escapes
 * as @c8y/client writes them) with `*` wildcards in `eq`/`ne`; numbers (also with the SDK's `f`
 * suffix), `true`, `false`, `null`; and `$orderby=path [asc|desc], ...`. Anything else (the functions
 * `bygroupid`, `isinhierarchyof`, `hasany`, ...) is refused with a 422 naming it, never ignored.
 * Written by hand: no maintained library implements this dialect.
 */
import { HttpError } from './http-util.js';

type Value = string | number | boolean | null;
type Cmp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type Node =
  | { k: 'and' | 'or'; a: Node; b: Node }
  | { k: 'not'; a: Node }
  | { k: 'has'; path: string[] }
  | { k: 'cmp'; cmp: Cmp; path: string[]; value: Value };

/** A parsed query: a predicate and a sort order. */
export interface Query {
  matches(o: Record<string, unknown>): boolean;
  /** Sorts in place by `$orderby` (stable; no `$orderby` keeps the order). */
  sort<T extends Record<string, unknown>>(items: T[]): T[];
}

const CMPS: ReadonlySet<string> = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const MAX_QUERY = 4096;

function fail(message: string): never {
  throw new HttpError(422, `Invalid query: ${message}`);
}

interface Token {
  t: '(' | ')' | ',' | 'str' | 'word';
  v: string;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c, v: c });
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('unterminated string');
        const d = text[i]!;
        if (d === "'" && text[i + 1] === "'") {
          v += "'";
          i += 2;
        } else if (d === "'") {
          i++;
          break;
        } else if (d === '\\' && i + 1 < text.length) {
          v += text[i + 1];
          i += 2;
        } else {
          v += d;
          i++;
        }
      }
      out.push({ t: 'str', v });
    } else {
      const m = /^[^\s(),']+/.exec(text.slice(i))!;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

/** A quoted string stays a string; a bare word is a number, a boolean, null or else a string. */
function literal(tok: Token): Value {
  if (tok.t === 'str') return tok.v;
  if (tok.t !== 'word') fail(`a value expected, got "${tok.v}"`);
  const w = tok.v;
  if (/^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?[fFdDlL]?$/.test(w)) return Number(w.replace(/[fFdDlL]$/, ''));
  if (w === 'true' || w === 'false') return w === 'true';
  if (w === 'null') return null;
  return w;
}

function path(w: string): string[] {
  if (!/^[A-Za-z0-9_$@.-]+$/.test(w) || w.split('.').some((p) => p === '')) fail(`"${w.slice(0, 64)}" is not a property path`);
  return w.split('.');
}

function parseFilter(text: string): Node | undefined {
  const toks = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => toks[pos];
  const next = (what: string): Token => toks[pos++] ?? fail(`${what} expected at the end`);
  const expect = (t: Token['t']): void => {
    const tok = next(`"${t}"`);
    if (tok.t !== t) fail(`"${t}" expected, got "${tok.v.slice(0, 32)}"`);
  };
  const isWord = (w: string): boolean => peek()?.t === 'word' && peek()!.v.toLowerCase() === w;
  /** `sub (word sub)*`, left-associative: `and` binds tighter than `or`. */
  const chain =
    (word: 'and' | 'or', sub: (depth: number) => Node) =>
    (depth: number): Node => {
      if (depth > 64) fail('nested too deeply');
      let a = sub(depth);
      while (isWord(word)) {
        pos++;
        a = { k: word, a, b: sub(depth) };
      }
      return a;
    };
  const term = chain('and', (depth) => factor(depth));
  const expr = chain('or', term);
  const factor = (depth: number): Node => {
    const tok = next('an expression');
    if (tok.t === '(') {
      const e = expr(depth + 1);
      expect(')');
      return e;
    }
    if (tok.t !== 'word') fail(`unexpected "${tok.v.slice(0, 32)}"`);
    if (peek()?.t === '(') {
      const fn = tok.v.toLowerCase();
      pos++;
      if (fn === 'not') {
        const e = expr(depth + 1);
        expect(')');
        return { k: 'not', a: e };
      }
      if (fn === 'has') {
        const arg = next('a fragment name');
        expect(')');
        return { k: 'has', path: path(arg.v) };
      }
      fail(`the function ${tok.v.slice(0, 32)}() is not emulated (only has() and not())`);
    }
    const op = next('an operator');
    if (op.t !== 'word' || !CMPS.has(op.v.toLowerCase())) fail(`an operator (eq, ne, gt, ge, lt, le) expected after "${tok.v.slice(0, 32)}", got "${op.v.slice(0, 32)}"`);
    const cmp = op.v.toLowerCase() as Cmp;
    const value = literal(next('a value'));
    if (cmp !== 'eq' && cmp !== 'ne' && (value === null || typeof value === 'boolean')) fail(`${cmp} needs a number or a string`);
    return { k: 'cmp', cmp, path: path(tok.v), value };
  };
  if (toks.length === 0) return undefined;
  const e = expr(0);
  if (pos < toks.length) fail(`unexpected "${toks[pos]!.v.slice(0, 32)}"`);
  return e;
}

function get(o: unknown, p: readonly string[]): unknown {
  let cur: unknown = o;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A `*` wildcard pattern as an anchored regular expression. */
export function wildcard(pattern: string, flags = ''): RegExp {
  return new RegExp('^' + pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's' + flags);
}

function compare(a: unknown, b: Value): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'number' && a.trim() !== '' && Number.isFinite(Number(a))) return Number(a) - b;
  return undefined;
}

function equals(actual: unknown, n: Extract<Node, { k: 'cmp' }>, re: RegExp | undefined): boolean {
  if (Array.isArray(actual)) return actual.some((x) => equals(x, n, re));
  if (n.value === null) return actual === null || actual === undefined;
  if (typeof n.value === 'string') return typeof actual === 'string' && (re ? re.test(actual) : actual === n.value);
  if (typeof n.value === 'number') return compare(actual, n.value) === 0;
  return actual === n.value;
}

function evaluate(n: Node, o: unknown, res: Map<Node, RegExp>): boolean {
  switch (n.k) {
    case 'and':
      return evaluate(n.a, o, res) && evaluate(n.b, o, res);
    case 'or':
      return evaluate(n.a, o, res) || evaluate(n.b, o, res);
    case 'not':
      return !evaluate(n.a, o, res);
    case 'has':
      return get(o, n.path) !== undefined;
    case 'cmp': {
      const actual = get(o, n.path);
      if (n.cmp === 'eq' || n.cmp === 'ne') {
        const eq = equals(actual, n, res.get(n));
        return n.cmp === 'eq' ? eq : !eq;
      }
      const c = compare(actual, n.value as string | number);
      if (c === undefined) return false;
      return n.cmp === 'gt' ? c > 0 : n.cmp === 'ge' ? c >= 0 : n.cmp === 'lt' ? c < 0 : c <= 0;
    }
  }
}

function collectWildcards(n: Node, out: Map<Node, RegExp>): void {
  if (n.k === 'and' || n.k === 'or') {
    collectWildcards(n.a, out);
    collectWildcards(n.b, out);
  } else if (n.k === 'not') {
    collectWildcards(n.a, out);
  } else if (n.k === 'cmp' && typeof n.value === 'string' && n.value.includes('*') && (n.cmp === 'eq' || n.cmp === 'ne')) {
    out.set(n, wildcard(n.value));
  }
}

function parseOrderBy(text: string): Array<{ path: string[]; desc: boolean }> {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const [p, dir, extra] = s.split(/\s+/);
      if (extra !== undefined || (dir !== undefined && !/^(asc|desc)$/i.test(dir))) fail(`$orderby "${s.slice(0, 64)}": a path and asc or desc expected`);
      return { path: path(p!), desc: dir?.toLowerCase() === 'desc' };
    });
}

/** Finds `$orderby=` outside quoted strings. */
function splitOrderBy(text: string): [filter: string, orderBy: string] {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "'") quoted = !quoted;
    else if (!quoted && text.startsWith('$orderby=', i)) return [text.slice(0, i), text.slice(i + 9)];
  }
  return [text, ''];
}

/** Parses a `query`/`q` value; 422 with the reason when it is outside the emulated subset. */
export function parseQuery(text: string): Query {
  if (text.length > MAX_QUERY) fail(`longer than ${MAX_QUERY} characters`);
  const [f, o] = splitOrderBy(text);
  let filterText = f.trim();
  if (filterText.startsWith('$filter=')) filterText = filterText.slice(8);
  else if (filterText.startsWith('$')) fail(`"${filterText.slice(0, 32)}": only $filter= and $orderby= are known`);
  const filter = parseFilter(filterText);
  const order = parseOrderBy(o);
  const res = new Map<Node, RegExp>();
  if (filter) collectWildcards(filter, res);
  return {
    matches: (obj) => filter === undefined || evaluate(filter, obj, res),
    sort(items) {
      if (order.length === 0) return items;
      return items.sort((x, y) => {
        for (const { path: p, desc } of order) {
          const a = get(x, p);
          const b = get(y, p);
          if (a === b) continue;
          // Objects without the property sort last either way.
          if (a === undefined) return 1;
          if (b === undefined) return -1;
          const c = typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
          if (c !== 0) return desc ? -c : c;
        }
        return 0;
      });
    },
  };
}
