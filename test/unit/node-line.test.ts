import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { nodeSupported, SUPPORTED_NODE } from 'c8y-tunnel';

describe('supported Node lines', () => {
  it('package.json engines and the agent warning name the same lines', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, SUPPORTED_NODE);
  });

  it('22 and 24 from their first LTS release, 26 and later; not 20, odd lines or garbage', () => {
    for (const v of ['22.11.0', '22.20.1', '24.11.0', '24.22.3', '26.0.0', '26.12.1', '28.1.0', 'v24.22.3']) assert.equal(nodeSupported(v), true, v);
    for (const v of ['20.20.2', '22.10.0', '23.11.0', '24.10.0', '25.2.0', '18.20.0', '', 'x.y.z']) assert.equal(nodeSupported(v), false, v);
  });
});
