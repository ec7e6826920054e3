/**
 * docs/benchmarks.svg stays readable: every label fits left of its bars inside its panel, no text runs past the picture, and the MB/s rows of the results file
 * that docs/benchmarks.md names show their run-to-run spread.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { textWidth } from '../../bench/lib/svg.js';
import type { Results } from '../../bench/lib/types.js';
import { ROOT } from '../helpers/cli.js';

describe('benchmark chart', () => {
  it('labels fit their column, nothing runs off the picture, MB/s bars carry min-max whiskers', () => {
    const md = readFileSync(`${ROOT}docs/benchmarks.md`, 'utf8');
    const file = /\(\.\.\/(bench\/results\/[^)]+\.json)\)/.exec(md)?.[1];
    assert.ok(file, 'docs/benchmarks.md names its results file');
    const r = JSON.parse(readFileSync(`${ROOT}${file}`, 'utf8')) as Results;
    // The committed picture itself (regenerate it: node dist-test/bench/report.js <results file> --docs).
    const svg = readFileSync(`${ROOT}docs/benchmarks.svg`, 'utf8');
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const rects = [...svg.matchAll(/<rect x="(\d+)" y="\d+" width="(\d+)" height="\d+" fill="#fff"/g)].map((m) => ({ x: Number(m[1]), w: Number(m[2]) }));
    let labels = 0;
    for (const m of svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" font-size="(\d+)"([^>]*)>(?:<title>[^<]*<\/title>)?([^<]*)<\/text>/g)) {
      const x = Number(m[1]);
      const size = Number(m[2]);
      const text = m[4]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      const w = textWidth(text, size);
      const anchor = /text-anchor="(\w+)"/.exec(m[3]!)?.[1] ?? 'start';
      const [from, to] = anchor === 'end' ? [x - w, x] : anchor === 'middle' ? [x - w / 2, x + w / 2] : [x, x + w];
      assert.ok(from >= 0 && to <= width, `${JSON.stringify(text)} within the picture`);
      const panel = rects.find((p) => x >= p.x && x <= p.x + p.w);
      if (panel && anchor === 'end' && size === 11) {
        labels++;
        assert.ok(from >= panel.x + 4 && to <= panel.x + panel.w, `label ${JSON.stringify(text)} inside its panel`);
      }
    }
    assert.ok(labels > 40, `labels checked: ${labels}`);
    const whiskers = (svg.match(/<path d="M[\d.]+ [\d.]+H/g) ?? []).length;
    const withRuns = r.scenarios.flatMap((s) => s.rows).filter((x) => /^s[126]\./.test(x.key) && x.status === 'ok' && (x.runs?.length ?? 0) > 1).length;
    assert.ok(withRuns > 0 && whiskers === withRuns, `a whisker for each of the ${withRuns} rows with runs, got ${whiskers}`);
  });
});
