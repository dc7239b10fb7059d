// PromQL shared by the live progress line, the report and the Grafana dashboards, so that all show the same figures.

/** What a windowed query covers: the rate window ('6s' in a drill, '$__rate_interval' on a dashboard), a label matcher, and the labels kept apart. */
export interface Scope {
  window: string;
  /** e.g. `service="gateway"` or `service=~"$service"`; every series when absent. */
  matcher?: string;
  /** Comma-separated labels to group by; one series in all when absent. */
  by?: string;
}

/** `metric{a, b}` from the matchers that are set. */
const selector = (metric: string, ...matchers: Array<string | undefined>) => {
  const set = matchers.filter(Boolean);
  return set.length ? `${metric}{${set.join(', ')}}` : metric;
};
const sum = (by: string | undefined, expr: string) => (by ? `sum by (${by}) (${expr})` : `sum(${expr})`);
const rate = (metric: string, window: string, ...matchers: Array<string | undefined>) => `rate(${selector(metric, ...matchers)}[${window}])`;
/** A counter as events per second, summed over the `by` groups. */
const sumRate = (metric: string, { window, matcher, by }: Scope) => sum(by, rate(metric, window, matcher));

/**
 * Share of responses that were 5xx. While there is traffic but no 5xx the share is a real 0 (the `or … * 0` keeps
 * each group's labels); a group that never counted a request has no series, as there is nothing to measure.
 */
function errorRatio({ window, matcher, by }: Scope) {
  const all = sumRate('http_server_requests_total', { window, matcher, by });
  return `(${sum(by, rate('http_server_requests_total', window, matcher, 'status_code=~"5.."'))} or ${all} * 0) / clamp_min(${all}, 0.001)`;
}

export const promql = {
  gatewayErrorRatio: errorRatio({ window: '6s', matcher: 'service="gateway"' }),
  kitchenLag: 'sum(max by (partition) (kafka_consumergroup_lag))',
  breakersNotClosed: 'max by (service, dependency) (circuit_breaker_state) > 0',

  /** 1 per fault in effect; the series goes away when the fault is removed. */
  activeFaults: 'max by (drill, kind, target) (faultline_fault_active)',
  /** 0 closed, 1 half-open, 2 open: the worst replica's view of each dependency. */
  breakerStates: (matcher?: string) => `max by (service, dependency) (${selector('circuit_breaker_state', matcher)})`,
  sumRate,
  requestRate: (scope: Scope) => sumRate('http_server_requests_total', scope),
  errorRatio,
  latencyQuantile: (quantile: number, { window, matcher, by }: Scope) =>
    `histogram_quantile(${quantile}, sum by (${by ? `${by}, ` : ''}le) (${rate('http_server_request_duration_seconds_bucket', window, matcher)}))`,
} as const;
