// Every query of every shipped dashboard against the chart's own Prometheus on the real node, while the shop takes
// orders and faults are in effect: the local runtime's dashboard test, now where Grafana would read the queries.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeNames } from '../../chaos/src/core/topology.ts';
import { planFault, type Fault, type PlannedFault } from '../../chaos/src/drill/faults/index.ts';
import type { Endpoints, FaultImplementation, InjectedFault, LoadRun } from '../../chaos/src/drill/platform.ts';
import { fault as faultSchema } from '../../chaos/src/drill/schema.ts';
import { loadKubeConfig } from '../../chaos/src/platforms/kubernetes/client.ts';
import { kubernetesPlatform } from '../../chaos/src/platforms/kubernetes/platform.ts';
import { promClient, promqlQueries, queries, services } from '../support/dashboards.ts';
import { everyPanelWithData, launchChromium, openPage } from '../support/browser.ts';
import { cliPath, cluster, waitFor } from './support.ts';

const { namespace, release } = cluster();
const platform = kubernetesPlatform({ kc: loadKubeConfig({ kubeconfig: cluster().kubeconfig }), namespace, release, allowedNamespaces: [namespace], traffic: true, k6Image: 'localhost:5000/faultline/k6:1.8.1' });
let endpoints: Endpoints;
let prometheus: ReturnType<typeof promClient>;
const live: InjectedFault[] = [];
let orders: LoadRun | undefined;
let emptyBefore: string[] = [];
let menus: NodeJS.Timeout | undefined;
const inject = async (fault: unknown) => {
  const planned = planFault(faultSchema.parse(fault) as Fault, { replicas: {}, edges: edgeNames });
  const injected = await (platform.faults[planned.kind] as FaultImplementation<PlannedFault>).inject(planned, { drill: 'dashboards-node', run: 'dashboards-node' });
  live.push(injected);
  return injected;
};
const post = (key: string) => fetch(`${endpoints.gateway}/api/orders`, { method: 'POST', headers: { 'x-api-key': key }, signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer(), () => undefined);
const menu = () => fetch(`${endpoints.gateway}/api/menu`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer(), () => undefined);

// What each kind of series needs before it exists: orders, 429s, shed requests, an open breaker, a fault in effect.
// Each is waited for until Prometheus has scraped its evidence. The retry series are exported at 0 from the start;
// that the budget is spent in an outage is shown on the local stack (test/integration/dashboards.test.ts), since
// here a cut that fails fast can open the breaker before many retries are made.
beforeAll(async () => {
  endpoints = (await platform.connect())!;
  prometheus = promClient(endpoints.prometheus);
  emptyBefore = await prometheus.emptyNow();
  orders = await platform.startLoad({ script: 'orders.js', executor: 'constant-arrival-rate', rate: 10, duration: 400_000, maxVUs: 20, apiKey: 'local' }, { name: 'dashboards', run: 'dashboards-node', drill: 'dashboards-node' });

  // Bursts from the `load` key beyond its quota: 429s. A body that is not JSON is refused right after the limiter.
  await waitFor('429s in Prometheus', async () => {
    await Promise.all(Array.from({ length: 6 }, async () => {
      for (let i = 0; i < 20; i++) await post(endpoints.apiKeys.load);
    }));
    return prometheus.present('rate_limit_decisions_total{decision="limited"}');
  }, 60_000, 1000);

  // A flood from the `load` key: past its quota it is refused before admission control (the gateway remembers its empty
  // bucket), so its panels fill with 429s, not sheds.
  const flood = await inject({ kind: 'flood', script: 'flood.js', rate: 150, duration: '8s', maxVUs: 150 });
  const summary = await flood.load!.done();
  await flood.remove();
  console.info(`flood at 150/s: ${summary.httpReqs} requests, ${(summary.failedRate * 100).toFixed(0)}% refused`);
  // Sheds: a hundred menus at once from the anonymous client, past its share of the places (6 of 12 on this node).
  let shed = false;
  for (let i = 0; i < 3 && !shed; i++) {
    await Promise.all(Array.from({ length: 100 }, menu));
    shed = await waitFor('shed requests in Prometheus', () => prometheus.present('requests_shed_total'), 20_000).catch(() => false);
    console.info(`100 menus at once: shed requests in Prometheus: ${shed ? 'yes' : 'no'}`);
  }
  await waitFor('shed requests in Prometheus', () => prometheus.present('requests_shed_total'), 5_000);

  // The catalog cut off from the gateway, held until every query has run: its deadline is well past this file's
  // longest run, since the in-cluster controller removes a fault at its deadline.
  await inject({ kind: 'network-partition', selector: { service: 'gateway' }, target: { service: 'catalog' }, direction: 'to', duration: '400s' });
  await waitFor('the catalog breaker to open', async () => {
    await Promise.all(Array.from({ length: 8 }, menu));
    return prometheus.present('circuit_breaker_state{service="gateway", dependency="catalog"} > 0');
  }, 60_000, 500);
  await waitFor('the fault in Prometheus', () => prometheus.present('faultline_fault_active{drill="dashboards-node"}'));
  // Menus keep coming while the queries run, so that the breaker shows the cut as it is now: with no calls, one lucky
  // call (on a keep-alive connection from before the cut) would leave it closed for the rest of the file.
  menus = setInterval(() => void menu(), 500);
}, 600_000);

afterAll(async () => {
  clearInterval(menus);
  console.info(`dashboard queries with no series on the node before this file's traffic and faults (${emptyBefore.length}):\n  ${emptyBefore.join('\n  ')}`);
  for (const f of live) await f.remove().catch(() => undefined);
  await orders?.stop();
  await orders?.done().catch(() => undefined);
  await waitFor('a fresh menu', async () => {
    const res = await fetch(`${endpoints.gateway}/api/menu`);
    await res.arrayBuffer();
    return res.headers.get('x-degraded') === null || undefined;
  }, 30_000, 1000).catch(() => undefined);
  await platform.close();
}, 120_000);

describe("dashboard queries against the chart's Prometheus", () => {
  it.each(promqlQueries.map((q) => [`${q.dashboard} ${q.where}`, q] as const))('%s parses and returns series', async (_name, q) => {
    await prometheus.check(q);
  });

  it.each(services)('the service view shows processes for %s alone', async (service) => {
    const processes = queries.filter((q) => q.dashboard === 'faultline-service' && q.row === 'Processes');
    expect(processes.length).toBeGreaterThan(0);
    for (const q of processes) await prometheus.check(q, service);
  });

  it('$service lists every shop service', async () => {
    const [variable] = queries.filter((q) => q.kind === 'variable');
    const [, metric, label] = /^label_values\((\w+),\s*(\w+)\)$/.exec(variable!.expr) ?? [];
    const body = await prometheus.labelValues(metric!, label!);
    expect(body.status).toBe('success');
    expect(body.data.filter((s) => services.includes(s)).sort()).toEqual(services);
  });
});

describe('the live dashboard page against the cluster (`faultline dashboard --platform kubernetes`)', () => {
  it('serves the same page through the API server, as the drill-runner, with every panel drawing data in headless Chromium', async () => {
    const { namespace, release, runnerKubeconfig } = cluster();
    const server = spawn(process.execPath, [cliPath, 'dashboard', '--platform', 'kubernetes', '--kubeconfig', runnerKubeconfig, '--namespace', namespace, '--release', release], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    server.stdout.on('data', (d: Buffer) => (output += d));
    server.stderr.on('data', (d: Buffer) => (output += d));
    const browser = await launchChromium();
    try {
      const url = await waitFor('the page URL', async () => /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1], 60_000, 200);
      expect(output).toContain(`live dashboards for Prometheus of release ${release} in namespace ${namespace}`);
      for (const uid of ['faultline-drill-overview', 'faultline-service']) {
        const { page, errors } = await openPage(browser, `${url}?dashboard=${uid}&from=now-15m`);
        const panels = await everyPanelWithData(page, 60_000);
        expect(panels.length).toBe(uid === 'faultline-service' ? 12 : 19);
        expect(errors).toEqual([]);
        await page.close();
      }
    } finally {
      await browser.close();
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    expect(server.exitCode, output).toBe(0);
  });
});

