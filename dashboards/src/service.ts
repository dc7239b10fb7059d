// One service up close: its golden signals, its resilience mechanisms, and its processes, one line per replica.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasource, faultlineDashboard, perSecond, row, timeseriesPanel, units } from './common.ts';
import { breakerStates, dependencyCalls, errorRatio, latency, requestRate, retries, shedRequests } from './panels.ts';

/** Every shop service runs on Node with prom-client's default metrics, kitchen too, which serves no shop traffic over HTTP. */
const serviceVariable = () =>
  new dashboard.QueryVariableBuilder('service')
    .label('Service')
    .datasource(datasource)
    .query('label_values(nodejs_version_info, service)')
    .definition('label_values(nodejs_version_info, service)')
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true);

// A regex match, so that several services, or All, can be compared side by side.
const matcher = 'service=~"$service"';

const responsesByStatus = () =>
  timeseriesPanel('Responses by status', units.RequestsPerSecond, {
    expr: perSecond('http_server_requests_total', 'service, status_code', matcher),
    legend: '{{service}}: {{status_code}}',
  });

const replicasUp = () =>
  timeseriesPanel('Replicas up', units.Short, { expr: `sum by (service) (up{${matcher}})`, legend: '{{service}}' })
    .description('Replicas Prometheus reached at its last scrape. A killed replica drops out until it is restarted.')
    .min(0)
    .decimals(0);

const cpu = () =>
  timeseriesPanel('CPU', units.PercentUnit, {
    expr: perSecond('process_cpu_seconds_total', 'service, replica', matcher),
    legend: '{{service}}-{{replica}}',
  }).description('Share of one core used by each replica (Node runs JavaScript on one thread).');

const memory = () =>
  timeseriesPanel('Resident memory', units.BytesIEC, { expr: `sum by (service, replica) (process_resident_memory_bytes{${matcher}})`, legend: '{{service}}-{{replica}}' });

const eventLoopLag = () =>
  timeseriesPanel('Event loop lag p99', units.Seconds, { expr: `max by (service, replica) (nodejs_eventloop_lag_p99_seconds{${matcher}})`, legend: '{{service}}-{{replica}}' }).description(
    'How late timers and I/O callbacks run: a busy replica answers everything late.',
  );

export const serviceView = () =>
  faultlineDashboard('faultline-service', 'faultline / Service')
    .description('One shop service, or several side by side: golden signals, resilience mechanisms and processes.')
    .withVariable(serviceVariable())
    .withRow(row('Golden signals'))
    .withPanel(requestRate('service, route', '{{service}} {{route}}', matcher).span(12))
    .withPanel(responsesByStatus().span(12))
    .withPanel(errorRatio(matcher).span(12))
    .withPanel(latency([0.5, 0.95, 0.99], matcher).span(12))
    .withRow(row('Resilience'))
    .withPanel(breakerStates(matcher))
    .withPanel(dependencyCalls(matcher).span(12))
    .withPanel(retries(matcher).span(12))
    .withPanel(shedRequests(matcher).span(12))
    .withRow(row('Processes'))
    .withPanel(replicasUp().span(6))
    .withPanel(cpu().span(6))
    .withPanel(memory().span(6))
    .withPanel(eventLoopLag().span(6));
