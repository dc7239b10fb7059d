// Steady shop traffic for drills: read the menu, then place an order, retrying a refusal with the same
// Idempotency-Key after its Retry-After (at most 2 retries), as a careful client would.
// Every acknowledged order is logged as "ack <key> <id> <attempt>", for the drill's ledger reconciliation.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const base = __ENV.FAULTLINE_GATEWAY;
const apiKey = __ENV.FAULTLINE_API_KEY;
const run = __ENV.FAULTLINE_RUN;
const skus = ['margherita', 'diavola', 'calzone', 'espresso', 'tiramisu'];

export const options = {
  scenarios: { traffic: JSON.parse(__ENV.FAULTLINE_SCENARIO) },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  http.get(`${base}/api/menu`, { tags: { name: 'menu' }, timeout: '5s' });
  const key = `${run}-${exec.scenario.iterationInTest}`;
  const body = JSON.stringify({ items: [{ sku: skus[exec.scenario.iterationInTest % skus.length], qty: 1 + (exec.scenario.iterationInTest % 3) }] });
  const params = { headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'idempotency-key': key }, tags: { name: 'order' }, timeout: '5s' };
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = http.post(`${base}/api/orders`, body, params);
    if (res.status === 201 || res.status === 200) {
      console.log(`ack ${key} ${res.json('id')} ${attempt}`);
      return;
    }
    if (res.status !== 0 && res.status !== 409 && res.status !== 429 && res.status !== 503) return; // not worth retrying
    sleep(Math.min(Number(res.headers['Retry-After'] || 1), 2));
  }
}
