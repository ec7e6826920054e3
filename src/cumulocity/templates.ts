/**
 * What the agent sends Cumulocity, built in one place: the SmartREST 2.0 static templates it publishes on
 * `s/us` (device creation 100, supported operations 114, agent name 122, the offline alarm of the last
 * will 400, pending operations 500, operation statuses 501-506, the start-up clean-up 507), and their REST
 * equivalents for `--transport rest`. Pure functions.
 */
import { FRAGMENT } from './inbound.js';
import { formatLine } from './smartrest.js';

/** Operation statuses the agent reports. */
export type OpStatus = 'EXECUTING' | 'SUCCESSFUL' | 'FAILED';

/** 100: create the device (answered with 41,100 on `s/e` when it exists already). */
export function deviceCreationLine(serial: string): string {
  return formatLine(['100', serial, 'c8y_MQTTDevice']);
}

/** 114: the operations the device serves (c8y_SupportedOperations). */
export function supportedOperationsLine(operations: readonly string[]): string {
  return formatLine(['114', ...operations]);
}

/** 122: the agent's name and version (c8y_Agent). */
export function agentLine(name: string, version: string): string {
  return formatLine(['122', name, version]);
}

/** 400: the critical alarm of the MQTT last will, raised when the agent goes away without a goodbye. */
export function offlineAlarmLine(): string {
  return formatLine(['400', 'c8y_TunnelAgentOffline', 'remote access agent went offline']);
}

/** 500: asks for the device's pending operations (sent after a reconnect). */
export const PENDING_OPERATIONS_LINE = '500';

/** `"reason"` with Cumulocity's quoting (sanitizeReason already removed control characters). */
export function quoteReason(reason: string): string {
  return `"${reason.replace(/"/g, '\\"')}"`;
}

/** Why the start-up clean-up fails an operation an earlier run left EXECUTING (507, or a PUT over REST). */
export const RESTARTED_REASON = 'agent restarted while the operation was executing';

/** 507: fails every c8y_RemoteAccessConnect an earlier run left EXECUTING. */
export function failExecutingLine(reason: string = RESTARTED_REASON): string {
  return `507,${FRAGMENT},${quoteReason(reason)}`;
}

/** The SmartREST line for a status: by id (504/505/506) when known, else by fragment name (501/502/503). */
export function statusLine(ref: { id?: string }, status: OpStatus, reason?: string): string {
  const tail = status === 'FAILED' ? `,${quoteReason(reason ?? 'failed')}` : '';
  if (ref.id !== undefined) return `${status === 'EXECUTING' ? 504 : status === 'FAILED' ? 505 : 506},${ref.id}${tail}`;
  return `${status === 'EXECUTING' ? 501 : status === 'FAILED' ? 502 : 503},${FRAGMENT}${tail}`;
}

/** REST: the body of a status PUT on /devicecontrol/operations/{id}. */
export function statusBody(status: OpStatus, reason?: string): { status: OpStatus; failureReason?: string } {
  return status === 'FAILED' ? { status, failureReason: reason ?? 'failed' } : { status };
}

/** REST: the managed object of a new device (what 100 creates over MQTT). */
export function deviceObject(serial: string): Record<string, unknown> {
  return { name: serial, type: 'c8y_MQTTDevice', c8y_IsDevice: {}, com_cumulocity_model_Agent: {} };
}

/** REST: the fragments 114 and 122 set over MQTT. */
export function agentFragments(operations: readonly string[], name: string, version: string): Record<string, unknown> {
  return { c8y_SupportedOperations: [...operations], c8y_Agent: { name, version } };
}
