// The overload benchmark's load: one order per arrival, no menu read and no retries, so the offered load is
// exactly the arrival rate. Besides k6's own metrics it counts responses by status class and keeps the latency
// of admitted (2xx) responses apart, so that `faultline bench` can compute goodput: 2xx within the objective.
import http from 'k6/http';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';

const base = __ENV.FAULTLINE_GATEWAY;
const apiKey = __ENV.FAULTLINE_API_KEY;
const run = __ENV.FAULTLINE_RUN;
const objectiveMs = Number(__ENV.FAULTLINE_OBJECTIVE_MS || 1500);
const skus = ['margherita', 'diavola', 'calzone', 'espresso', 'tiramisu'];

const admitted = new Trend('bench_admitted_ms', true);
const good = new Counter('bench_good');
const byStatus = {
  ok: new Counter('bench_2xx'),
  limited: new Counter('bench_429'),
  shed: new Counter('bench_503'),
  server: new Counter('bench_5xx_other'),
  client: new Counter('bench_4xx_other'),
  none: new Counter('bench_no_response'),
};

export const options = {
  scenarios: { traffic: JSON.parse(__ENV.FAULTLINE_SCENARIO) },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
  discardResponseBodies: true,
};

export default function () {
  const i = exec.scenario.iterationInTest;
  const res = http.post(`${base}/api/orders`, JSON.stringify({ items: [{ sku: skus[i % skus.length], qty: 1 }] }), {
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'idempotency-key': `${run}-${i}` },
    tags: { name: 'order' },
    timeout: '5s',
  });
  const s = res.status;
  if (s >= 200 && s < 300) {
    byStatus.ok.add(1);
    admitted.add(res.timings.duration);
    if (res.timings.duration <= objectiveMs) good.add(1);
  } else if (s === 429) byStatus.limited.add(1);
  else if (s === 503) byStatus.shed.add(1);
  else if (s >= 500) byStatus.server.add(1);
  else if (s >= 400) byStatus.client.add(1);
  else byStatus.none.add(1);
}
