// The console's page logic: login, the device list, one device's endpoints, sessions and operations,
// refreshed about once a second (one poll at a time; a section is redrawn only when its data changed).
import { api, ApiError, login, logout, xsrfToken } from './api.js';
import { $, bytes, clock, fill, h, show } from './dom.js';
import { openTerminal } from './terminal.js';

const POLL_MS = 1000;
const OFFERED = ['PASSTHROUGH', 'TELNET'];

const ui = {
  /** Logged-in user name, or undefined. */
  user: undefined,
  devices: [],
  connected: new Set(),
  selected: undefined,
  configs: [],
  editing: undefined,
  terminal: undefined,
  timer: undefined,
  /** Last drawn data of each section, to skip redraws that would change nothing. */
  drawn: {},
};

function status(text, error = false) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

function changed(section, data) {
  const key = JSON.stringify(data);
  if (ui.drawn[section] === key) return false;
  ui.drawn[section] = key;
  return true;
}

// ---- login -------------------------------------------------------------------------------------

function showLogin(message) {
  stopPolling();
  closeTerminal();
  ui.user = undefined;
  ui.selected = undefined;
  ui.drawn = {};
  show($('app-view'), false);
  show($('who'), false);
  show($('logout'), false);
  show($('login-view'));
  const err = $('login-error');
  err.textContent = message ?? '';
  show(err, Boolean(message));
  status('');
  ($('user').value ? $('password') : $('user')).focus();
}

async function enter() {
  const me = await api('/user/currentUser');
  ui.user = me.userName;
  const who = $('who');
  who.textContent = ui.user;
  show(who);
  show($('logout'));
  show($('login-view'), false);
  show($('app-view'));
  startPolling();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const tenant = $('tenant').value.trim();
  const user = $('user').value.trim();
  const password = $('password').value;
  const err = $('login-error');
  show(err, false);
  if (!tenant || !user || !password) {
    err.textContent = 'Tenant, user and password are required.';
    show(err);
    return;
  }
  const submit = $('login-submit');
  submit.disabled = true;
  try {
    await login(tenant, user, password);
    $('password').value = '';
    await enter();
  } catch (e) {
    const text = e instanceof ApiError && e.status === 401 ? `Wrong tenant, user or password (${e.message})` : `Login failed: ${e.message}`;
    err.textContent = text;
    show(err);
    $('password').select();
  } finally {
    submit.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  await logout();
  showLogin();
});

// ---- polling -----------------------------------------------------------------------------------

function startPolling() {
  stopPolling();
  const tick = async () => {
    try {
      await refresh();
      status(`live · updated ${clock(Date.now())}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return showLogin('Your session ended; log in again.');
      status(`cannot reach the emulator: ${e.message}`, true);
    }
    if (ui.user) ui.timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function stopPolling() {
  clearTimeout(ui.timer);
  ui.timer = undefined;
}

async function refresh() {
  const sel = ui.selected;
  const [list, state, ops, configs] = await Promise.all([
    api('/inventory/managedObjects?fragmentType=c8y_IsDevice&pageSize=2000'),
    api(`/sim/console/state${sel ? `?deviceId=${encodeURIComponent(sel)}` : ''}`),
    sel ? api(`/devicecontrol/operations?deviceId=${encodeURIComponent(sel)}&pageSize=20&revert=true`) : undefined,
    sel ? api(`/service/remoteaccess/devices/${encodeURIComponent(sel)}/configurations`) : undefined,
  ]);
  if (!ui.user) return;
  ui.devices = list.managedObjects ?? [];
  ui.connected = new Set(state.connected);
  drawDevices();
  if (!sel || sel !== ui.selected) return;
  const device = ui.devices.find((d) => d.id === sel);
  if (!device) {
    ui.selected = undefined;
    closeTerminal();
    drawDetail();
    return;
  }
  ui.configs = Array.isArray(configs) ? configs : [];
  drawDetail(device);
  drawConfigs();
  drawSessions(state.sessions);
  drawOperations(ops.operations ?? [], state.histories ?? {});
}

// ---- devices -----------------------------------------------------------------------------------

function childrenOf(device) {
  const refs = device.childDevices?.references;
  return Array.isArray(refs) ? refs.map((r) => r.managedObject ?? {}) : [];
}

function agentPill(id) {
  const on = ui.connected.has(id);
  return h('span', { className: `pill ${on ? 'on' : 'off'}`, title: on ? 'the agent has an MQTT connection now' : 'no agent connected' }, on ? 'connected' : 'offline');
}

function drawDevices() {
  const rows = ui.devices.map((d) => [d.id, d.name ?? '', serials.get(d.id) ?? '', ui.connected.has(d.id), childrenOf(d).length, d.id === ui.selected]);
  if (!changed('devices', rows)) return;
  $('device-count').textContent = ui.devices.length ? String(ui.devices.length) : '';
  show($('no-devices'), ui.devices.length === 0);
  fill(
    $('device-rows'),
    ui.devices.map((d) =>
      h(
        'tr',
        { className: d.id === ui.selected ? 'selected' : '', dataset: { id: d.id }, tabIndex: 0, onclick: () => select(d.id), onkeydown: (e) => e.key === 'Enter' && select(d.id) },
        h('td', { className: 'name' }, d.name ?? '(no name)'),
        h('td', { className: 'mono' }, serials.get(d.id) ?? ''),
        h('td', { className: 'mono' }, d.id),
        h('td', {}, agentPill(d.id)),
        h('td', { className: 'num' }, String(childrenOf(d).length)),
      ),
    ),
  );
  for (const d of ui.devices) if (!serials.has(d.id)) lookupSerial(d);
}

/** Device id -> c8y_Serial, from the identity API (once per device). */
const serials = new Map();
async function lookupSerial(d) {
  serials.set(d.id, '');
  try {
    const r = await api(`/identity/globalIds/${encodeURIComponent(d.id)}/externalIds`);
    const serial = (r.externalIds ?? []).find((e) => e.type === 'c8y_Serial')?.externalId;
    if (serial) serials.set(d.id, serial);
    drawDevices();
    if (d.id === ui.selected) drawDetail(ui.devices.find((x) => x.id === d.id));
  } catch {
    // shown without a serial
  }
}

function select(id) {
  if (ui.selected === id) return;
  closeTerminal();
  cancelEdit();
  ui.selected = id;
  ui.drawn = {};
  ui.configs = [];
  drawDevices();
  drawDetail(ui.devices.find((d) => d.id === id));
  startPolling();
}

function drawDetail(device) {
  show($('detail'), Boolean(device));
  show($('pick'), !device);
  if (!device) return;
  const ops = Array.isArray(device.c8y_SupportedOperations) ? device.c8y_SupportedOperations : [];
  const kids = childrenOf(device);
  const data = [device.id, device.name, serials.get(device.id), ui.connected.has(device.id), ops, kids.map((k) => [k.id, k.name])];
  if (!changed('detail', data)) return;
  $('d-name').textContent = device.name ?? '(no name)';
  $('d-serial').textContent = serials.get(device.id) || '-';
  $('d-id').textContent = device.id;
  fill($('d-agent'), agentPill(device.id));
  fill($('d-ops'), ops.length ? ops.map((o) => h('span', { className: 'tag' }, String(o))) : '-');
  fill(
    $('d-children'),
    kids.length ? kids.map((k) => h('button', { type: 'button', className: 'link', onclick: () => select(String(k.id)) }, `${k.name ?? k.id} (${k.id})`)) : '-',
  );
}

// ---- remote access endpoints -------------------------------------------------------------------

function drawConfigs() {
  const data = ui.configs.map((c) => [c.id, c.name, c.protocol, c.hostname, c.port, ui.editing]);
  if (!changed('configs', data)) return;
  fill(
    $('cfg-rows'),
    ui.configs.length === 0
      ? h('tr', {}, h('td', { colSpan: 4, className: 'muted' }, 'No endpoints. Add one below (for the demo: the echo service).'))
      : ui.configs.map((c) =>
          h(
            'tr',
            { dataset: { id: String(c.id) }, className: ui.editing === c.id ? 'selected' : '' },
            h('td', { className: 'name' }, String(c.name ?? '')),
            h('td', {}, h('span', { className: 'tag' }, String(c.protocol ?? ''))),
            h('td', { className: 'mono' }, `${c.hostname}:${c.port}`),
            h(
              'td',
              { className: 'actions' },
              OFFERED.includes(c.protocol) ? h('button', { type: 'button', className: 'connect', onclick: () => connect(c) }, 'Connect') : h('span', { className: 'muted small', title: 'the emulator relays raw bytes; use c8y-tunnel connect' }, 'no browser terminal'),
              h('button', { type: 'button', className: 'ghost edit', onclick: () => startEdit(c) }, 'Edit'),
              h('button', { type: 'button', className: 'ghost danger delete', onclick: () => removeConfig(c) }, 'Delete'),
            ),
          ),
        ),
  );
}

function cfgError(text) {
  const el = $('cfg-error');
  el.textContent = text ?? '';
  show(el, Boolean(text));
}

function startEdit(c) {
  ui.editing = c.id;
  $('cfg-name').value = c.name ?? '';
  $('cfg-protocol').value = OFFERED.includes(c.protocol) ? c.protocol : 'PASSTHROUGH';
  $('cfg-host').value = c.hostname ?? '';
  $('cfg-port').value = String(c.port ?? '');
  $('cfg-save').textContent = 'Save changes';
  show($('cfg-cancel'));
  cfgError();
  ui.drawn.configs = undefined;
  drawConfigs();
  $('cfg-name').focus();
}

function cancelEdit() {
  ui.editing = undefined;
  $('cfg-form').reset();
  $('cfg-save').textContent = 'Add endpoint';
  show($('cfg-cancel'), false);
  cfgError();
  ui.drawn.configs = undefined;
}

$('cfg-cancel').addEventListener('click', () => {
  cancelEdit();
  drawConfigs();
});

$('cfg-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const device = ui.selected;
  if (!device) return;
  const name = $('cfg-name').value.trim();
  const hostname = $('cfg-host').value.trim();
  const port = Number($('cfg-port').value.trim());
  const protocol = $('cfg-protocol').value;
  if (!name || !hostname || !Number.isInteger(port) || port < 1 || port > 65535) return cfgError('Name, host and a port 1-65535 are required.');
  // The bodies the official UI's passthrough and telnet forms send.
  const base = `/service/remoteaccess/devices/${encodeURIComponent(device)}/configurations`;
  try {
    if (ui.editing !== undefined) {
      await api(`${base}/${encodeURIComponent(ui.editing)}`, { method: 'PUT', body: { id: ui.editing, name, hostname, port, protocol, credentialsType: 'NONE' } });
    } else {
      await api(base, { method: 'POST', body: { id: '', name, hostname, port, protocol, credentialsType: 'NONE' } });
    }
    cancelEdit();
    startPolling();
  } catch (e) {
    cfgError(`Could not save the endpoint: ${e.message}`);
  }
});

async function removeConfig(c) {
  if (!ui.selected) return;
  try {
    await api(`/service/remoteaccess/devices/${encodeURIComponent(ui.selected)}/configurations/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
    if (ui.editing === c.id) cancelEdit();
    startPolling();
  } catch (e) {
    cfgError(`Could not delete the endpoint: ${e.message}`);
  }
}

// ---- terminal ----------------------------------------------------------------------------------

function connect(config) {
  closeTerminal();
  const device = ui.devices.find((d) => d.id === ui.selected);
  $('term-title').textContent = `${config.name} · ${device?.name ?? ui.selected}`;
  $('term-target').textContent = `${config.protocol} ${config.hostname}:${config.port}`;
  show($('term-card'));
  const pill = $('term-state');
  const setState = (s, detail) => {
    pill.className = `pill ${s === 'open' ? 'on' : s === 'connecting' ? 'wait' : 'off'}`;
    pill.textContent = s === 'closed' ? `closed${detail?.code ? ` (${detail.code}${detail.reason ? `: ${detail.reason}` : ''})` : ''}` : s;
    $('term-close').textContent = s === 'closed' || s === 'error' ? 'Dismiss' : 'Close session';
  };
  try {
    ui.terminal = openTerminal($('terminal'), ui.selected, config, setState);
  } catch (e) {
    setState('error');
    status(e.message, true);
  }
  $('term-card').scrollIntoView({ block: 'nearest' });
}

function closeTerminal() {
  ui.terminal?.dispose();
  ui.terminal = undefined;
  show($('term-card'), false);
}

$('term-close').addEventListener('click', () => {
  const ended = $('term-close').textContent === 'Dismiss';
  if (ended) closeTerminal();
  else ui.terminal?.close();
});

// ---- sessions and operations -------------------------------------------------------------------

/** Redraws one table when its data changed: its rows, or the "none yet" line when there are none. */
function drawTable(section, data, emptyId, rowsId, rows) {
  if (!changed(section, data)) return;
  show($(emptyId), rows.length === 0);
  fill($(rowsId), rows.map((r) => r()));
}

function drawSessions(sessions) {
  drawTable('sessions', sessions, 'no-sessions', 'session-rows', sessions.map((s) => () =>
    h(
      'tr',
      { dataset: { operation: s.operationId, state: s.state } },
      h('td', { className: 'mono' }, s.operationId),
      h('td', {}, h('span', { className: `pill ${s.state === 'paired' ? 'on' : s.state === 'waiting' ? 'wait' : 'off'}` }, s.state === 'paired' ? 'live' : s.state)),
      h('td', { className: 'num mono' }, bytes(s.clientToDevice)),
      h('td', { className: 'num mono' }, bytes(s.deviceToClient)),
    ),
  ));
}

const STATUS_CLASS = { PENDING: 'wait', EXECUTING: 'run', SUCCESSFUL: 'on', FAILED: 'bad' };

function drawOperations(ops, histories) {
  const data = ops.map((o) => [o.id, o.status, o.failureReason, histories[o.id]]);
  drawTable('ops', data, 'no-ops', 'op-rows', ops.map((o) => () =>
    h(
      'tr',
      { dataset: { id: String(o.id), status: String(o.status) } },
      h('td', { className: 'mono' }, String(o.id)),
      h('td', { className: 'mono' }, clock(o.creationTime)),
      h('td', {}, String(o.description ?? ''), o.c8y_RemoteAccessConnect ? h('span', { className: 'muted small' }, ` → ${o.c8y_RemoteAccessConnect.hostname}:${o.c8y_RemoteAccessConnect.port}`) : null),
      h('td', {}, h('span', { className: `pill ${STATUS_CLASS[o.status] ?? ''}` }, String(o.status)), o.failureReason ? h('div', { className: 'error small' }, String(o.failureReason)) : null),
      h(
        'td',
        { className: 'history small' },
        (histories[o.id] ?? []).map((c, i) => h('span', { className: 'step', title: c.failureReason ?? '' }, i ? ' → ' : '', String(c.status), h('span', { className: 'muted' }, ` ${clock(c.at)}`))),
      ),
    ),
  ));
}

// ---- start -------------------------------------------------------------------------------------

// Only a browser that logged in before holds the XSRF cookie: then the session may still be valid.
// Without it, nothing authenticated is requested until the user logs in.
if (xsrfToken()) {
  enter().catch(() => showLogin());
} else {
  showLogin();
}
