// Every query of every shipped dashboard against the real Prometheus, while the shop takes orders and a drill's
// faults are in effect: each must parse, return series, and carry the labels its legend names.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { supervisorApi } from '../../chaos/src/platforms/local/platform.ts';
import { promClient, promqlQueries, queries, rateInterval, services } from '../support/dashboards.ts';
import { shopClient, steadyLoad, waitFor } from '../support/shop.ts';
import { everyPanelWithData, launchChromium, openPage } from '../support/browser.ts';
import type { Browser } from 'puppeteer-core';

const stack = inject('stack');
const shop = shopClient(stack);
const platform = supervisorApi({ portBase: stack.portBase, stateDir: inject('stateDir') });
const drill = 'dashboards-it';
const pizza = [{ sku: 'margherita', qty: 1 }];
const prometheus = promClient(stack.urls.prometheus);
const present = prometheus.present;

const faultIds: string[] = [];
/** Queries with no series before this file's traffic and faults: reported, to show what the drill had to cause. */
let emptyBefore: string[] = [];
let orders: ReturnType<typeof steadyLoad> | undefined;

// The traffic and faults of a short drill, each waited for until Prometheus has scraped its evidence: some series
// (429s, shed requests, breakers, retries, faults in effect) exist only once something has gone wrong.
beforeAll(async () => {
  emptyBefore = await prometheus.emptyNow();

  orders = steadyLoad(() => shop.order(pizza), { workers: 2, pauseMs: 100, maxMs: 180_000 });
  expect((await shop.menu()).status).toBe(200); // a last good menu, served degraded while the catalog is cut

  // Bursts from the `load` key beyond its bucket of 50 a second: 429s. Six at a time stays inside admission control, and a
  // body that is not JSON is refused (415) right after the limiter, so a burst is quick enough to outrun the refill.
  const burst = () =>
    Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = 0; i < 25; i++) await shop.request('POST', '/api/orders', { headers: { 'x-api-key': stack.apiKeys.load! } });
      }),
    );
  await waitFor(
    '429s in Prometheus',
    async () => {
      await burst();
      return present('rate_limit_decisions_total{decision="limited"}');
    },
    30_000,
    1000,
  );

  // The catalog slowed to 150 ms, then 100 menus at once overrun admission control.
  const slow = await platform.injectEdgeFault({ drill, kind: 'latency', edge: 'gateway-catalog', direction: 'from', latencyMs: 150, jitterMs: 0, durationMs: 30_000 });
  faultIds.push(slow.id);
  await Promise.all(Array.from({ length: 100 }, () => shop.menu()));
  await platform.removeFault(slow.id);
  // From one client, most are refused at its share (client_share); the panel draws every reason.
  await waitFor('shed requests in Prometheus', () => present('requests_shed_total'));

  // The catalog cut off from the gateway, held until every query has run (its deadline clears it if this run dies).
  const cut = await platform.injectEdgeFault({ drill, kind: 'network-partition', edge: 'gateway-catalog', direction: 'both', jitterMs: 0, durationMs: 120_000 });
  faultIds.push(cut.id);
  // Eight menus at once fail together, before the breaker opens, and each is retried: most of the retry budget goes at once.
  await Promise.all(Array.from({ length: 8 }, () => shop.menu()));
  await waitFor('the catalog breaker to open', () => present('circuit_breaker_state{service="gateway", dependency="catalog"} > 0'));
  // Then one menu each time the open breaker lets a probe through (after 3 s): each failed probe spends one more retry,
  // and so few calls put back little, so the budget runs out.
  await waitFor(
    'the gateway to spend its catalog retry budget',
    async () => {
      await shop.menu();
      // Spent, not only exported: the series is there at 0 from the start.
      return present(`rate(retry_budget_exhausted_total{service="gateway", dependency="catalog"}[${rateInterval}]) > 0`);
    },
    60_000,
    3000,
  );
  await waitFor('the fault in Prometheus', () => present(`faultline_fault_active{drill="${drill}"}`));
}, 240_000);

afterAll(async () => {
  console.info(`dashboard queries that had no series before this file's traffic and faults (${emptyBefore.length}):\n  ${emptyBefore.join('\n  ')}`);
  for (const id of faultIds) await platform.removeFault(id).catch(() => undefined);
  await orders?.stop();
  // Leave the catalog breaker closed for the next file: a served menu after the half-open probe.
  await waitFor('a fresh menu', async () => ((await shop.menu()).headers.get('x-degraded') === null ? true : undefined), 20_000, 500).catch(() => undefined);
});

const check = prometheus.check;

describe('dashboard queries against the local Prometheus', () => {
  it.each(promqlQueries.map((q) => [`${q.dashboard} ${q.where}`, q] as const))('%s parses and returns series', async (_name, q) => {
    await check(q);
  });

  it.each(services)('the service view shows processes for %s alone', async (service) => {
    const processes = queries.filter((q) => q.dashboard === 'faultline-service' && q.row === 'Processes');
    expect(processes.length).toBeGreaterThan(0);
    for (const q of processes) await check(q, service);
  });

  it('$service lists every shop service, as Grafana asks Prometheus for label_values', async () => {
    const variables = queries.filter((q) => q.kind === 'variable');
    expect(variables.map((q) => q.where)).toEqual(['variable $service']);
    const [, metric, label] = /^label_values\((\w+),\s*(\w+)\)$/.exec(variables[0]!.expr) ?? [];
    const body = await prometheus.labelValues(metric!, label!);
    expect(body.status).toBe('success');
    expect(body.data.sort()).toEqual(services);
  });
});

describe('the live dashboard page, after the same traffic and faults', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it.each(['faultline-drill-overview', 'faultline-service'])('draws every panel of %s with data, in headless Chromium', async (uid) => {
    browser ??= await launchChromium();
    const { page, errors } = await openPage(browser, `${stack.urls.dashboard}?dashboard=${uid}&from=now-15m`);
    const panels = await everyPanelWithData(page);
    expect(panels.length).toBe(uid === 'faultline-service' ? 12 : 19);
    expect(errors).toEqual([]);
    await page.close();
  });
});
