import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isDeviceExistsReply, parseJwtReply } from '#internal/cumulocity/inbound';
import { parseLine } from '#internal/cumulocity/smartrest';
import { agentFragments, agentLine, deviceCreationLine, deviceObject, failExecutingLine, offlineAlarmLine, PENDING_OPERATIONS_LINE, statusBody, supportedOperationsLine } from '#internal/cumulocity/templates';

describe('SmartREST templates the agent sends', () => {
  it('builds 100, 114, 122, 400, 500 and 507 byte for byte', () => {
    assert.equal(deviceCreationLine('gw-1'), '100,gw-1,c8y_MQTTDevice');
    assert.equal(supportedOperationsLine(['c8y_RemoteAccessConnect', 'c8y_Restart']), '114,c8y_RemoteAccessConnect,c8y_Restart');
    assert.equal(agentLine('c8y-tunnel', '0.1.0'), '122,c8y-tunnel,0.1.0');
    assert.equal(offlineAlarmLine(), '400,c8y_TunnelAgentOffline,remote access agent went offline');
    assert.equal(PENDING_OPERATIONS_LINE, '500');
    assert.equal(failExecutingLine(), '507,c8y_RemoteAccessConnect,"agent restarted while the operation was executing"');
  });

  it('builds the REST equivalents of 100, 114/122 and the status lines', () => {
    assert.deepEqual(deviceObject('gw-1'), { name: 'gw-1', type: 'c8y_MQTTDevice', c8y_IsDevice: {}, com_cumulocity_model_Agent: {} });
    assert.deepEqual(agentFragments(['c8y_RemoteAccessConnect'], 'c8y-tunnel', '0.1.0'), { c8y_SupportedOperations: ['c8y_RemoteAccessConnect'], c8y_Agent: { name: 'c8y-tunnel', version: '0.1.0' } });
    assert.deepEqual(statusBody('EXECUTING'), { status: 'EXECUTING' });
    assert.deepEqual(statusBody('FAILED'), { status: 'FAILED', failureReason: 'failed' });
    assert.deepEqual(statusBody('FAILED', 'refused'), { status: 'FAILED', failureReason: 'refused' });
  });

  it('quotes a value that needs it, so the line parses back to the same fields', () => {
    const line = agentLine('edge, "north"', '1.0 ');
    assert.deepEqual(parseLine(line), ['122', 'edge, "north"', '1.0 ']);
  });
});

describe('short replies from Cumulocity', () => {
  it('takes the token of 71 on s/dat, quoted or not, and nothing else', () => {
    assert.equal(parseJwtReply('71,eyJhbGciOi.x.y\n'), 'eyJhbGciOi.x.y');
    assert.equal(parseJwtReply('71,"eyJ.a.b"'), 'eyJ.a.b');
    assert.equal(parseJwtReply('70,eyJ.a.b'), undefined);
    assert.equal(parseJwtReply('71,'), undefined);
  });

  it('knows 41,100 on s/e (the device exists) from other errors', () => {
    assert.equal(isDeviceExistsReply('41,100,Device already existing'), true);
    assert.equal(isDeviceExistsReply('41,1000,other'), false);
    assert.equal(isDeviceExistsReply('40,100,bad'), false);
  });
});
