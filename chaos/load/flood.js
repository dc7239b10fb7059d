// A flood of orders: no menu read and no retries, so the offered load is exactly the arrival rate.
// Acknowledged orders are logged as "ack <key> <id> 0" for the ledger reconciliation.
import http from 'k6/http';
import exec from 'k6/execution';

const base = __ENV.FAULTLINE_GATEWAY;
const apiKey = __ENV.FAULTLINE_API_KEY;
const run = __ENV.FAULTLINE_RUN;

export const options = {
  scenarios: { traffic: JSON.parse(__ENV.FAULTLINE_SCENARIO) },
  summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const key = `${run}-${exec.scenario.iterationInTest}`;
  const res = http.post(`${base}/api/orders`, JSON.stringify({ items: [{ sku: 'margherita', qty: 1 }] }), {
    headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'idempotency-key': key },
    tags: { name: 'order' },
    timeout: '5s',
  });
  if (res.status === 201 || res.status === 200) console.log(`ack ${key} ${res.json('id')} 0`);
}
