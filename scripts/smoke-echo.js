// A smoke echo for an installed copy: the emulator, the agent (one worker thread) and a client
// WebSocket in this process; SMOKE_MIB MiB (default 16) go up and come back through the tunnel, and
// it prints the mask, the sha256 check, the wall time and the process's CPU time as one JSON line.
// Run it from the package root: `node scripts/smoke-echo.js` (it imports 'c8y-tunnel' by name).
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import WebSocket from 'ws';
import { createAgent, maskKind } from 'c8y-tunnel';
import { startSim } from 'c8y-tunnel/sim';

const size = Number(process.env.SMOKE_MIB ?? 16) * 1024 * 1024;
const t0 = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const sim = await startSim({ quiet: true });
const echo = net.createServer((s) => s.on('error', () => {}).pipe(s));
await new Promise((r) => echo.listen(0, '127.0.0.1', r));
const dev = await sim.createDevice('smoke-1');
const conf = await sim.createConfiguration(dev.id, { name: 'echo', hostname: '127.0.0.1', port: echo.address().port });
const agent = createAgent({ host: sim.httpUrl, mqttUrl: sim.mqttUrl, tenant: sim.tenant, user: 'device_smoke-1', password: sim.devicePassword, deviceId: 'smoke-1', logLevel: 'silent', threads: 1 });
await agent.start();
const ready = process.hrtime.bigint();
const ws = new WebSocket(`${sim.wsUrl}/service/remoteaccess/client/${dev.id}/configurations/${conf.id}`, 'binary', { headers: { Authorization: sim.adminAuthHeader() }, perMessageDeflate: false });
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
const sent = createHash('sha256');
const got = createHash('sha256');
let received = 0;
const back = new Promise((resolve) =>
  ws.on('message', (d) => {
    got.update(d);
    received += d.length;
    if (received >= size) resolve();
  }),
);
const block = randomBytes(64 * 1024);
for (let off = 0; off < size; off += block.length) {
  block.writeUInt32BE(off >>> 0, 0);
  sent.update(block);
  // Keep at most ~1 MiB queued: past that, wait until this block is written.
  if (ws.bufferedAmount > 1024 * 1024) await new Promise((resolve, reject) => ws.send(block, (err) => (err ? reject(err) : resolve())));
  else ws.send(block);
}
await back;
const done = process.hrtime.bigint();
const cpu = process.cpuUsage(cpu0);
const ok = got.digest('hex') === sent.digest('hex');
ws.close(1000);
await agent.stop({ graceMs: 1000 });
await sim.close();
echo.close();
console.log(JSON.stringify({ arch: process.arch, node: process.version, mask: maskKind(), mib: size / 1048576, sha256Equal: ok, startMs: Number(ready - t0) / 1e6, echoMs: Number(done - ready) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 }));
process.exitCode = ok ? 0 : 1;
