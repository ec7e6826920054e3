/**
 * The console as a newcomer meets it: `npm start` (bin/start.js) and `c8y-tunnel sim` print its URL; from
 * the demo's banner alone, a browser logs in, opens a session to the demo's echo service and types through
 * it. With CONSOLE_SCREENSHOT=<file> the demo test also saves the screenshot the README shows
 * (docs/console.png).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CLI, spawnNode, START } from '../helpers/cli.js';
import { withTimeout } from '../helpers/net.js';
import { closeBrowser, browser, SKIP, terminalText } from '../helpers/browser.js';

describe('the console URL in the banners', () => {
  after(closeBrowser);

  it('c8y-tunnel sim prints the console URL, and it serves the page', { timeout: 30_000 }, async (t) => {
    const sim = spawnNode(CLI, ['sim', '--http-port', '0', '--mqtt-port', '0', '--quiet']);
    t.after(() => sim.child.kill('SIGKILL'));
    const url = (await sim.waitFor(/console \(browser\): +(http:\/\/127\.0\.0\.1:\d+\/apps\/console\/) +\(log in as t1 \/ admin\)/, 15_000))[1]!;
    const r = await fetch(url);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<title>c8y-tunnel console<\/title>/);
    sim.child.kill('SIGTERM');
    assert.equal(await withTimeout(sim.exited, 10_000, 'sim exit'), 0);
  });

  it('npm start: from the banner alone, log in, connect to "echo" on demo-device and type through the real agent process', { timeout: 90_000, skip: SKIP }, async (t) => {
    const demo = spawnNode(START, ['--http-port', '0', '--mqtt-port', '0'], { C8Y_TUNNEL_SKIP_BUILD: '1' });
    t.after(() => demo.child.kill('SIGKILL'));
    const url = (await demo.waitFor(/Open the console in a browser: (http:\/\/\S+\/apps\/console\/)/, 40_000))[1]!;
    const [, tenant, user, password] = (await demo.waitFor(/log in as tenant (\S+), user (\S+), password (\S+);/, 1000)) as unknown as [string, string, string, string];

    const context = await (await browser()).newContext({ viewport: { width: 1360, height: 860 }, deviceScaleFactor: 1 });
    t.after(() => context.close().catch(() => {}));
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss().catch(() => {});
    });
    const started = Date.now();
    await page.goto(url);
    await page.fill('#tenant', tenant);
    await page.fill('#user', user);
    await page.fill('#password', password);
    await page.click('#login-submit');
    await page.locator('#device-rows tr', { hasText: 'demo-device' }).click();
    await page.locator('#cfg-rows tr', { hasText: 'echo' }).locator('button.connect').click();
    await page.waitForSelector('#term-state.on');
    await page.click('#terminal');
    for (const line of ['hello from the console', 'every line comes back through the tunnel']) {
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
      await page.locator('#terminal .xterm-rows', { hasText: line }).waitFor();
    }
    assert.match(await terminalText(page), /every line comes back through the tunnel/);
    await page.locator('#op-rows tr[data-status="SUCCESSFUL"]').first().waitFor();
    await page.locator('#session-rows tr[data-state="paired"]').waitFor();
    assert.ok(Date.now() - started < 60_000, 'under a minute from the banner to a working session');
    await demo.waitFor(/session opened/, 5000);

    const shot = process.env.CONSOLE_SCREENSHOT;
    if (shot) {
      // Let the byte counters catch up with the last line, then keep the cursor out of the picture.
      await page.locator('#session-rows tr[data-state="paired"] td', { hasText: '66 B' }).first().waitFor();
      await page.mouse.move(0, 0);
      await page.screenshot({ path: shot, fullPage: true });
    }

    await page.click('#term-close');
    await page.locator('#session-rows tr[data-state="closed"]').waitFor();
    await demo.waitFor(/session closed/, 5000);
    assert.deepEqual(dialogs, []);
    demo.child.kill('SIGINT');
    assert.equal(await withTimeout(demo.exited, 20_000, 'demo exit after SIGINT'), 0, demo.stdout() + demo.stderr());
  });
});
