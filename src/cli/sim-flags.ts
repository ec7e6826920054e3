/**
 * The emulator's listening and login flags, one table for `c8y-tunnel sim` and the demo (which starts the
 * emulator too). Its own module, not common.ts: loading it loads the emulator's defaults, and the agent's
 * command must not load the emulator.
 */
import { int, oneWord, PORT, text, type SettingsTable } from '../settings.js';
import { SIM_DEFAULTS } from '../sim/index.js';

/** Where the emulator listens and who logs in as its administrator. */
export interface SimEndpoint {
  host: string;
  httpPort: number;
  mqttPort: number;
  tenant: string;
  user: string;
  password: string;
}

/** The endpoint flags. */
export const SIM_ENDPOINT_SETTINGS: SettingsTable<SimEndpoint> = {
  host: text({ flag: 'host', arg: 'addr', default: SIM_DEFAULTS.host, help: 'interface to bind; loopback unless you say otherwise:\nthere is no TLS and the credentials are well known', then: oneWord }),
  httpPort: int({ flag: 'http-port', arg: 'n', ...PORT, default: 8080, help: 'REST and remote access WebSockets (0 = a free port)' }),
  mqttPort: int({ flag: 'mqtt-port', arg: 'n', ...PORT, default: 1883, help: 'plain MQTT 3.1.1 (0 = a free port)' }),
  tenant: text({ flag: 'tenant', arg: 'id', default: SIM_DEFAULTS.tenant, help: 'tenant id', then: (v, fail) => (/[/:]/.test(oneWord(v, fail)) ? fail('must not contain "/" or ":"') : v) }),
  user: text({
    flag: 'user',
    arg: 'name',
    default: SIM_DEFAULTS.user,
    help: 'admin user, REST and client WebSockets',
    then: (v, fail) => (/[/:]/.test(oneWord(v, fail)) || v.startsWith('device_') ? fail('must not contain "/" or ":" nor start with device_') : v),
  }),
  password: text({ flag: 'password', arg: 'pw', default: SIM_DEFAULTS.password, help: 'admin password', then: oneWord }),
};
