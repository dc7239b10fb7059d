// Writes each dashboard as JSON into the chart, which ships them as ConfigMaps (.Files.Glob "dashboards/*.json").
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboards } from './index.ts';

export const outputDir = join(import.meta.dirname, '../../charts/faultline/dashboards');

/** Object keys sorted at every depth, so that the file only changes when the dashboard does. */
const sortKeys = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, sortKeys(v)]));
};

/** Panel ids in layout order, so that links to a panel (`viewPanel=<id>`) stay put between builds. */
const numberPanels = (d: Dashboard) => {
  let id = 0;
  for (const panel of d.panels ?? []) {
    panel.id = ++id;
    if ('panels' in panel) for (const inner of panel.panels) inner.id = ++id;
  }
  return d;
};

/** Every dashboard's file name (`<uid>.json`) and text. */
export function renderDashboards(): Array<{ file: string; text: string }> {
  return dashboards.map((make) => {
    const d = numberPanels(make().build());
    return { file: `${d.uid}.json`, text: `${JSON.stringify(sortKeys(d), null, 2)}\n` };
  });
}

if (import.meta.main) {
  mkdirSync(outputDir, { recursive: true });
  for (const { file, text } of renderDashboards()) {
    writeFileSync(join(outputDir, file), text);
    console.log(`wrote ${join('charts/faultline/dashboards', file)}`);
  }
}
