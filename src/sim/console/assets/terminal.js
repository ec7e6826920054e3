// A terminal on one remote access session: xterm.js (served from the installed @xterm/xterm package)
// on the client WebSocket. PASSTHROUGH shows the bytes as they come; TELNET also answers the server's
// option negotiation (RFC 854/855: refuse every option, WONT/DONT) and keeps IAC sequences off the screen.
import { openClientSocket } from './api.js';

const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;

/**
 * A telnet filter: `push(bytes)` returns the text bytes and the negotiation answers for the server.
 * Keeps its state across frames (a sequence may be split between two WebSocket messages).
 */
export function telnetFilter() {
  let state = 'data';
  return {
    push(bytes) {
      const text = [];
      const reply = [];
      for (const b of bytes) {
        switch (state) {
          case 'data':
            if (b === IAC) state = 'iac';
            else text.push(b);
            break;
          case 'iac':
            if (b === IAC) {
              text.push(IAC);
              state = 'data';
            } else if (b === DO || b === DONT || b === WILL || b === WONT) state = b;
            else if (b === SB) state = 'sb';
            else state = 'data';
            break;
          case 'sb':
            if (b === IAC) state = 'sb-iac';
            break;
          case 'sb-iac':
            state = b === SE ? 'data' : 'sb';
            break;
          default:
            // state is the verb; b is the option.
            if (state === DO) reply.push(IAC, WONT, b);
            else if (state === WILL) reply.push(IAC, DONT, b);
            state = 'data';
        }
      }
      return { text: Uint8Array.from(text), reply: Uint8Array.from(reply) };
    },
  };
}

/**
 * Opens a session to the endpoint in `container`. `onState(state, detail)` hears 'connecting', 'open',
 * 'closed' (with the close code and reason) and 'error'. Returns `{ close() }`; closing ends the session.
 */
export function openTerminal(container, deviceId, config, onState) {
  const Terminal = globalThis.Terminal;
  if (typeof Terminal !== 'function') throw new Error('xterm.js did not load');
  const term = new Terminal({
    convertEol: false,
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    rows: 16,
    theme: { background: '#0f1720', foreground: '#d7e0ea', cursor: '#6cc4ff' },
  });
  container.replaceChildren();
  term.open(container);
  const telnet = config.protocol === 'TELNET' ? telnetFilter() : undefined;
  const encoder = new TextEncoder();
  const ws = openClientSocket(deviceId, config.id);
  let open = false;
  let ended = false;
  onState('connecting');
  ws.addEventListener('open', () => {
    open = true;
    onState('open');
    term.focus();
  });
  ws.addEventListener('message', (ev) => {
    const data = new Uint8Array(typeof ev.data === 'string' ? encoder.encode(ev.data) : ev.data);
    if (!telnet) return term.write(data);
    const { text, reply } = telnet.push(data);
    if (reply.length && ws.readyState === WebSocket.OPEN) ws.send(reply);
    if (text.length) term.write(text);
  });
  ws.addEventListener('error', () => onState('error'));
  ws.addEventListener('close', (ev) => {
    ended = true;
    onState('closed', { code: ev.code, reason: ev.reason, wasOpen: open });
    term.write(`\r\n\x1b[2m[session closed${ev.code ? `: ${ev.code}` : ''}]\x1b[0m\r\n`);
  });
  // Enter sends CR LF (a telnet NVT's end of line, and what a line-based TCP service reads).
  const input = term.onData((d) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(d.replace(/\r/g, '\r\n')));
  });
  return {
    close() {
      input.dispose();
      if (!ended && ws.readyState <= WebSocket.OPEN) ws.close(1000);
    },
    dispose() {
      this.close();
      term.dispose();
    },
  };
}
