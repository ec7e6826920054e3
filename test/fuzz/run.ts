/** `npm run fuzz [-- --runs N]`: every SmartREST property with N cases each (default 100,000). */
import { parseArgs } from 'node:util';
import { properties, runAll } from './properties.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '100000' } } });
const runs = Number(values.runs);
const t0 = Date.now();
let i = 0;
runAll(runs, (name) => process.stdout.write(`[${++i}/${Object.keys(properties).length}] ${runs} cases: ${name}\n`));
process.stdout.write(`fuzz: ${Object.keys(properties).length} properties x ${runs} cases passed in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
