// What both dashboard tests share (the local stack's and the cluster's Prometheus): every query of every shipped
// dashboard, with Grafana's variables filled in as Grafana would for a 2 s scrape, run as instant queries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { expect } from 'vitest';
import { outputDir, renderDashboards } from '../../dashboards/src/build.ts';
import { queriesOf, type DashboardQuery } from '../../dashboards/src/queries.ts';

export const services = ['catalog', 'gateway', 'kitchen', 'orders'];
/** `$__rate_interval` as Grafana computes it for 2 s scrapes: four scrapes at the least. */
export const rateInterval = '8s';

// The committed files are what Grafana gets; the unit test keeps them equal to the generated ones.
const dashboards = renderDashboards().map(({ file }) => JSON.parse(readFileSync(join(outputDir, file), 'utf8')) as Dashboard);
const allQueries = dashboards.flatMap((d) => queriesOf(d).map((q) => ({ ...q, dashboard: d.uid! })));
/** Dashboards whose series only the local runtime's HA topology has: test/integration/ha.test.ts runs their queries. */
export const haDashboards = ['faultline-stores'];
export const queries = allQueries.filter((q) => !haDashboards.includes(q.dashboard));
export const promqlQueries = queries.filter((q) => q.kind !== 'variable');
export const haQueries = allQueries.filter((q) => haDashboards.includes(q.dashboard) && q.kind !== 'variable');

/** Template variables as Grafana fills them, `$service` set to All being the regex of every value. Anything else left over fails. */
export function substitute(expr: string, service = `(${services.join('|')})`) {
  const vars: Record<string, string> = { __rate_interval: rateInterval, __interval: '2s', __range: '15m', service };
  const out = expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => vars[name] ?? whole);
  expect(out, `an unknown variable in ${expr}`).not.toContain('$');
  return out;
}

export function promClient(prometheus: string) {
  const instant = async (expr: string) => {
    const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Array<{ metric: Record<string, string> }> } };
    return { status: body.status, error: body.error, series: body.data?.result ?? [] };
  };
  return {
    instant,
    present: async (expr: string) => (await instant(expr)).series.length > 0 || undefined,
    /** The query parses, returns series, and each carries the labels its legend names. */
    async check(q: DashboardQuery, service?: string) {
      const expr = substitute(q.expr, service);
      let { status, error, series } = await instant(expr);
      // A rate needs two samples in its 8 s window: one late scrape on a loaded 2-core machine leaves one, for a moment.
      for (let retry = 0; retry < 3 && status === 'success' && series.length === 0; retry++) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        ({ status, error, series } = await instant(expr));
      }
      expect({ status, error }, `${q.where}: ${expr}`).toEqual({ status: 'success', error: undefined });
      expect(series.length, `${q.where} returned no series: ${expr}`).toBeGreaterThan(0);
      for (const s of series) for (const label of q.labels) expect(s.metric, `${q.where}: every series carries "${label}"`).toHaveProperty(label);
    },
    async labelValues(metric: string, label: string) {
      const body = (await (await fetch(`${prometheus}/api/v1/label/${label}/values?match[]=${encodeURIComponent(metric)}`)).json()) as { status: string; data: string[] };
      return body;
    },
    async emptyNow() {
      return (await Promise.all(promqlQueries.map(async (q) => ((await instant(substitute(q.expr))).series.length ? [] : [`${q.dashboard} ${q.where}`])))).flat();
    },
  };
}
