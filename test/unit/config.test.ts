import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configFromEnv, mergeConfigs, readConfigFile, resolveConfig, SETTINGS } from '#internal/agent/config';
import { settingsDocsTable } from '#internal/agent/settings';
import { between } from '#internal/settings';
import { configFromArgs, HELP } from '#internal/cli/agent';

const base = { host: 'https://t1.example.com', tenant: 't1', user: 'device_s1', password: 'pw', deviceId: 's1' };

describe('agent config', () => {
  it('derives the WebSocket base and the MQTT URL from C8Y_HOST', () => {
    const c = resolveConfig(base);
    assert.equal(c.wsBase, 'wss://t1.example.com');
    assert.equal(c.mqttUrl, 'mqtts://t1.example.com:8883');
    const p = resolveConfig({ ...base, host: 'http://127.0.0.1:8080/' });
    assert.equal(p.wsBase, 'ws://127.0.0.1:8080');
    assert.equal(p.host, 'http://127.0.0.1:8080');
    assert.equal(p.mqttUrl, 'mqtts://127.0.0.1:8883');
  });

  it('applies the documented defaults', () => {
    const c = resolveConfig(base);
    assert.equal(c.metricsHost, '127.0.0.1', 'metrics bind loopback unless told otherwise');
    assert.equal(c.auth, 'basic');
    assert.equal(c.transport, 'mqtt');
    assert.equal(c.threads, 1);
    assert.equal(c.graceMs, 5000);
    assert.equal(c.metricsPort, 0);
    assert.equal(c.insecure, false);
    assert.deepEqual(c.allow, ['*']);
    assert.ok(c.policy.allows('10.1.2.3', 5900));
  });

  it('names a missing setting by flag, variable and file key', () => {
    for (const k of ['host', 'tenant', 'user', 'password', 'deviceId'] as const) {
      const cfg: Record<string, string> = { ...base };
      delete cfg[k];
      assert.throws(() => resolveConfig(cfg), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'AGENT_ERR_CONFIG');
        assert.match(err.message, new RegExp(`missing setting ${k} \\(--`));
        assert.ok(!err.message.includes('\n'));
        return true;
      });
    }
    assert.throws(() => resolveConfig({ ...base, host: undefined }), /C8Y_HOST/);
  });

  it('names the origin of an invalid value', () => {
    assert.throws(() => resolveConfig({ ...base, auth: 'token' }, { auth: 'C8Y_AUTH' }), /invalid C8Y_AUTH: expected basic or jwt/);
    assert.throws(() => resolveConfig({ ...base, host: 'ftp://x' }, { host: 'C8Y_HOST' }), /invalid C8Y_HOST: expected an http: or https: URL/);
    assert.throws(() => resolveConfig({ ...base, host: 'not a url' }), /invalid setting host: not a URL/);
    assert.throws(() => resolveConfig({ ...base, maxSessions: 'ten' }, { maxSessions: '--max-sessions' }), /invalid --max-sessions: expected an integer/);
    assert.throws(() => resolveConfig({ ...base, metricsHost: 'example.com' }, { metricsHost: '--metrics-host' }), /invalid --metrics-host: expected an IP address/);
    assert.throws(() => resolveConfig({ ...base, threads: -1 }), /invalid setting threads/);
    assert.throws(() => resolveConfig({ ...base, allow: ['10.0.0.1:99999'] }), /invalid setting allow: port out of range/);
    assert.throws(() => resolveConfig({ ...base, mqttUrl: 'http://x' }), /invalid setting mqttUrl/);
    assert.throws(() => resolveConfig({ ...base, deviceId: 'a:b' }), /invalid setting deviceId/);
    assert.throws(() => resolveConfig({ ...base, proxy: 'socks5://p:1' }), /invalid setting proxy/);
    assert.throws(() => resolveConfig({ ...base, ca: ['/nonexistent/ca.pem'] }), /invalid setting ca: cannot read \/nonexistent\/ca.pem \(ENOENT\)/);
    assert.throws(() => resolveConfig({ ...base, transport: 'rest', auth: 'jwt' }), /jwt needs the MQTT transport/);
    assert.throws(() => resolveConfig({ ...base, supportedOperations: 'c8y_Restart,bad op' }), /supportedOperations/);
  });

  it('sizes the engine for --max-sessions, and refuses an explicit size too small for it', () => {
    assert.equal(resolveConfig(base).tunnelsPerWorker, 1000);
    assert.equal(resolveConfig({ ...base, maxSessions: 10 }).tunnelsPerWorker, 512);
    assert.equal(resolveConfig({ ...base, maxSessions: 3000, threads: 2 }).tunnelsPerWorker, 1500);
    assert.equal(resolveConfig({ ...base, maxSessions: 10, tunnelsPerWorker: 10 }).tunnelsPerWorker, 10);
    assert.throws(() => resolveConfig({ ...base, maxSessions: 100, tunnelsPerWorker: 10 }, { tunnelsPerWorker: '--tunnels-per-worker' }), /invalid --tunnels-per-worker: 10 per worker x 1 threads cannot carry max-sessions 100/);
  });

  it('never puts the password into an error message', () => {
    try {
      resolveConfig({ ...base, password: 'S3cretPassw0rd', auth: 'nope' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(!(err as Error).message.includes('S3cretPassw0rd'));
    }
  });

  it('reads the ecosystem environment variable names exactly', () => {
    const env = {
      C8Y_HOST: 'http://127.0.0.1:1',
      C8Y_MQTT_URL: 'mqtt://127.0.0.1:2',
      C8Y_TENANT: 't9',
      C8Y_USER: 'u',
      C8Y_PASSWORD: 'p',
      C8Y_DEVICE_ID: 'dev',
      C8Y_AUTH: 'jwt',
      HTTPS_PROXY: 'http://proxy:3128',
      NO_PROXY: 'localhost',
    };
    const c = resolveConfig(configFromEnv(env).config);
    assert.equal(c.mqttUrl, 'mqtt://127.0.0.1:2');
    assert.equal(c.tenant, 't9');
    assert.equal(c.deviceId, 'dev');
    assert.equal(c.auth, 'jwt');
    assert.equal(c.proxy, 'http://proxy:3128');
    assert.equal(c.noProxy, 'localhost');
  });

  it('layers flags over environment over the config file over defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    const file = join(dir, 'agent.json');
    writeFileSync(file, JSON.stringify({ ...base, tenant: 'fromfile', maxSessions: 7, supportedOperations: ['c8y_Restart'] }));
    const { config, origins } = configFromArgs(['--config', file, '--user', 'fromflag', '--supported-operations', 'c8y_A,c8y_B', '--supported-operations', 'c8y_C'], {
      C8Y_USER: 'fromenv',
      C8Y_TENANT: 'fromenv',
    });
    const c = resolveConfig(config, origins);
    assert.equal(c.user, 'fromflag');
    assert.equal(c.tenant, 'fromenv');
    assert.equal(c.maxSessions, 7);
    assert.deepEqual(c.supportedOperations, ['c8y_A', 'c8y_B', 'c8y_C']);
    assert.equal(origins.user, '--user');
    assert.equal(origins.tenant, 'C8Y_TENANT');
    assert.equal(origins.maxSessions, `"maxSessions" in ${file}`);
    const merged = mergeConfigs({ config: { auth: 'jwt' }, origins: { auth: '--auth' } }, { config: { auth: 'basic' }, origins: { auth: 'C8Y_AUTH' } });
    assert.equal(merged.config.auth, 'jwt');
  });

  it('refuses an unreadable, non-JSON or unknown-key config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agent-config-'));
    assert.throws(() => readConfigFile(join(dir, 'missing.json')), /invalid --config: cannot read .*ENOENT/);
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    assert.throws(() => readConfigFile(join(dir, 'bad.json')), /is not JSON/);
    writeFileSync(join(dir, 'unk.json'), '{"hots": "x"}');
    assert.throws(() => readConfigFile(join(dir, 'unk.json')), /unknown key "hots"/);
  });

  it('createAgent() validates at once, before anything starts', async () => {
    const { createAgent } = await import('c8y-tunnel');
    assert.throws(() => createAgent(undefined as never), { code: 'AGENT_ERR_CONFIG' });
    assert.throws(() => createAgent({ ...base, host: undefined }), { code: 'AGENT_ERR_CONFIG', message: /missing setting host/ });
    assert.throws(() => createAgent({ ...base, allow: ['nope:x'] }), { code: 'AGENT_ERR_CONFIG', message: /config.allow|setting allow/ });
  });

  it('refuses unknown flags with a coded error', () => {
    assert.throws(() => configFromArgs(['--hots', 'x'], {}), { code: 'AGENT_ERR_CONFIG' });
  });

  it('explains every setting in --help, with its environment variable', () => {
    for (const s of SETTINGS) {
      assert.ok(HELP.includes(`--${s.flag}`), `--${s.flag} missing from --help`);
      for (const e of (s.env ?? []).slice(0, 1)) assert.ok(HELP.includes(e), `${e} missing from --help`);
    }
    assert.ok(HELP.includes('--config'));
  });
});

describe('docs/configuration.md', () => {
  it('lists every setting by flag, library key and environment variable', () => {
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const s of SETTINGS) {
      assert.ok(doc.includes(`\`--${s.flag}`), `--${s.flag} missing from docs/configuration.md`);
      assert.ok(doc.includes(`\`${s.key}\``), `${s.key} missing from docs/configuration.md`);
      for (const e of s.env ?? []) assert.ok(doc.includes(`\`${e}\``), `${e} missing from docs/configuration.md`);
    }
  });

  it('holds the settings table generated from the agent table (node scripts/gen-config-docs.js writes it)', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const table = between(doc, 'settings-table');
    assert.ok(table !== undefined, 'docs/configuration.md lacks the settings-table markers');
    // A setting added to the table without regenerating the doc, or a doc row edited by hand, fails here.
    assert.equal(table, settingsDocsTable(), 'docs/configuration.md is out of date: npm run build && node scripts/gen-config-docs.js');
    for (const s of SETTINGS) assert.ok(s.doc, `${s.key} has no docs text`);
  });
});
