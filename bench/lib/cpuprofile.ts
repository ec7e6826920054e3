/** Summarises a V8 .cpuprofile: self time by function, the top entries first. */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Top self-time functions of a profile, as lines of text. */
export function summarise(file: string, top = 25): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; startTime: number; endTime: number; samples?: number[] };
  const total = p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
  const durMs = (p.endTime - p.startTime) / 1000;
  const by = new Map<string, number>();
  for (const x of p.nodes) {
    const f = x.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/(dist|dist-test)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const k = `${f.functionName || '(anonymous)'} ${where}`.trim();
    by.set(k, (by.get(k) ?? 0) + (x.hitCount ?? 0));
  }
  const rows = [...by.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`${file}: ${total} samples over ${(durMs / 1000).toFixed(1)} s`, ...rows.map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`)];
}
