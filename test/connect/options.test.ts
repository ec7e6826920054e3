import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authHeader, normalizeBaseUrl, parseConnectArgs, parseListen } from '#internal/connect/options';
import { pickConfiguration } from '#internal/connect/rest';
import { clientUrl, isOfflineClose, upgradeError } from '#internal/connect/session';

const ENV = { C8Y_HOST: 'example.cumulocity.com', C8Y_TENANT: 't7', C8Y_USER: 'me', C8Y_PASSWORD: 'secret' };
const noFile = (): string => {
  throw Object.assign(new Error('nope'), { code: 'ENOENT' });
};

describe('connect options', () => {
  it('reads the tenant, user and password from the environment and listens on 127.0.0.1:2222 by default', () => {
    const o = parseConnectArgs(['--device', 'dev1', '--config', 'ssh'], ENV, noFile);
    assert.equal(o.baseUrl, 'https://example.cumulocity.com');
    assert.deepEqual(o.credentials, { kind: 'basic', tenant: 't7', user: 'me', password: 'secret' });
    assert.deepEqual(o.local, { kind: 'listen', host: '127.0.0.1', port: 2222 });
    assert.equal(o.lingerMs, 2000);
    assert.equal(parseConnectArgs(['-d', 'x', '-c', 'y', '--linger', '0.25'], ENV, noFile).lingerMs, 250);
    assert.equal(authHeader(o.credentials), 'Basic ' + Buffer.from('t7/me:secret').toString('base64'));
  });

  it('prefers C8Y_TOKEN as a Bearer token', () => {
    const o = parseConnectArgs(['-d', 'x', '-c', 'y', '--stdio'], { ...ENV, C8Y_TOKEN: 'tok' }, noFile);
    assert.equal(authHeader(o.credentials), 'Bearer tok');
    assert.deepEqual(o.local, { kind: 'stdio' });
  });

  it('rejects each bad input with CONNECT_ERR_CONFIG and a message naming it', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--config', 'y'], ENV, /--device/],
      [['--device', 'x'], ENV, /--config/],
      [['-d', 'x', '-c', 'y', '--stdio', '--listen', '1'], ENV, /either --listen or --stdio/],
      [['-d', 'x', '-c', 'y'], { ...ENV, C8Y_HOST: '' }, /C8Y_HOST/],
      [['-d', 'x', '-c', 'y'], { C8Y_HOST: 'h' }, /C8Y_USER and C8Y_PASSWORD/],
      [['-d', 'x', '-c', 'y', '--listen', 'host:99999'], ENV, /--listen/],
      [['-d', 'x', '-c', 'y', '--bogus'], ENV, /bogus/],
      [['-d', 'x', '-c', 'y', '--ca', '/nonexistent.pem'], ENV, /--ca \/nonexistent.pem: ENOENT/],
      [['-d', 'x', '-c', 'y'], { ...ENV, C8Y_HOST: 'ftp://h' }, /http:\/\/ or https:\/\//],
      [['-d', 'x', '-c', 'y', '--linger', 'soon'], ENV, /--linger must be a number of seconds/],
    ];
    for (const [argv, env, msg] of cases) {
      assert.throws(() => parseConnectArgs(argv, env, noFile), (e: Error & { code?: string }) => e.code === 'CONNECT_ERR_CONFIG' && msg.test(e.message), argv.join(' '));
    }
  });

  it('parses listen addresses and base URLs', () => {
    assert.deepEqual(parseListen('0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('0.0.0.0:22'), { host: '0.0.0.0', port: 22 });
    assert.deepEqual(parseListen('[::1]:2222'), { host: '::1', port: 2222 });
    assert.equal(normalizeBaseUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
    // A bare host means https://, and connect says so (assumedHttps drives its start line).
    const env = { C8Y_HOST: 'example.cumulocity.com', C8Y_USER: 'u', C8Y_PASSWORD: 'p' };
    const o = parseConnectArgs(['-d', 'x', '-c', 'y', '--stdio'], env, () => '');
    assert.equal(o.baseUrl, 'https://example.cumulocity.com');
    assert.equal(o.assumedHttps, true);
    assert.equal(parseConnectArgs(['-d', 'x', '-c', 'y', '--stdio'], { ...env, C8Y_HOST: 'https://e.com' }, () => '').assumedHttps, undefined);
    assert.equal(clientUrl('https://t.example.com', '12', 'a b'), 'wss://t.example.com/service/remoteaccess/client/12/configurations/a%20b');
    assert.equal(clientUrl('http://127.0.0.1:8080', '12', '3'), 'ws://127.0.0.1:8080/service/remoteaccess/client/12/configurations/3');
  });
});

describe('configuration choice', () => {
  const list = [
    { id: '1', name: 'web', protocol: 'SSH' },
    { id: '2', name: 'ssh', protocol: 'PASSTHROUGH' },
    { id: '3', name: 'echo', protocol: 'PASSTHROUGH' },
  ];
  it('matches a PASSTHROUGH configuration by id first, then by name', () => {
    assert.equal(pickConfiguration(list, '3', 'd').name, 'echo');
    assert.equal(pickConfiguration(list, 'ssh', 'd').id, '2');
  });
  it('names the protocol when the match is not PASSTHROUGH, and lists the choices when nothing matches', () => {
    assert.throws(() => pickConfiguration(list, 'web', 'd'), { code: 'CONNECT_ERR_NOT_FOUND', message: /is SSH, not PASSTHROUGH/ });
    assert.throws(() => pickConfiguration(list, 'vnc', 'd'), { code: 'CONNECT_ERR_NOT_FOUND', message: /\(it has: ssh, echo\)/ });
  });
});

describe('failure classification', () => {
  it('maps refused upgrades to auth and not-found codes', () => {
    assert.equal(upgradeError(401).code, 'CONNECT_ERR_AUTH');
    assert.equal(upgradeError(403).code, 'CONNECT_ERR_AUTH');
    assert.equal(upgradeError(404).code, 'CONNECT_ERR_NOT_FOUND');
  });
  it('treats an error close before any device byte as the device being offline, a normal close as the end', () => {
    assert.equal(isOfflineClose(1011, 'operation timed out', 0), true);
    assert.equal(isOfflineClose(1000, 'operation timed out', 0), true);
    assert.equal(isOfflineClose(1000, '', 0), false);
    assert.equal(isOfflineClose(1011, 'device did not connect in time', 0), true);
    assert.equal(isOfflineClose(1011, '', 0), true);
    assert.equal(isOfflineClose(1011, 'timeout', 10), false);
    assert.equal(isOfflineClose(1000, 'idle timeout', 0), false);
    assert.equal(isOfflineClose(1006, '', 0), false);
  });
});
