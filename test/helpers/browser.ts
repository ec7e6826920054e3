/**
 * The console's browser rig: Debian's chromium driven by playwright-core, the real emulator, the real agent
 * and a real TCP echo service. Without a chromium the browser tests are skipped with a message saying so
 * (`.ci/run` installs it, so CI always runs them).
 */
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createAgent, type Agent } from 'c8y-tunnel';
import { startSim, type Sim } from 'c8y-tunnel/sim';
import { capturingLogger } from './agent-rig.js';
import { echoServer, withTimeout } from './net.js';

/** The chromium to drive: $CHROMIUM_PATH, else Debian's. */
export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));

/** The `skip` option of a browser suite: a message when no chromium is installed, else false. */
export const SKIP: string | false = CHROMIUM ? false : 'no chromium found: apt-get install -y chromium (or set CHROMIUM_PATH); .ci/run installs it';

/** Per browser test. */
export const T = { timeout: 90_000 };

let shared: Promise<Browser> | undefined;

/** One headless chromium per test file (closed by `closeBrowser` in the suite's `after`). */
export function browser(): Promise<Browser> {
  shared ??= chromium.launch({ executablePath: CHROMIUM!, timeout: 30_000, args: ['--disable-gpu', '--no-first-run'] });
  return shared;
}

export async function closeBrowser(): Promise<void> {
  const b = await shared?.catch(() => undefined);
  shared = undefined;
  await b?.close();
}

/** What a page did that a test may assert on. */
export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Every request, as `METHOD /path?query`, in order. */
  requests: string[];
  /** Dialogs that fired (alert, confirm, prompt, basic-auth): none may. */
  dialogs: string[];
  /** Console errors and uncaught page errors (a CSP violation shows here). */
  errors: string[];
}

/** A fresh browser context (no cookies) and page, closed after the test. */
export async function openPage(t: TestContext, sim: Sim): Promise<Watched> {
  const context = await (await browser()).newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  t.after(() => context.close().catch(() => {}));
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const w: Watched = { page, context, requests: [], dialogs: [], errors: [] };
  page.on('request', (r) => w.requests.push(`${r.method()} ${r.url().slice(sim.httpUrl.length)}`));
  page.on('dialog', (d) => {
    w.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() === 'error') w.errors.push(m.text());
  });
  page.on('pageerror', (e) => w.errors.push(e.message));
  return w;
}

/** Opens the console at `/` and logs in. */
export async function logIn(w: Watched, sim: Sim, password = sim.password): Promise<void> {
  await w.page.goto(`${sim.httpUrl}/`);
  await w.page.fill('#tenant', sim.tenant);
  await w.page.fill('#user', sim.user);
  await w.page.fill('#password', password);
  await w.page.click('#login-submit');
}

/** A sim closed after the test. */
export async function consoleSim(t: TestContext): Promise<Sim> {
  const sim = await startSim({ quiet: true });
  t.after(() => sim.close());
  return sim;
}

/** The real agent for `serial`, started (it registers the device itself); stopped after the test. */
export async function startAgent(t: TestContext, sim: Sim, serial: string): Promise<Agent> {
  const { logger } = capturingLogger('warn');
  const agent = createAgent({ host: sim.httpUrl, mqttUrl: sim.mqttUrl, tenant: sim.tenant, user: `device_${serial}`, password: sim.devicePassword, deviceId: serial, threads: 1, logger });
  t.after(() => agent.stop({ graceMs: 1000 }).catch(() => {}));
  await withTimeout(agent.start(), 15_000, 'agent start');
  return agent;
}

/** A TCP echo service on 127.0.0.1, closed after the test. */
export async function echo(t: TestContext): Promise<number> {
  const e = await echoServer();
  t.after(() => e.close());
  return e.port;
}

/** The text the terminal shows. */
export async function terminalText(page: Page): Promise<string> {
  return (await page.locator('#terminal .xterm-rows').textContent()) ?? '';
}
