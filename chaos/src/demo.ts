import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RuntimeOptions } from './local/layout.ts';
import { up, UsageError } from './local/runtime.ts';

const demoFlags = z.object({
  duration: z.coerce.number().int().min(1).max(3600),
  rate: z.coerce.number().int().min(1).max(500),
});

async function promScalar(prometheus: string, query: string) {
  const res = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(query)}`).catch(() => undefined);
  const body = (await res?.json().catch(() => undefined)) as { data?: { result?: Array<{ value: [number, string] }> } } | undefined;
  return Number(body?.data?.result?.[0]?.value[1] ?? 0);
}

/** Brings the shop up and places a steady stream of orders, printing live figures each second. */
export async function runDemo(opts: RuntimeOptions, flags: Record<string, string>) {
  const parsed = demoFlags.safeParse(flags);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n'));
  const { duration, rate } = parsed.data;
  console.log('▶ phase 1/3: bringing the shop up');
  const status = await up(opts);
  const { gateway, prometheus } = status.urls;
  const menu = ((await (await fetch(`${gateway}/api/menu`)).json()) as { items: Array<{ sku: string }> }).items;

  console.log(`▶ phase 2/3: placing ${rate} orders/s for ${duration} s`);
  const counts = { sent: 0, accepted: 0, failed: 0 };
  const latencies: number[] = [];
  const placeOne = async () => {
    counts.sent++;
    const started = performance.now();
    const items = [{ sku: menu[counts.sent % menu.length]!.sku, qty: 1 + (counts.sent % 3) }];
    const res = await fetch(`${gateway}/api/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': status.apiKey, 'idempotency-key': randomUUID() },
      body: JSON.stringify({ items }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => undefined);
    await res?.arrayBuffer();
    latencies.push(performance.now() - started);
    if (res?.status === 201) counts.accepted++;
    else counts.failed++;
  };
  const started = Date.now();
  const inflight = new Set<Promise<void>>();
  const ticker = setInterval(() => {
    for (let i = 0; i < rate; i++) {
      const p = placeOne().finally(() => inflight.delete(p));
      inflight.add(p);
    }
  }, 1000);
  const reporter = setInterval(async () => {
    const completed = await promScalar(prometheus, 'sum(kitchen_orders_total{result="completed"})');
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    console.log(
      `  t=${String(Math.round((Date.now() - started) / 1000)).padStart(3)}s  sent ${counts.sent}  accepted ${counts.accepted}  failed ${counts.failed}  completed ${completed}  p99 ${p99.toFixed(0)} ms`,
    );
  }, 2000);
  await new Promise((r) => setTimeout(r, duration * 1000));
  clearInterval(ticker);
  await Promise.all(inflight);
  clearInterval(reporter);

  console.log('▶ phase 3/3: where to look');
  console.log(`  Prometheus   ${prometheus}/graph?g0.expr=${encodeURIComponent('sum by (service) (rate(http_server_requests_total[30s]))')}`);
  console.log(`  traces       ${status.urls.tracesUi}/search?service=gateway`);
  console.log(`  gateway      ${gateway}/api/openapi.json  (X-API-Key: ${status.apiKey})`);
  console.log(`  toxiproxy    ${status.urls.toxiproxy}/proxies`);
  console.log('  the shop keeps running: `npx faultline status`, and `npx faultline down` to stop it');
  if (counts.accepted === 0) throw new Error('no order was accepted');
}
