// Panels both dashboards show: over every service on the overview, narrowed by a label matcher on the service view.
import { promql } from '@faultline/chaos';
import { breakerTimelinePanel, dashedThresholds, perSecond, rateInterval, thresholds, timeseriesPanel, units } from './common.ts';

const percentile = (quantile: number) => `p${Math.round(quantile * 100)}`;

export const requestRate = (by: string, legend: string, matcher?: string) =>
  timeseriesPanel('Request rate', units.RequestsPerSecond, { expr: promql.requestRate({ window: rateInterval, matcher, by }), legend }).description(
    'HTTP requests served, whatever the answer. Kitchen serves no shop traffic over HTTP: see its consumer panels.',
  );

export const errorRatio = (matcher?: string) =>
  timeseriesPanel('Error ratio (5xx)', units.PercentUnit, { expr: promql.errorRatio({ window: rateInterval, matcher, by: 'service' }), legend: '{{service}}' })
    .description('Share of HTTP responses that were 5xx: faultline itself failed, or shed load. Refusals a client caused (4xx, 429) are not errors.')
    .min(0)
    .thresholds(thresholds(['green', null], ['orange', 0.01], ['red', 0.05]))
    .thresholdsStyle(dashedThresholds());

export const latency = (quantiles: number[], matcher?: string) =>
  timeseriesPanel(
    `Latency ${quantiles.map(percentile).join(', ')}`,
    units.Seconds,
    ...quantiles.map((q) => ({ expr: promql.latencyQuantile(q, { window: rateInterval, matcher, by: 'service' }), legend: `{{service}} ${percentile(q)}` })),
  )
    .description('HTTP request duration, from the histogram. The gateway gives each request a 3 s deadline.')
    .thresholds(thresholds(['green', null], ['orange', 1], ['red', 3]))
    .thresholdsStyle(dashedThresholds());

export const breakerStates = (matcher?: string) =>
  breakerTimelinePanel('Circuit breakers', { expr: promql.breakerStates(matcher), legend: '{{service}} → {{dependency}}' }).description(
    'Each dependency breaker as its worst replica sees it. Open: calls are refused at once; half-open: one probe call is let through.',
  );

export const dependencyCalls = (matcher?: string) =>
  timeseriesPanel('Dependency calls by result', units.OpsPerSecond, {
    expr: perSecond('dependency_calls_total', 'service, dependency, result', matcher),
    legend: '{{service}} → {{dependency}}: {{result}}',
  }).description('ok; failure (counts against the breaker); refused (a live upstream said no); rejected (the breaker was open, no call made).');

export const retries = (matcher?: string) =>
  timeseriesPanel(
    'Retries and spent retry budget',
    units.OpsPerSecond,
    { expr: perSecond('dependency_retries_total', 'service, dependency', matcher), legend: '{{service}} → {{dependency}}: retried' },
    { expr: perSecond('retry_budget_exhausted_total', 'service, dependency', matcher), legend: '{{service}} → {{dependency}}: not retried, budget spent' },
  ).description('Only idempotent calls are retried, within a budget of a share of all calls, so that retries cannot multiply an outage.');

export const shedRequests = (matcher?: string) =>
  timeseriesPanel('Shed requests', units.RequestsPerSecond, { expr: perSecond('requests_shed_total', 'service, reason', matcher), legend: '{{service}}: {{reason}}' }).description(
    'Refused before any work: overload (admission control, 503), client_share (a client past its share of the admission places, 429), deadline (passed while waiting), kitchen_lag (back pressure from the consumer lag).',
  );
