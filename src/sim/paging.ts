/**
 * Cumulocity's collection paging: `pageSize` (default 5, at most 2000), `currentPage` (from 1),
 * `withTotalPages` / `withTotalElements`; the answer carries `statistics`, an absolute `self` with the
 * query, `next` while the page is full and `prev` after the first page.
 */
import { HttpError } from './http-util.js';
import type { PublicRequest } from './http-util.js';

/** Cumulocity's default page size. */
export const DEFAULT_PAGE_SIZE = 5;
/** The largest page Cumulocity serves. */
export const MAX_PAGE_SIZE = 2000;

/** The page a request asks for. */
export interface PageRequest {
  pageSize: number;
  currentPage: number;
  withTotalPages: boolean;
  withTotalElements: boolean;
}

function positiveInt(q: URLSearchParams, name: string, dflt: number): number {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  if (!/^[0-9]{1,9}$/.test(v) || Number(v) < 1) throw new HttpError(422, `${name} must be a positive integer, got "${v.slice(0, 32)}"`);
  return Number(v);
}

function bool(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new HttpError(422, `${name} must be true or false, got "${v.slice(0, 32)}"`);
}

/** Parses the paging parameters (422 for values that are not numbers or booleans). */
export function pageRequest(q: URLSearchParams): PageRequest {
  return {
    pageSize: Math.min(MAX_PAGE_SIZE, positiveInt(q, 'pageSize', DEFAULT_PAGE_SIZE)),
    currentPage: positiveInt(q, 'currentPage', 1),
    withTotalPages: bool(q, 'withTotalPages'),
    withTotalElements: bool(q, 'withTotalElements'),
  };
}

/** The URL of the same query on another page. */
function pageUrl(url: URL, pageSize: number, page: number): string {
  const u = new URL(url.href);
  u.searchParams.set('pageSize', String(pageSize));
  u.searchParams.set('currentPage', String(page));
  return u.href;
}

/** Answers one page of `items` as `{ [key]: [...], statistics, self, next?, prev? }`. */
export function sendPage(r: PublicRequest, key: string, items: readonly unknown[], type: string): void {
  const p = pageRequest(r.url.searchParams);
  const start = (p.currentPage - 1) * p.pageSize;
  const slice = items.slice(start, start + p.pageSize);
  const statistics: Record<string, number> = { currentPage: p.currentPage, pageSize: p.pageSize };
  if (p.withTotalPages) statistics.totalPages = Math.ceil(items.length / p.pageSize);
  if (p.withTotalElements) statistics.totalElements = items.length;
  const body: Record<string, unknown> = { [key]: slice, statistics, self: pageUrl(r.url, p.pageSize, p.currentPage) };
  if (slice.length === p.pageSize) body.next = pageUrl(r.url, p.pageSize, p.currentPage + 1);
  if (p.currentPage > 1) body.prev = pageUrl(r.url, p.pageSize, p.currentPage - 1);
  r.json(200, body, { type });
}
