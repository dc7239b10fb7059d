// Shared defaults for faultline's dashboards: one datasource variable, one look per panel kind, units by name.
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as units from '@grafana/grafana-foundation-sdk/units';
import { promql } from '@faultline/chaos';

export { units };

/** Grafana widens this to cover at least four scrapes, so a rate never falls between two samples. */
export const rateInterval = '$__rate_interval';

/** A counter as events per second over Grafana's rate interval, summed over the `by` groups. */
export const perSecond = (metric: string, by?: string, matcher?: string) => promql.sumRate(metric, { window: rateInterval, matcher, by });

/** Every query goes to the Prometheus the viewer picks, so the same JSON works in any Grafana. */
export const datasource = { type: 'prometheus', uid: '${datasource}' };
export const datasourceVariable = () => new dashboard.DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus');

/** Grafana's own annotation store: Grafana's built-in datasource, not one to choose. */
const grafanaAnnotations = { type: 'grafana', uid: '-- Grafana --' };

/** The SDK types an annotation's target as a data query, but Grafana's tag filter is an AnnotationTarget; the marker method never reaches the JSON. */
const asDataquery = (target: dashboard.AnnotationTargetBuilder): cog.Builder<cog.Dataquery> => ({
  build: () => ({ ...target.build(), _implementsDataqueryVariant() {} }),
});

/**
 * Faults on every time axis, from both sources: the `faultline_fault_active` gauge (any runtime whose
 * controller Prometheus scrapes), and annotations the Kubernetes fault driver posts to Grafana tagged `faultline`.
 */
export const faultAnnotations = () => [
  new dashboard.AnnotationQueryBuilder()
    .name('Faults (metric)')
    .datasource(datasource)
    .enable(true)
    .iconColor('red')
    .expr(promql.activeFaults)
    // Grafana's default step of 60 s would hide a fault of a few seconds.
    .step('5s')
    .titleFormat('{{kind}}: {{target}}')
    .textFormat('drill {{drill}}')
    .tagKeys('drill,kind,target')
    .useValueForTime(false),
  new dashboard.AnnotationQueryBuilder()
    .name('Faults (Grafana)')
    .datasource(grafanaAnnotations)
    .enable(true)
    .iconColor('orange')
    .target(asDataquery(new dashboard.AnnotationTargetBuilder().type('tags').tags(['faultline']).matchAny(false).limit(200))),
];

/** A dashboard with faultline's defaults: tags, a short refresh for watching a drill, and the fault annotations. */
export const faultlineDashboard = (uid: string, title: string) => {
  const builder = new dashboard.DashboardBuilder(title)
    .uid(uid)
    .tags(['faultline'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('5s')
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable());
  for (const annotation of faultAnnotations()) builder.annotation(annotation);
  return builder;
};

export interface Query {
  expr: string;
  legend: string;
}

const refIds = 'ABCDEFGHIJ';
const promTargets = (queries: Query[]) =>
  queries.map((q, i) => new prometheus.DataqueryBuilder().datasource(datasource).refId(refIds[i]!).expr(q.expr).legendFormat(q.legend).range());

type Step = [color: string, from: number | null];
export const thresholds = (...steps: Step[]) =>
  new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute).steps(steps.map(([color, value]) => ({ color, value })));

const legend = () => new common.VizLegendOptionsBuilder().showLegend(true).placement(common.LegendPlacement.Bottom).displayMode(common.LegendDisplayMode.List);
const tooltip = () => new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending);

export const timeseriesPanel = (title: string, unit: string, ...queries: Query[]) => {
  const panel = new timeseries.PanelBuilder()
    .title(title)
    .datasource(datasource)
    .unit(unit)
    .span(8)
    .height(8)
    .lineWidth(1)
    .fillOpacity(10)
    .showPoints(common.VisibilityMode.Never)
    // Gaps stay gaps: a replica that stopped reporting is part of what a drill shows.
    .spanNulls(false)
    .legend(legend())
    .tooltip(tooltip());
  for (const target of promTargets(queries)) panel.withTarget(target);
  return panel;
};

/** A gauge that moves in whole steps (faults, partitions): drawn as steps, never interpolated. */
export const stepsPanel = (title: string, unit: string, ...queries: Query[]) =>
  timeseriesPanel(title, unit, ...queries).lineInterpolation(common.LineInterpolation.StepAfter).fillOpacity(25);

/** The current value, large, over its recent curve. */
export const statPanel = (title: string, unit: string, query: Query) =>
  new stat.PanelBuilder()
    .title(title)
    .datasource(datasource)
    .unit(unit)
    .span(4)
    .height(4)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(common.BigValueColorMode.Background)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(promTargets([query])[0]!);

/** Breaker gauge values as words and colours, matching circuit_breaker_state's help text. */
const breakerStateNames: dashboard.ValueMapping[] = [
  {
    type: dashboard.MappingType.ValueToText,
    options: {
      '0': { text: 'closed', color: 'green', index: 0 },
      '1': { text: 'half-open', color: 'yellow', index: 1 },
      '2': { text: 'open', color: 'red', index: 2 },
    },
  },
];

export const breakerTimelinePanel = (title: string, query: Query) => {
  const panel = new statetimeline.PanelBuilder()
    .title(title)
    .datasource(datasource)
    .span(12)
    .height(8)
    .mappings(breakerStateNames)
    .thresholds(thresholds(['green', null], ['yellow', 1], ['red', 2]))
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
    .showValue(common.VisibilityMode.Auto)
    .mergeValues(true)
    .fillOpacity(80)
    .legend(legend())
    .tooltip(tooltip());
  for (const target of promTargets([query])) panel.withTarget(target);
  return panel;
};

export const row = (title: string) => new dashboard.RowBuilder(title);

/** Thresholds drawn on a time series as dashed lines: where "fine" ends is visible at a glance. */
export const dashedThresholds = () => new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed);

/** A dashed red line for a limit drawn beside what it limits. */
export const limitLine: dashboard.DynamicConfigValue[] = [
  { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
  { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
  { id: 'custom.fillOpacity', value: 0 },
];
