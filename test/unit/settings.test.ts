import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bool, choice, helpRows, int, list, parseCommandLine, parseInteger, rows, seconds, text, type SettingsTable } from '#internal/settings';
import { CONNECT_SETTINGS } from '#internal/connect/options';
import { HELP as SIM_HELP } from '#internal/cli/sim';
import { HELP as DEMO_HELP, VALUE_FLAGS } from '#internal/cli/demo/index';
import { HELP as CONNECT_HELP } from '#internal/cli/connect';

interface Demo {
  name: string;
  port: number;
  mode: 'a' | 'b';
  wait: number;
  tags: string[];
  loud: boolean;
  limit: number | undefined;
}

const TABLE: SettingsTable<Demo> = {
  name: text({ flag: 'name', env: ['T_NAME'], required: true, help: 'a name' }),
  port: int({ flag: 'port', short: 'p', min: 0, max: 65535, default: 8080, help: 'a port' }),
  mode: choice({ flag: 'mode', choices: ['a', 'b'], default: 'a', help: 'a mode' }),
  wait: seconds({ flag: 'wait', min: 0, above: true, default: 2, help: 'a wait' }),
  tags: list({ flag: 'tag', default: [], help: 'tags', each: (t, fail) => void (t === 'bad' && fail('must not be "bad"')) }),
  loud: bool({ flag: 'loud', default: false, help: 'louder' }),
  limit: int({ flag: 'limit', min: 1, max: 10, help: 'a limit' }),
};

const err = (m: string): Error => Object.assign(new Error(m), { code: 'X_ERR_CONFIG' });
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): Demo | undefined => parseCommandLine(TABLE, argv, env, err);

describe('settings tables', () => {
  it('parseInteger: decimal digits within the bounds, nothing else', () => {
    assert.equal(parseInteger('0', 0, 65535), 0);
    assert.equal(parseInteger(' 42 ', 0, 65535), 42);
    assert.equal(parseInteger(65535, 0, 65535), 65535);
    for (const bad of ['65536', '-1', '1.5', '0x10', '1e3', '', 'eighty', 1.5, NaN, null, undefined, '99999999999999999999']) {
      assert.equal(parseInteger(bad, 0, 65535), undefined, String(bad));
    }
  });

  it('resolves a command line into a typed object: defaults, environment fallback, kinds', () => {
    assert.deepEqual(parse(['--name', 'n']), { name: 'n', port: 8080, mode: 'a', wait: 2000, tags: [], loud: false, limit: undefined });
    const v = parse(['-p', '0', '--mode', 'b', '--wait', '0.25', '--tag', 'x,y', '--tag', 'z', '--loud', '--limit', '10'], { T_NAME: 'from-env' });
    assert.deepEqual(v, { name: 'from-env', port: 0, mode: 'b', wait: 250, tags: ['x', 'y', 'z'], loud: true, limit: 10 });
    assert.equal(parse(['--help', '--port', 'not checked']), undefined);
  });

  it('words each bad value as "<origin> must be ..." and names the required ones', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [[], {}, /^--name is required$/],
      [['--name', 'n', '--port', '70000'], {}, /^--port must be an integer 0-65535, got "70000"$/],
      [['--name', 'n', '--mode', 'c'], {}, /^--mode must be a or b, got "c"$/],
      [['--name', 'n', '--wait', '0'], {}, /^--wait must be a number of seconds > 0, got "0"$/],
      [['--name', 'n', '--tag', 'ok,bad'], {}, /^--tag must not be "bad"$/],
      [['--name', 'n', '--nope'], {}, /Unknown option '--nope'/],
    ];
    for (const [argv, env, re] of cases) assert.throws(() => parse(argv, env), (e: Error & { code?: string }) => e.code === 'X_ERR_CONFIG' && re.test(e.message), argv.join(' '));
  });

  it('writes --help from the rows: every flag, its default and its environment variable', () => {
    const help = helpRows(rows(TABLE)).join('\n');
    assert.match(help, /-p, --port <?.*\(default 8080\)/);
    assert.match(help, /--name .*\(required\) \[env T_NAME\]/);
    assert.doesNotMatch(help, /--loud .*default/);
  });

  it('the sim, demo and connect --help list every flag of their tables', () => {
    for (const f of rows(CONNECT_SETTINGS)) assert.ok(CONNECT_HELP.includes(`--${f.flag}`), `connect --help lacks --${f.flag}`);
    for (const f of VALUE_FLAGS) assert.ok(DEMO_HELP.includes(`--${f}`), `demo --help lacks --${f}`);
    for (const f of ['http-port', 'mqtt-port', 'tenant', 'user', 'password']) {
      assert.ok(SIM_HELP.includes(`--${f}`) && DEMO_HELP.includes(`--${f}`), `--${f}: one endpoint table for sim and demo`);
      assert.ok(VALUE_FLAGS.includes(f));
    }
  });
});
