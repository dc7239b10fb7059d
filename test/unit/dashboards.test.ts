// The dashboards the chart ships: generated from TypeScript, never stale, and every query on the chosen datasource.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';
import { outputDir, renderDashboards } from '../../dashboards/src/build.ts';
import { panelsOf, queriesOf } from '../../dashboards/src/queries.ts';

const rendered = renderDashboards();
const committed = readdirSync(outputDir).filter((f) => f.endsWith('.json'));
const dashboards = rendered.map(({ file, text }) => ({ file, d: JSON.parse(text) as Dashboard }));
const promDatasource = { type: 'prometheus', uid: '${datasource}' };
const grafanaDatasource = { type: 'grafana', uid: '-- Grafana --' };
const isPanel = (p: Panel | RowPanel): p is Panel => p.type !== 'row';

/** Every `datasource` object anywhere in a dashboard, with its path. */
function datasourceRefs(value: unknown, path = ''): Array<{ path: string; ref: unknown }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => datasourceRefs(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [...(k === 'datasource' && typeof v === 'object' ? [{ path: `${path}.${k}`, ref: v }] : []), ...datasourceRefs(v, `${path}.${k}`)]);
}

describe('generated dashboards', () => {
  it('match the committed JSON byte for byte', () => {
    const stale = 'is stale: run `npm run dashboards:build` and commit charts/faultline/dashboards';
    expect(committed.sort(), `the set of dashboard files ${stale}`).toEqual(rendered.map((r) => r.file).sort());
    for (const { file, text } of rendered) {
      expect(readFileSync(join(outputDir, file), 'utf8') === text, `${file} ${stale}`).toBe(true);
    }
  });

  it('have unique uids, each its file name, and the faultline tag', () => {
    const uids = dashboards.map(({ d }) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids.sort()).toEqual(['faultline-drill-overview', 'faultline-service', 'faultline-stores']);
    for (const { file, d } of dashboards) {
      expect(file).toBe(`${d.uid}.json`);
      expect(d.tags).toContain('faultline');
    }
  });

  it.each(dashboards.map(({ file, d }) => [file, d] as const))('%s: every panel, target, annotation and variable queries the $datasource variable', (_file, d) => {
    const variable = d.templating?.list?.find((v) => v.name === 'datasource');
    expect(variable).toMatchObject({ type: 'datasource', query: 'prometheus' });
    // Only two datasources are ever named: the variable, and Grafana's own annotation store.
    for (const { path, ref } of datasourceRefs(d)) expect([promDatasource, grafanaDatasource], path).toContainEqual(ref);
    for (const panel of panelsOf(d).filter(isPanel)) {
      expect(panel.datasource, `panel "${panel.title}"`).toEqual(promDatasource);
      expect(panel.targets?.length, `panel "${panel.title}" has targets`).toBeGreaterThan(0);
    }
    for (const q of queriesOf(d)) expect(q.datasource, q.where).toEqual(promDatasource);
  });

  it.each(dashboards.map(({ file, d }) => [file, d] as const))('%s: every query has PromQL, and every rate uses $__rate_interval', (_file, d) => {
    for (const q of queriesOf(d)) {
      expect(q.expr.trim(), q.where).not.toBe('');
      for (const [, range] of q.expr.matchAll(/\b(?:rate|increase)\([^[]*\[([^\]]+)\]/g)) expect(range, q.where).toBe('$__rate_interval');
    }
  });

  it.each(dashboards.map(({ file, d }) => [file, d] as const))('%s: rows, units, stable panel ids, and faults as annotations', (_file, d) => {
    const panels = panelsOf(d);
    expect(panels[0]?.type).toBe('row');
    expect(panels.map((p) => p.id)).toEqual(panels.map((_, i) => i + 1));
    for (const panel of panels.filter(isPanel)) {
      const defaults = panel.fieldConfig?.defaults;
      expect(defaults?.unit ?? defaults?.mappings, `panel "${panel.title}" has a unit or value names`).toBeTruthy();
    }
    const annotations = d.annotations?.list ?? [];
    expect(annotations.find((a) => a.datasource?.type === 'prometheus')?.expr).toMatch(/faultline_fault_active/);
    expect(annotations.find((a) => a.datasource?.type === 'grafana')?.target).toMatchObject({ type: 'tags', tags: ['faultline'] });
  });

  it('show breaker states as closed, half-open and open', () => {
    const overview = dashboards.find(({ d }) => d.uid === 'faultline-drill-overview')!.d;
    const timeline = panelsOf(overview).filter(isPanel).find((p) => p.type === 'state-timeline');
    expect(timeline?.fieldConfig?.defaults?.mappings?.[0]).toMatchObject({ type: 'value', options: { 0: { text: 'closed' }, 1: { text: 'half-open' }, 2: { text: 'open' } } });
  });
});
