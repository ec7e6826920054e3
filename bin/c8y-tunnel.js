#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli/main.js (run `npm run build` after a clone).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`c8y-tunnel: ${err && err.code ? err.code + ': ' : ''}${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
