/** The test CA's files (test/fixtures/tls), and a TLS front that terminates TLS before a plain port. */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { closeServer, listen0 } from './net.js';

/** Path of a file in test/fixtures/tls. */
export const tlsFixture = (f: string): string => fileURLToPath(new URL(`../../../test/fixtures/tls/${f}`, import.meta.url));

/** Terminates TLS with the given certificate (default: 127.0.0.1/localhost from the test CA) in front of `port`. */
export async function tlsFront(port: number, cert = 'server.pem', key = 'server.key'): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ cert: readFileSync(tlsFixture(cert)), key: readFileSync(tlsFixture(key)) }, (s) => {
    const up = net.connect(port, '127.0.0.1');
    for (const x of [s, up]) {
      sockets.add(x);
      x.on('error', () => {});
      x.on('close', () => sockets.delete(x));
    }
    s.pipe(up).pipe(s);
    s.on('close', () => up.destroy());
    up.on('close', () => s.destroy());
  });
  server.on('tlsClientError', () => {});
  return { port: await listen0(server), close: () => closeServer(server, sockets) };
}

/** A wss server (certificate and key from test/fixtures/tls) answering `binary` like Cumulocity; echoes with `echo`. */
export async function wssWithCert(cert: string, key: string, opts: { echo?: boolean } = {}): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ key: readFileSync(tlsFixture(key)), cert: readFileSync(tlsFixture(cert)) });
  server.on('tlsClientError', () => {});
  const wss = new WebSocketServer({ server, handleProtocols: () => 'binary' });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    if (opts.echo) ws.on('message', (d) => ws.send(d));
  });
  const port = await listen0(server);
  return {
    port,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
