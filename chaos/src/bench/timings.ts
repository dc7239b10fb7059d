// Phase 3: detection and recovery, over repeated trials: breaker open after a cut, fast-fail latency while open,
// breaker close after the heal, lag drain after a kitchen kill, orders accepted again after the Kafka edge heals, and
// a frozen kitchen worker's eviction from its consumer group and rejoin after the thaw.
// The breaker is read from the gateway's /metrics every 50 ms, as test/integration/resilience.test.ts does; the
// group's members from Kafka itself every 50 ms.
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { supervisorApi } from '../platforms/local/platform.ts';
import { fetchStatus } from '../platforms/local/runtime.ts';
import type { StackAddress } from '../platforms/local/layout.ts';
import { distribution, type Distribution } from './stats.ts';
import { scrape, sleep } from './step.ts';

export interface TimingsResult {
  trials: number;
  breakerOpenMs: Distribution;
  fastFailMs: Distribution;
  breakerCloseMs: Distribution;
  lagDrainMs: Distribution;
  /** The highest kitchen lag seen after each kill. */
  lagPeaks: number[];
  kafkaRecoveryMs: Distribution;
  /** A kitchen worker frozen (SIGSTOP) → its group's coordinator lists one member fewer. */
  pauseEvictMs: Distribution;
  /** The frozen worker thawed (SIGCONT) → the group has all its members again. */
  thawRejoinMs: Distribution;
  notes: string[];
}

/** Kitchen's default KITCHEN_SESSION_TIMEOUT_MS, which the bench's stack keeps: the eviction goal is 1.5× this. */
export const kitchenSessionTimeoutMs = 3000;

export interface Shop {
  kafka: string;
  gateway: string;
  gatewayReplica: string;
  orderReplicas: string[];
  apiKey: string;
}

/** Calls fn at about rps per second until stopped or maxMs passed; bounded both ways. */
export function pace(rps: number, maxMs: number, fn: () => Promise<void>) {
  const until = Date.now() + maxMs;
  let inFlight = 0;
  const timer = setInterval(() => {
    if (Date.now() > until) return clearInterval(timer);
    if (inFlight > rps * 3) return; // never pile up more than ~3 s of work
    inFlight++;
    void fn().finally(() => inFlight--);
  }, 1000 / rps);
  return () => clearInterval(timer);
}

async function timed(url: string, init: RequestInit = {}) {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  await res?.arrayBuffer().catch(() => undefined);
  return { status: res?.status ?? 0, ms: performance.now() - t0, at: Date.now() };
}

/** Where an order goes: the gateway, with an API key. */
export type OrderTarget = Pick<Shop, 'gateway' | 'apiKey'>;

export const order = (shop: OrderTarget) =>
  timed(`${shop.gateway}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': shop.apiKey, 'idempotency-key': `bench-${randomBytes(8).toString('hex')}` },
    body: JSON.stringify({ items: [{ sku: 'margherita', qty: 1 }] }),
  });

export async function waitUntil<T>(what: () => Promise<T | undefined>, maxMs: number, everyMs: number): Promise<T | undefined> {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const v = await what();
    if (v !== undefined) return v;
    await sleep(everyMs);
  }
  return undefined;
}

const breaker = (shop: Shop) => scrape(shop.gatewayReplica, 'circuit_breaker_state', { dependency: 'catalog' });
const maxLag = async (shop: Shop) => Math.max(0, ...(await Promise.all(shop.orderReplicas.map((u) => scrape(u, 'kafka_consumergroup_lag')))).map((l) => l ?? 0));

async function allReady(stack: StackAddress, maxMs = 60_000) {
  await waitUntil(async () => ((await fetchStatus(stack))?.components.every((c) => c.health === 'ready') ? true : undefined), maxMs, 500);
}

export async function measureTimings(stack: StackAddress, shop: Shop, trials: number, orderRps: number, print: (l: string) => void): Promise<TimingsResult> {
  const platform = supervisorApi(stack);
  const open: number[] = [];
  const fastFail: number[] = [];
  const close: number[] = [];
  const drain: number[] = [];
  const peaks: number[] = [];
  const kafka: number[] = [];
  const evict: number[] = [];
  const rejoin: number[] = [];
  const notes: string[] = [];
  const admin = new Kafka({ clientId: 'faultline-bench', brokers: [shop.kafka], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const members = async () => (await admin.describeGroups(['kitchen']).catch(() => undefined))?.groups[0]?.members.length;

  for (let i = 1; i <= trials; i++) {
    // Catalog cut under menu traffic: breaker open, fast-fail latency while open, breaker closed after the heal.
    await waitUntil(async () => ((await breaker(shop)) === 0 ? true : undefined), 15_000, 200);
    const menu: Array<{ status: number; ms: number; at: number }> = [];
    const stopMenu = pace(40, 30_000, async () => void menu.push(await timed(`${shop.gateway}/api/menu`)));
    await sleep(1500); // a good menu to fall back on, and samples for the breaker's window
    const fault = await platform.injectEdgeFault({ drill: 'bench', kind: 'network-partition', edge: 'gateway-catalog', direction: 'both', durationMs: 20_000, jitterMs: 0 });
    const cutAt = Date.parse(fault.injectedAt);
    const openedAt = await waitUntil(async () => ((await breaker(shop)) === 2 ? Date.now() : undefined), 10_000, 50);
    if (openedAt !== undefined) {
      open.push(openedAt - cutAt);
      await sleep(1200);
      fastFail.push(...menu.filter((r) => r.at - r.ms > openedAt && r.at < Date.now()).map((r) => r.ms));
    } else notes.push(`trial ${i}: the catalog breaker did not open within 10 s of the cut`);
    const healed = await platform.removeFault(fault.id);
    const healAt = Date.parse(healed.recoveredAt ?? new Date().toISOString());
    const closedAt = await waitUntil(async () => ((await breaker(shop)) === 0 ? Date.now() : undefined), 15_000, 50);
    stopMenu();
    if (closedAt !== undefined) close.push(closedAt - healAt);
    else notes.push(`trial ${i}: the catalog breaker did not close within 15 s of the heal`);
    print(`  trial ${i}/${trials}: breaker open ${openedAt ? openedAt - cutAt : '-'} ms after the cut, closed ${closedAt ? closedAt - healAt : '-'} ms after the heal`);

    // Kitchen kill under order traffic: time until the lag has drained.
    await allReady(stack);
    const stopOrders = pace(orderRps, 60_000, async () => void (await order(shop)));
    await sleep(2000);
    const [killed] = await platform.kill([`kitchen-${(i - 1) % 2}`]);
    const killAt = Date.parse(killed!.killedAt);
    let peak = 0;
    const rose = await waitUntil(async () => {
      peak = Math.max(peak, await maxLag(shop));
      return peak > 5 ? true : undefined;
    }, 15_000, 250);
    const drainedAt = await waitUntil(async () => {
      const lag = await maxLag(shop);
      peak = Math.max(peak, lag);
      return lag <= 5 ? Date.now() : undefined;
    }, 45_000, 250);
    stopOrders();
    peaks.push(peak);
    if (drainedAt !== undefined) drain.push(drainedAt - killAt);
    else notes.push(`trial ${i}: the lag did not drain within 45 s of the kitchen kill`);
    if (!rose) notes.push(`trial ${i}: the lag stayed at ≤ 5 orders after the kill (no backlog to drain)`);
    print(`  trial ${i}/${trials}: kitchen kill → lag peak ${peak}, drained ${drainedAt ? drainedAt - killAt : '-'} ms after the kill`);

    // Kafka edge cut under orders, then healed: time until an order is accepted again.
    await allReady(stack);
    const cut = await platform.injectEdgeFault({ drill: 'bench', kind: 'network-partition', edge: 'orders-kafka', direction: 'both', durationMs: 30_000, jitterMs: 0 });
    const stopCut = pace(10, 10_000, async () => void (await order(shop)));
    await sleep(3000);
    stopCut();
    const kafkaHealed = await platform.removeFault(cut.id);
    const kafkaHealAt = Date.parse(kafkaHealed.recoveredAt ?? new Date().toISOString());
    const acceptedAt = await waitUntil(async () => {
      const r = await order(shop);
      return r.status === 201 || r.status === 200 ? r.at : undefined;
    }, 30_000, 100);
    if (acceptedAt !== undefined) kafka.push(acceptedAt - kafkaHealAt);
    else notes.push(`trial ${i}: no order was accepted within 30 s of the Kafka edge healing`);
    print(`  trial ${i}/${trials}: orders accepted again ${acceptedAt ? acceptedAt - kafkaHealAt : '-'} ms after the Kafka edge healed`);

    // A kitchen worker frozen for two session timeouts under order traffic: eviction, then its rejoin once thawed.
    await allReady(stack);
    const whole = await waitUntil(async () => ((await members()) === 2 ? 2 : undefined), 20_000, 200);
    const stopPaced = pace(Math.max(5, Math.round(orderRps / 4)), 30_000, async () => void (await order(shop)));
    await sleep(1000);
    const paused = await platform.pause({ drill: 'bench', replicas: [`kitchen-${i % 2}`], durationMs: 2 * kitchenSessionTimeoutMs });
    const pausedAt = Date.parse(paused.injectedAt);
    const evictedAt = await waitUntil(async () => (((await members()) ?? 2) < 2 ? Date.now() : undefined), 2 * kitchenSessionTimeoutMs, 50);
    const thawed = await platform.removeFault(paused.id);
    const thawedAt = Date.parse(thawed.recoveredAt ?? new Date().toISOString());
    const rejoinedAt = await waitUntil(async () => ((await members()) === 2 ? Date.now() : undefined), 20_000, 50);
    stopPaced();
    if (!whole) notes.push(`trial ${i}: the kitchen group did not have both members before the pause`);
    if (evictedAt !== undefined) evict.push(evictedAt - pausedAt);
    else notes.push(`trial ${i}: the frozen kitchen worker was not evicted within ${(2 * kitchenSessionTimeoutMs) / 1000} s`);
    if (rejoinedAt !== undefined) rejoin.push(rejoinedAt - thawedAt);
    else notes.push(`trial ${i}: the thawed kitchen worker did not rejoin within 20 s`);
    print(`  trial ${i}/${trials}: kitchen frozen → evicted ${evictedAt ? evictedAt - pausedAt : '-'} ms later; thawed → listed again ${rejoinedAt ? rejoinedAt - thawedAt : '-'} ms later`);
  }
  await admin.disconnect();
  return {
    trials,
    breakerOpenMs: distribution(open),
    fastFailMs: { ...distribution(fastFail), samplesMs: [] },
    breakerCloseMs: distribution(close),
    lagDrainMs: distribution(drain),
    lagPeaks: peaks,
    kafkaRecoveryMs: distribution(kafka),
    pauseEvictMs: distribution(evict),
    thawRejoinMs: distribution(rejoin),
    notes,
  };
}
