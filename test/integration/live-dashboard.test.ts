// The live dashboard page in a real browser: a catalog outage as it happens (the README's screenshot comes from here),
// the page through a Prometheus restart and with Prometheus down, and `faultline dashboard`.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser } from 'puppeteer-core';
import { startDashboardServer } from '../../chaos/src/dashboard/server.ts';
import { bannerText, everyPanelWithData, launchChromium, openPage, panelViews } from '../support/browser.ts';
import { closedPort } from '../support/ports.ts';
import { cli, controlFetch, promQuery, repoRoot, waitFor } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stack = inject('stack');
const env = { FAULTLINE_PORT_BASE: String(stack.portBase), FAULTLINE_STATE_DIR: inject('stateDir') };
const reports = tempDir('live-reports-');
const screenshot = join(repoRoot, 'docs/live-dashboard.png');
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('faultline dashboard', () => {
  it("prints the running stack's page, which `up` and every drill's first line print too", () => {
    const r = cli(['dashboard'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(stack.urls.dashboard);
    expect(stack.urls.dashboard).toBe(`http://127.0.0.1:${stack.portBase + 13}/`);
  });

  it.each([
    [['dashboard', '--port', '8080'], '--port go with --platform kubernetes'],
    [['dashboard', '--platform', 'kubernetes', '--port', '70000'], '--port "70000": a TCP port, 1 to 65535'],
    [['dashboard', '--platform', 'kubernetes', '--release', 'Bad_Name'], '--release "Bad_Name"'],
    [['dashboard', '--platform', 'mars'], "argument 'mars' is invalid"],
  ])('exits 2 on %j', (args, message) => {
    const r = cli(args, env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('exits 2, saying how to start it, when no stack runs', () => {
    const r = cli(['dashboard'], { ...env, FAULTLINE_STATE_DIR: tempDir('no-stack-') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not running: `faultline up` starts it');
  });
});

describe('the live page in headless Chromium', () => {
  it('shows a catalog outage as it happens: the breaker open, and the cut as a band with its name', async () => {
    const { page, errors } = await openPage(browser, `${stack.urls.dashboard}?dashboard=faultline-drill-overview&from=now-5m`, { width: 1600, height: 1300 });
    const drill = spawn(process.execPath, [join(repoRoot, 'chaos/bin/faultline.js'), 'drill', 'run', join(repoRoot, 'chaos/drills/catalog-outage.yaml'), '--report-dir', reports], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    drill.stdout.on('data', (d: Buffer) => (output += d));
    drill.stderr.on('data', (d: Buffer) => (output += d));
    const exited = once(drill, 'exit');
    try {
      const seen = await waitFor(
        'the breaker panel to show gateway → catalog open beside the partition band',
        () =>
          page.evaluate(`(() => {
            const breakers = [...document.querySelectorAll('section.panel[data-title="Circuit breakers"] .tl-row')].find((r) => r.dataset.series === 'gateway → catalog');
            const open = [...(breakers?.querySelectorAll('.tl-seg') ?? [])].some((s) => s.dataset.state === 'open');
            const band = [...document.querySelectorAll('section.panel[data-title="Request rate"] .fault-band')].map((b) => b.textContent).find((t) => t.includes('network-partition: gateway-catalog'));
            return open && band ? band : undefined;
          })()`) as Promise<string | undefined>,
        60_000,
        500,
      );
      expect(seen).toBe('network-partition: gateway-catalog');
      // The picture the README shows: once the cut is healed, while the drill still checks recovery, so that the
      // whole band and the breaker's open spell are in it.
      await waitFor('the faults to end', async () => ((await page.evaluate(`document.querySelector('section.panel[data-title="Faults active"] .value')?.textContent`)) === '0' ? true : undefined), 60_000, 500);
      await new Promise((r) => setTimeout(r, 2500));
      expect(drill.exitCode, 'the drill ended before the screenshot').toBeNull();
      await page.screenshot({ path: screenshot, clip: { x: 0, y: 0, width: 1600, height: 1300 } });
    } finally {
      await exited;
    }
    expect(output).toContain(`watch it live at ${stack.urls.dashboard}`);
    expect(drill.exitCode, output).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  }, 240_000);

  it('keeps working when Prometheus restarts: it says so while it is away, then draws again', async () => {
    const { page, errors } = await openPage(browser, `${stack.urls.dashboard}?dashboard=faultline-service&from=now-5m`);
    await everyPanelWithData(page);
    const status = async () => (await (await controlFetch(stack, env.FAULTLINE_STATE_DIR)('/status')).json()) as typeof stack;
    const pid = (await status()).components.find((c) => c.name === 'prometheus')!.pid!;
    // Frozen first, so that the outage outlasts a refresh (the supervisor restarts a dead one within a second), then killed.
    process.kill(pid, 'SIGSTOP');
    const outage = await waitFor('the page to say Prometheus is away', async () => (await bannerText(page)) || undefined, 30_000, 200).finally(() => process.kill(pid, 'SIGKILL'));
    expect(outage).toMatch(/^Prometheus \(local Prometheus \(127\.0\.0\.1:\d+\)\) is not reachable: TimeoutError\. Retrying every 2 s\.$/);
    expect((await panelViews(page)).filter((p) => p.state === 'error').length).toBeGreaterThan(0);
    await waitFor('Prometheus to be back', async () => ((await status()).components.find((c) => c.name === 'prometheus')?.health === 'ready' ? true : undefined), 60_000, 500);
    await waitFor('the page to clear its message', async () => ((await bannerText(page)) === '' ? true : undefined), 30_000, 250);
    await everyPanelWithData(page);
    // The next files read fresh windows: wait for a scrape after the restart.
    await waitFor('a scrape after the restart', async () => ((await promQuery(stack, 'up{job="gateway"} == 1')).length > 0 ? true : undefined), 30_000, 500);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('shows a clear message in every panel, not a blank chart, when Prometheus is down', async () => {
    const server = await startDashboardServer({ prometheus: `http://127.0.0.1:${await closedPort()}`, datasourceName: 'a Prometheus that is down', port: 0, defaultScrapeSeconds: 2 });
    try {
      const { page, errors } = await openPage(browser, server.url);
      const banner = await waitFor('the outage banner', async () => (await bannerText(page)) || undefined, 20_000, 200);
      expect(banner).toBe('Prometheus (a Prometheus that is down) is not reachable: ECONNREFUSED. Retrying every 2 s.');
      const panels = await waitFor('every panel to say why it is empty', async () => {
        const views = await panelViews(page);
        return views.length > 0 && views.every((p) => p.state === 'error') ? views : undefined;
      });
      expect(panels.length).toBe(19);
      for (const p of panels) expect(p.message, p.title).toContain('is not reachable');
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      await server.close();
    }
  }, 60_000);
});
