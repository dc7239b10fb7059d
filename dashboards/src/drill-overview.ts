// What to watch while a drill runs: the faults, the golden signals, and each resilience mechanism doing its job.
import { promql } from '@faultline/chaos';
import { faultlineDashboard, limitLine, perSecond, rateInterval, row, statPanel, stepsPanel, thresholds, timeseriesPanel, units } from './common.ts';
import { breakerStates, dependencyCalls, errorRatio, latency, requestRate, retries, shedRequests } from './panels.ts';

// The gauge has series only while a fault is in effect, so the count is 0 by `or vector(0)` when there is none: the stat
// shows its last value, and an empty result at the end of the range would leave the last fault's count standing.
const faultsActive = () =>
  statPanel('Faults active', units.Short, { expr: `sum(${promql.activeFaults}) or vector(0)`, legend: 'faults' })
    .description('Faults injected by a drill and still in effect.')
    .thresholds(thresholds(['green', null], ['red', 1]));

// Series only for breakers that are open or half-open: none means every breaker is closed, 0 as above.
const breakersNotClosed = () =>
  statPanel('Breakers not closed', units.Short, { expr: `count(${promql.breakersNotClosed}) or vector(0)`, legend: 'breakers' })
    .description('Dependency breakers open or half-open now, on any replica.')
    .thresholds(thresholds(['green', null], ['red', 1]));

const gatewayErrors = () =>
  statPanel('Gateway 5xx', units.PercentUnit, { expr: promql.errorRatio({ window: rateInterval, matcher: 'service="gateway"' }), legend: '5xx' })
    .description('Share of the gateway’s answers that were 5xx.')
    .thresholds(thresholds(['green', null], ['orange', 0.01], ['red', 0.05]));

const kitchenLagNow = () =>
  statPanel('Kitchen lag', units.Short, { expr: promql.kitchenLag, legend: 'orders' })
    .description('Orders placed but not yet taken by the kitchen. Past the back-pressure limit the orders service refuses new orders.')
    // Red at the orders service's default MAX_KITCHEN_LAG; the lag panel below draws the limit actually set.
    .thresholds(thresholds(['green', null], ['orange', 50], ['red', 200]));

const activeFaults = () =>
  stepsPanel('Active faults', units.Short, { expr: promql.activeFaults, legend: '{{kind}}: {{target}} ({{drill}})' })
    .description('One line per fault while it is in effect; the same faults are annotations on every panel.')
    .span(8)
    .height(4)
    .min(0);

const gatewayResponses = () =>
  timeseriesPanel('Gateway responses by status', units.RequestsPerSecond, {
    expr: perSecond('http_server_requests_total', 'status_code', 'service="gateway"'),
    legend: '{{status_code}}',
  }).description('What clients got: 2xx goodput, 429 rate-limited, 503 shed or a dependency unavailable.');

const ordersFlow = () =>
  timeseriesPanel(
    'Orders accepted and completed',
    units.OpsPerSecond,
    { expr: perSecond('orders_total', undefined, 'outcome="accepted"'), legend: 'accepted' },
    { expr: perSecond('kitchen_orders_total', 'result'), legend: 'kitchen: {{result}}' },
  ).description('Accepted orders and kitchen deliveries: completed (first effect) or redelivery (no second effect). A lasting gap between accepted and completed is a lost order.');

const inFlight = () =>
  timeseriesPanel(
    'Work in flight',
    units.Short,
    { expr: 'sum by (service) (http_server_active_requests)', legend: '{{service}}: requests in progress' },
    { expr: 'sum by (service) (admission_queue_requests)', legend: '{{service}}: waiting for admission' },
    { expr: 'sum by (service) (admission_concurrency_limit)', legend: '{{service}}: admission limit' },
    { expr: 'sum by (service) (kitchen_orders_in_progress)', legend: '{{service}}: orders being prepared' },
  ).description('Saturation: bounded by admission control at the gateway (its limit, with ADMISSION_LIMIT=adaptive, shrinks while requests take over 1.5× their no-load time) and by the stations in the kitchen.');

const degradedMenus = () =>
  timeseriesPanel('Degraded responses', units.RequestsPerSecond, { expr: perSecond('gateway_degraded_responses_total', 'route'), legend: '{{route}}' }).description(
    'Menus the gateway served from its last good copy because the catalog was unavailable.',
  );

const rateLimited = () =>
  timeseriesPanel('Rate-limited requests', units.RequestsPerSecond, {
    expr: perSecond('rate_limit_decisions_total', 'client, decision', 'decision!="allowed"'),
    legend: '{{client}}: {{decision}}',
  }).description('limited: answered 429 for going over the key’s token bucket. local_allowed and local_limited: decided by the replica’s own bucket while the limiter’s Redis was unavailable.');

const consumerLag = () =>
  timeseriesPanel(
    'Kitchen consumer lag',
    units.Short,
    { expr: promql.kitchenLag, legend: 'lag' },
    { expr: 'max(orders_backlog_limit)', legend: 'back-pressure limit' },
  )
    .description('Orders waiting in orders.placed. Above the limit, orders answers 503 kitchen_backlogged (0: back pressure off).')
    .overrideByName('back-pressure limit', limitLine);

const pausedPartitions = () =>
  stepsPanel(
    'Kitchen partitions',
    units.Short,
    { expr: 'sum by (replica) (kitchen_paused_partitions)', legend: 'paused on kitchen-{{replica}}' },
    { expr: 'sum by (replica) (kitchen_assigned_partitions)', legend: 'assigned to kitchen-{{replica}}' },
    { expr: 'max(kafka_consumergroup_members)', legend: 'members of the kitchen group' },
  ).description('A worker pauses a partition rather than buffering when its stations are full or an order cannot be completed. The group loses a member when a worker\'s session expires (a dead or frozen worker), and its partitions move to the others.');

export const drillOverview = () =>
  faultlineDashboard('faultline-drill-overview', 'faultline / Drill overview')
    .description('Watch a failure drill: the faults in effect, the golden signals, breakers, rate limiting, shedding and back pressure.')
    .withRow(row('Drill'))
    .withPanel(faultsActive())
    .withPanel(breakersNotClosed())
    .withPanel(gatewayErrors())
    .withPanel(kitchenLagNow())
    .withPanel(activeFaults())
    .withRow(row('Golden signals'))
    .withPanel(requestRate('service', '{{service}}'))
    .withPanel(errorRatio())
    .withPanel(latency([0.5, 0.99]))
    .withPanel(gatewayResponses())
    .withPanel(ordersFlow())
    .withPanel(inFlight())
    .withRow(row('Circuit breakers and dependencies'))
    .withPanel(breakerStates())
    .withPanel(dependencyCalls().span(12))
    .withPanel(retries().span(12))
    .withPanel(degradedMenus().span(12))
    .withRow(row('Rate limiting, shedding and back pressure'))
    .withPanel(rateLimited())
    .withPanel(shedRequests())
    .withPanel(consumerLag())
    .withPanel(pausedPartitions().span(24));
