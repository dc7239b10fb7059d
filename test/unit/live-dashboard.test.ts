// The live dashboard page: it draws everything the generated dashboards use (a test fails when they gain what it cannot
// draw), its reading of Grafana's JSON, and its server's answers to bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardsDir, loadDashboards, startDashboardServer, type DashboardServer } from '../../chaos/src/dashboard/server.ts';
import { outputDir } from '../../dashboards/src/build.ts';
import { alignSeries, faultBands, formatValue, interpolate, intervalsFor, labelValuesOf, legendOf, mapValue, overrideProperties, selectedValues, stateRuns, thresholdColor, units } from '../../dashboards/web/model.js';
import { closedPort } from '../support/ports.ts';

// The renderers are browser code, type-checked with the DOM's types by dashboards/web/tsconfig.json, not by this project's.
const page: string = '../../dashboards/web/panels.js';
const { renderers, thresholdStyles } = (await import(page)) as { renderers: Record<string, unknown>; thresholdStyles: string[] };

type AnyPanel = { type: string; title?: string; panels?: AnyPanel[]; fieldConfig?: { defaults?: any; overrides?: any[] }; options?: any };
const dashboards = loadDashboards();
const panels = dashboards.flatMap(({ json }) => ((json.panels ?? []) as AnyPanel[]).flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => ({ dashboard: json.uid as string, ...p })));
const drawn = panels.filter((p) => p.type !== 'row');

describe('what the generated dashboards use, the page draws', () => {
  it('reads the very files the chart ships', () => {
    expect(dashboardsDir).toBe(outputDir);
    expect(dashboards.map((d) => d.uid)).toEqual(['faultline-drill-overview', 'faultline-service', 'faultline-stores']);
  });

  it('has a renderer for every panel type', () => {
    const missing = drawn.filter((p) => !(p.type in renderers)).map((p) => `${p.dashboard}: "${p.title}" is a ${p.type}`);
    expect(missing).toEqual([]);
  });

  it('formats every unit', () => {
    const missing = drawn.filter((p) => p.fieldConfig?.defaults?.unit !== undefined && !units.includes(p.fieldConfig.defaults.unit)).map((p) => `${p.title}: ${p.fieldConfig?.defaults.unit}`);
    expect(missing).toEqual([]);
  });

  it('applies every field option the panels set: threshold styles, interpolation, mappings and overrides', () => {
    const problems = drawn.flatMap((p) => {
      const d = p.fieldConfig?.defaults ?? {};
      return [
        ...(d.custom?.thresholdsStyle && !thresholdStyles.includes(d.custom.thresholdsStyle.mode) ? [`${p.title}: thresholdsStyle ${d.custom.thresholdsStyle.mode}`] : []),
        ...(d.custom?.lineInterpolation && !['linear', 'stepAfter'].includes(d.custom.lineInterpolation) ? [`${p.title}: lineInterpolation ${d.custom.lineInterpolation}`] : []),
        ...(d.thresholds && d.thresholds.mode !== 'absolute' ? [`${p.title}: thresholds mode ${d.thresholds.mode}`] : []),
        ...((d.mappings ?? []) as Array<{ type: string }>).filter((m) => m.type !== 'value').map((m) => `${p.title}: mapping ${m.type}`),
        ...(d.color?.mode && !['thresholds', 'palette-classic'].includes(d.color.mode) ? [`${p.title}: colour mode ${d.color.mode}`] : []),
        ...(p.fieldConfig?.overrides ?? []).flatMap((o) => [
          ...(o.matcher?.id === 'byName' ? [] : [`${p.title}: override matcher ${o.matcher?.id}`]),
          ...(o.properties as Array<{ id: string }>).filter((prop) => !overrideProperties.includes(prop.id)).map((prop) => `${p.title}: override ${prop.id}`),
        ]),
        ...(p.type === 'stat' && !['background', 'value', 'none'].includes(p.options?.colorMode) ? [`${p.title}: stat colorMode ${p.options?.colorMode}`] : []),
        ...(p.type === 'stat' && (p.options?.reduceOptions?.calcs ?? []).some((c: string) => c !== 'lastNotNull') ? [`${p.title}: reducer ${p.options.reduceOptions.calcs}`] : []),
      ];
    });
    expect(problems).toEqual([]);
  });

  it('resolves every variable and reads every annotation it can, saying which it cannot', () => {
    for (const { json } of dashboards) {
      for (const v of (json.templating as { list: Array<{ type: string; name: string; query?: unknown }> }).list) {
        expect(['datasource', 'query'], `$${v.name}`).toContain(v.type);
        if (v.type === 'query') expect(labelValuesOf(v.query), `$${v.name}`).toBeDefined();
      }
      const annotations = (json.annotations as { list: Array<{ name: string; datasource?: { type?: string } }> }).list;
      // Grafana's own annotation store has no counterpart here; the README lists it among what the page does not do.
      expect(annotations.map((a) => `${a.name}: ${a.datasource?.type}`).sort()).toEqual(['Faults (Grafana): grafana', 'Faults (metric): prometheus']);
    }
  });
});

describe("the page's reading of Grafana's JSON", () => {
  it("computes Grafana's intervals: a point per pixel at most, a rate over four scrapes at least", () => {
    expect(intervalsFor(900, 600, 2)).toEqual({ step: 2, rateInterval: 8 });
    expect(intervalsFor(3600, 600, 2)).toEqual({ step: 10, rateInterval: 12 });
    expect(intervalsFor(300, 1200, 15)).toEqual({ step: 15, rateInterval: 60 });
  });

  it('interpolates variables as the Prometheus datasource does, a multi-value one as an escaped alternation', () => {
    expect(interpolate('rate(x{service=~"$service"}[$__rate_interval])', { service: ['gateway', 'or.ders'], __rate_interval: '8s' })).toBe('rate(x{service=~"(gateway|or\\.ders)"}[8s])');
    expect(interpolate('${datasource} $unknown', { datasource: 'prometheus' })).toBe('prometheus $unknown');
  });

  it('formats legends and units as Grafana writes them', () => {
    expect(legendOf('{{service}} → {{ dependency }}', { service: 'gateway', dependency: 'catalog' })).toBe('gateway → catalog');
    expect(legendOf(undefined, { __name__: 'up', job: 'x' })).toBe('up{job="x"}');
    expect(formatValue('percentunit', 0.0512)).toBe('5.12%');
    expect(formatValue('s', 0.85)).toBe('850 ms');
    expect(formatValue('s', 2.5)).toBe('2.5 s');
    expect(formatValue('bytes', 1_610_612_736)).toBe('1.5 GiB');
    expect(formatValue('reqps', 42.25)).toBe('42.3 req/s');
    expect(formatValue('short', 12_300)).toBe('12.3 K');
    expect(formatValue('short', 3, 0)).toBe('3');
    expect(formatValue('ops', null)).toBe('–');
  });

  it('colours by threshold step and maps breaker states to words', () => {
    const thresholds = { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.01 }, { color: 'red', value: 0.05 }] };
    expect([0, 0.01, 0.2].map((v) => thresholdColor(thresholds, v))).toEqual(['#73BF69', '#FF9830', '#F2495C']);
    const mappings = [{ type: 'value', options: { '2': { text: 'open', color: 'red' } } }];
    expect(mapValue(mappings, 2)).toEqual({ text: 'open', color: '#F2495C' });
    expect(mapValue(mappings, 0)).toBeUndefined();
  });

  it('puts series on one grid with gaps where points are missing or not numbers', () => {
    const { times, series } = alignSeries({ start: 100, end: 110, step: 5 }, [
      { refId: 'A', legendFormat: '{{service}}', result: [{ metric: { service: 'gateway' }, values: [[100, '1'], [110, 'NaN']] }] },
    ]);
    expect(times).toEqual([100, 105, 110]);
    expect(series).toEqual([{ label: 'gateway', labels: { service: 'gateway' }, refId: 'A', values: [1, null, null] }]);
  });

  it('merges equal states into runs, and splits a fault into two bands across a gap', () => {
    expect(stateRuns([0, 2, 4, 6], [0, 0, 2, 2], 2)).toEqual([
      { from: 0, to: 4, value: 0 },
      { from: 4, to: 8, value: 2 },
    ]);
    const bands = faultBands({ start: 0, end: 20, step: 5 }, [{ metric: { kind: 'network-partition', target: 'gateway-catalog', drill: 'd' }, values: [[0, '1'], [5, '1'], [15, '1']] }], {
      titleFormat: '{{kind}}: {{target}}',
      textFormat: 'drill {{drill}}',
    });
    expect(bands).toEqual([
      { from: 0, to: 10, title: 'network-partition: gateway-catalog', text: 'drill d' },
      { from: 15, to: 20, title: 'network-partition: gateway-catalog', text: 'drill d' },
    ]);
  });

  it('takes variable values from the URL only where they are options, and All otherwise', () => {
    const service = { name: 'service', type: 'query', multi: true, includeAll: true };
    expect(selectedValues(service, ['catalog', 'gateway'], ['gateway', 'evil"}'])).toEqual(['gateway']);
    expect(selectedValues(service, ['catalog', 'gateway'], [])).toEqual(['catalog', 'gateway']);
    expect(selectedValues({ ...service, multi: false, includeAll: false }, ['catalog', 'gateway'], ['catalog', 'gateway'])).toEqual(['catalog']);
  });
});

describe("the page's server, with Prometheus down", () => {
  let server: DashboardServer;
  beforeAll(async () => {
    server = await startDashboardServer({ prometheus: `http://127.0.0.1:${await closedPort()}`, datasourceName: 'test Prometheus', port: 0, defaultScrapeSeconds: 2 });
  });
  afterAll(() => server.close());
  const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, server.url), { headers });
  const error = async (r: Response) => ((await r.json()) as { error: { code: string; message: string } }).error;

  it('serves the page, its scripts, uPlot, and each dashboard as the chart ships it', async () => {
    expect(await (await get('/')).text()).toContain('<script type="module" src="/web/app.js">');
    expect((await get('/web/panels.js')).headers.get('content-type')).toMatch(/javascript/);
    expect((await get('/vendor/uplot/uPlot.esm.js')).status).toBe(200);
    const index = (await (await get('/api/dashboards')).json()) as { datasource: { scrapeIntervalSeconds: number }; dashboards: unknown[] };
    expect(index).toEqual({ datasource: { name: 'test Prometheus', scrapeIntervalSeconds: 2 }, dashboards: dashboards.map(({ uid, title }) => ({ uid, title })) });
    expect(await (await get('/api/dashboards/faultline-service')).json()).toEqual(dashboards[1]!.json);
  });

  it('answers a query with 503 and the reason while Prometheus is down', async () => {
    const r = await get('/api/query_range?query=up&start=100&end=200&step=2');
    expect(r.status).toBe(503);
    expect(await error(r)).toEqual({ code: 'prometheus_unavailable', message: 'Prometheus (test Prometheus) is not reachable: ECONNREFUSED' });
  });

  it.each([
    ['/api/query_range?start=100&end=200&step=2', 'query'],
    ['/api/query_range?query=up&start=200&end=100&step=2', 'end must be after start'],
    ['/api/query_range?query=up&start=100&end=200&step=0', 'step must be above 0'],
    ['/api/query_range?query=up&start=0&end=100000&step=1', 'at most 11,000 points'],
    ['/api/query_range?query=up&start=x&end=200&step=2', 'start'],
    ['/api/query_range?query=up&start=100&end=200&step=2&extra=1', 'extra'],
    ['/api/label_values?label=service&metric=up%7Bx%3D%221%22%7D', 'metric must be a Prometheus metric name'],
    ['/api/label_values?label=a-b&metric=up', 'label must be a Prometheus label name'],
  ])('refuses %s with 400 naming %s', async (path, named) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    const e = await error(r);
    expect(e.code).toBe('invalid_query');
    expect(e.message).toContain(named);
  });

  it('answers 404 for an unknown dashboard or API, 405 for a write, 403 for a host that is not loopback', async () => {
    const unknown = await get('/api/dashboards/nope');
    expect(unknown.status).toBe(404);
    expect((await error(unknown)).message).toContain('known: faultline-drill-overview, faultline-service');
    expect((await get('/api/nope')).status).toBe(404);
    expect((await get('/web/nope.js')).status).toBe(404);
    const post = await fetch(new URL('/api/dashboards', server.url), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    // fetch will not forge Host; node:http will, as a DNS-rebinding page's browser would send it.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      request(new URL('/api/dashboards', server.url), { headers: { host: 'evil.example:80' } }, (res) => resolve(res.statusCode ?? 0))
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
  });
});
