// PromQL shared by the live progress line and the report, so that both show the same figures.
export const promql = {
  gatewayErrorRatio: 'sum(rate(http_server_requests_total{service="gateway",status_code=~"5.."}[6s])) / clamp_min(sum(rate(http_server_requests_total{service="gateway"}[6s])), 0.001)',
  kitchenLag: 'sum(max by (partition) (kafka_consumergroup_lag))',
  breakersNotClosed: 'max by (service, dependency) (circuit_breaker_state) > 0',
} as const;
