import fc from 'fast-check';
import { describe, it } from 'node:test';
import { properties } from '../fuzz/properties.js';

// A small count on every `npm test`; `npm run fuzz` runs the same properties with at least 100,000 cases.
describe('smartrest properties', () => {
  for (const [name, p] of Object.entries(properties)) {
    it(name, { timeout: 20_000 }, () => fc.assert(p as fc.IProperty<unknown[]>, { numRuns: 300 }));
  }
});
