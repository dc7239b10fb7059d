// Every query a dashboard runs, with where it sits: what the tests check in the committed JSON and against a real Prometheus.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';

export interface DashboardQuery {
  /** e.g. `panel "Request rate" A`, `annotation "Faults (metric)"`, `variable $service`. */
  where: string;
  kind: 'panel' | 'annotation' | 'variable';
  /** The row a panel sits under. */
  row?: string;
  /** PromQL, or for a variable Grafana's `label_values(metric, label)`. */
  expr: string;
  datasource: unknown;
  /** Labels that the legend, title or tag keys name (`{{service}}`): every series must carry them. */
  labels: string[];
}

interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: unknown;
}

const labelsIn = (...formats: Array<string | undefined>) => [...new Set(formats.flatMap((f) => [...(f ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!)))];

/** Panels in layout order, rows and the panels inside collapsed rows included. */
export function panelsOf(d: Dashboard) {
  return (d.panels ?? []).flatMap((p) => ('panels' in p ? [p, ...p.panels] : [p]));
}

/** The Prometheus queries of panels, annotations and query variables; Grafana's own tag annotations are not PromQL. */
export function queriesOf(d: Dashboard): DashboardQuery[] {
  let row: string | undefined;
  const panels = panelsOf(d).flatMap((p) => {
    if (p.type === 'row') row = p.title;
    const targets = (('targets' in p ? p.targets : undefined) ?? []) as Target[];
    return targets.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, kind: 'panel' as const, row, expr: t.expr ?? '', datasource: t.datasource, labels: labelsIn(t.legendFormat) }));
  });
  const annotations = (d.annotations?.list ?? [])
    .filter((a) => a.datasource?.type === 'prometheus')
    .map((a) => ({
      where: `annotation "${a.name}"`,
      kind: 'annotation' as const,
      expr: a.expr ?? '',
      datasource: a.datasource,
      labels: [...new Set([...labelsIn(a.titleFormat, a.textFormat), ...(a.tagKeys?.split(',') ?? [])])],
    }));
  const variables = (d.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `variable $${v.name}`, kind: 'variable' as const, expr: typeof v.query === 'string' ? v.query : String(v.query?.query ?? ''), datasource: v.datasource, labels: [] }));
  return [...panels, ...annotations, ...variables];
}
