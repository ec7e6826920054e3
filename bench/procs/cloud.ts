/**
 * The bench's cloud endpoint, in its own process: a WebSocket server on the CRA device path that answers
 * `binary` like Cumulocity and, per connection key, either relays to a TCP port on this host (the way the
 * cloud relays to the user's client; websockify works the same way) or holds the session and discards
 * what arrives. Key `r<port>-<n>` relays to 127.0.0.1:<port>; any other key holds.
 */
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from '../lib/ipc.js';

const HWM = 256 * 1024;
let open = 0;
let received = 0;

function relay(ws: WebSocket, port: number): void {
  const tcp = net.connect({ host: '127.0.0.1', port, noDelay: true });
  let wsPaused = false;
  let tcpPaused = false;
  const done = (): void => {
    tcp.destroy();
    ws.terminate();
  };
  tcp.on('error', done);
  tcp.on('close', () => ws.close());
  ws.on('close', () => tcp.end());
  ws.on('message', (d: Buffer) => {
    if (!tcp.write(d) && !wsPaused) {
      wsPaused = true;
      ws.pause();
    }
  });
  tcp.on('drain', () => {
    if (wsPaused) {
      wsPaused = false;
      ws.resume();
    }
  });
  tcp.on('data', (d: Buffer) => {
    if (ws.bufferedAmount + d.length > HWM && !tcpPaused) {
      tcpPaused = true;
      tcp.pause();
      ws.send(d, { binary: true }, () => {
        tcpPaused = false;
        tcp.resume();
      });
    } else {
      ws.send(d, { binary: true });
    }
  });
}

serve({
  async listen(a: { maxPayload?: number }) {
    const wss = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      backlog: 4096,
      perMessageDeflate: false,
      maxPayload: a.maxPayload ?? 64 * 1024 * 1024,
      clientTracking: false,
      handleProtocols: () => 'binary',
    });
    wss.on('headers', (headers) => {
      if (!headers.some((h) => /^sec-websocket-protocol:/i.test(h))) headers.push('Sec-WebSocket-Protocol: binary');
    });
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
      open++;
      ws.on('error', () => {});
      ws.once('close', () => open--);
      const key = (req.url ?? '').split('/').pop() ?? '';
      const m = /^r(\d+)-/.exec(key);
      if (m) relay(ws, Number(m[1]));
      else ws.on('message', (d: Buffer) => (received += d.length));
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    return { port: (wss.address() as net.AddressInfo).port };
  },
  conns: () => open,
  received: () => received,
});
