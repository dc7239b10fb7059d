// The live dashboard page in headless Chromium (installed by setup), driven by puppeteer-core: what each panel shows.
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { chromiumPath } from '../../tooling/toolchain.ts';
import { waitFor } from './shop.ts';
import { tempDir } from './temp.ts';

export interface PanelView {
  title: string;
  type: string;
  /** loading, data, empty, novalue (a stat's "no value" text) or error. */
  state: string;
  message: string | null;
}

export async function launchChromium(): Promise<Browser> {
  // Root has no user namespace sandbox for Chromium here; the page is our own, on loopback.
  return puppeteer.launch({ executablePath: chromiumPath, headless: true, userDataDir: tempDir('chromium-'), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** A page on the live dashboards, its script errors collected: a page that throws fails the test that opened it. */
export async function openPage(browser: Browser, url: string, size = { width: 1600, height: 2400 }) {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.setViewport(size);
  await page.goto(url, { waitUntil: 'load' });
  return { page, errors };
}

// Page-side code as text: it runs in the browser, and this project type-checks for Node, without the DOM's types.
export const panelViews = (page: Page) =>
  page.evaluate(`[...document.querySelectorAll('section.panel')].map((s) => ({
    title: s.dataset.title, type: s.dataset.type, state: s.dataset.state, message: s.querySelector('.message')?.textContent ?? null,
  }))`) as Promise<PanelView[]>;

export const bannerText = (page: Page) => page.evaluate(`(() => { const b = document.getElementById('banner'); return b.hidden ? '' : b.textContent; })()`) as Promise<string>;

/** Waits until every panel has drawn data, and returns them; on time-out, names the panels that have not. */
export async function everyPanelWithData(page: Page, timeoutMs = 30_000) {
  let last: PanelView[] = [];
  return waitFor(
    'every panel to show data',
    async () => {
      last = await panelViews(page);
      return last.length > 0 && last.every((p) => p.state === 'data') ? last : undefined;
    },
    timeoutMs,
    500,
  ).catch(() => {
    throw new Error(`panels without data: ${last.filter((p) => p.state !== 'data').map((p) => `"${p.title}" ${p.state}${p.message ? ` (${p.message})` : ''}`).join(', ')}`);
  });
}
