import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { childEnv } from '#internal/cli/child-env';

describe('child process environment', () => {
  it('drops the caller\'s C8Y_* settings (and what `drop` names), keeps the rest, then adds `extra`', () => {
    const base = { PATH: '/bin', C8Y_HOST: 'https://real.example', C8Y_PASSWORD: 'pw', npm_config_x: '1', HTTPS_PROXY: 'http://p:3128' };
    assert.deepEqual(childEnv({}, { base }), { PATH: '/bin', npm_config_x: '1', HTTPS_PROXY: 'http://p:3128' });
    assert.deepEqual(childEnv({ C8Y_HOST: 'http://127.0.0.1:1' }, { base, drop: /^(npm_|https?_proxy$)/i }), { PATH: '/bin', C8Y_HOST: 'http://127.0.0.1:1' });
  });
});
