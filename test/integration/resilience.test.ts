// Each resilience pattern against a real fault: Toxiproxy cuts and latency on the stack's edges, and killed processes.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createToxiproxy } from '../../chaos/src/platforms/local/toxiproxy.ts';
import { controlFetch, scrape, shopClient, sleep, steadyLoad, waitFor, type Outcome } from '../support/shop.ts';

const stack = inject('stack');
const shop = shopClient(stack);
const control = controlFetch(stack, inject('stateDir'));
const toxiproxy = createToxiproxy(stack.urls.toxiproxy);
const url = (name: string) => stack.components.find((c) => c.name === name)!.url;
const gateway = url('gateway-0');
const orderReplicas = ['orders-0', 'orders-1'].map(url);
const sumOver = async (urls: string[], name: string, labels: Record<string, string> = {}) => (await Promise.all(urls.map((u) => scrape(u, name, labels)))).reduce((a, b) => a + b, 0);
const pizza = [{ sku: 'margherita', qty: 1 }];
let redis: Redis;

beforeAll(() => {
  redis = new Redis(stack.urls.redis);
});
afterAll(async () => {
  await toxiproxy.reset();
  await redis.quit();
});
afterEach(async () => {
  await toxiproxy.reset(); // every proxy enabled, every toxic gone
});

const breakerState = (dependency: string, replica = gateway) => scrape(replica, 'circuit_breaker_state', { dependency });
const waitBreaker = (dependency: string, state: number, replica = gateway, timeoutMs = 10_000) =>
  waitFor(`the ${dependency} breaker to reach state ${state}`, async () => (await breakerState(dependency, replica)) === state || undefined, timeoutMs, 100);

describe('gateway: circuit breaker and degraded menu', () => {
  it('opens the catalog breaker when gateway-catalog is cut under load, serves the last good menu, and closes after the heal', async () => {
    expect((await shop.menu()).status).toBe(200); // a good menu to fall back on
    await waitBreaker('catalog', 0);
    const opensBefore = await scrape(gateway, 'circuit_breaker_transitions_total', { dependency: 'catalog', state: 'open' });
    const load = steadyLoad(() => shop.menu(), { workers: 2, pauseMs: 20 });
    await sleep(500);
    const cutAt = Date.now();
    await toxiproxy.setEnabled('gateway-catalog', false);
    await waitBreaker('catalog', 2);
    const openedAfterMs = Date.now() - cutAt;
    await sleep(1000);
    const healAt = Date.now();
    await toxiproxy.setEnabled('gateway-catalog', true);
    await waitBreaker('catalog', 0); // half-open after 3 s, one probe succeeds, closed
    const closedAfterMs = Date.now() - healAt;
    await sleep(500);
    const outcomes = await load.stop();

    const duringCut = outcomes.filter((o) => o.at > cutAt && o.at < healAt);
    const degraded = duringCut.filter((o) => o.status === 200 && o.headers?.get('x-degraded') === 'catalog-unavailable');
    expect(duringCut.length).toBeGreaterThan(10);
    // Every request during the cut was answered from the last good menu: degraded, never an error.
    expect(degraded.length).toBe(duringCut.length);
    const firstDegraded = degraded[0]!.at - cutAt;
    expect(firstDegraded).toBeLessThan(2000);
    // The last degraded answer says how old its copy is: the copy predates the cut, which lasted over a second.
    expect(degraded.at(-1)!.headers!.get('age')).toMatch(/^\d+$/);
    expect(Number(degraded.at(-1)!.headers!.get('age'))).toBeGreaterThanOrEqual(1);
    expect(await scrape(gateway, 'circuit_breaker_transitions_total', { dependency: 'catalog', state: 'open' })).toBeGreaterThan(opensBefore);
    expect(await scrape(gateway, 'circuit_breaker_transitions_total', { dependency: 'catalog', state: 'half-open' })).toBeGreaterThan(0);
    const last = outcomes.slice(-5);
    expect(last.every((o) => o.status === 200 && !o.headers?.get('x-degraded'))).toBe(true);
    console.info(`catalog breaker: open ${openedAfterMs} ms after the cut, first degraded menu after ${firstDegraded} ms, closed ${closedAfterMs} ms after the heal`);
  });
});

describe('gateway: rate limit per API key, in Redis', () => {
  it('answers a burst from one key with 429, Retry-After and RateLimit headers, while another key is served', async () => {
    const burster = stack.apiKeys.load!;
    const limitedBefore = await scrape(gateway, 'rate_limit_decisions_total', { client: 'load', decision: 'limited' });
    const outcomes: Array<{ status: number; headers: Headers }> = [];
    // Six at a time stays inside admission control (8), so only the rate limit can refuse.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = 0; i < 25; i++) {
          const r = await shop.request('GET', `/api/orders/ord_${'0'.repeat(32)}`, { headers: { 'x-api-key': burster } });
          outcomes.push(r);
        }
      }),
    );
    const limited = outcomes.filter((o) => o.status === 429);
    expect(limited.length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o.status === 404).length).toBeGreaterThanOrEqual(50); // the bucket of 50 was served first
    const sample = limited[0]!;
    expect(Number(sample.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(sample.headers.get('ratelimit-limit')).toBe('50');
    expect(sample.headers.get('ratelimit-remaining')).toBe('0');
    expect(Number(sample.headers.get('ratelimit-reset'))).toBeGreaterThan(0);

    const other = await shop.get(`ord_${'0'.repeat(32)}`); // the "local" key
    expect(other.status).toBe(404);
    expect(other.headers.get('ratelimit-remaining')).not.toBe('0');
    expect(await scrape(gateway, 'rate_limit_decisions_total', { client: 'load', decision: 'limited' })).toBe(limitedBefore + limited.length);
  });

  it("limits each key by the replica's own bucket, and counts it, when gateway-redis is cut", async () => {
    const decisions = async () => ({
      allowed: (await scrape(gateway, 'rate_limit_decisions_total', { client: 'local', decision: 'local_allowed' })) ?? 0,
      limited: (await scrape(gateway, 'rate_limit_decisions_total', { client: 'local', decision: 'local_limited' })) ?? 0,
    });
    const before = await decisions();
    await toxiproxy.setEnabled('gateway-redis', false);
    try {
      const results = [];
      for (let i = 0; i < 10; i++) results.push(await shop.order(pizza));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
      expect(results.every((r) => r.headers.get('ratelimit-limit') === null)).toBe(true);
      expect((await decisions()).allowed).toBe(before.allowed + 10);
      // Past the replica's own bucket, a burst gets 429 even with Redis away. Six at a time stays inside admission
      // control and this client's share of it, so only the rate limit can refuse.
      const burst: Array<{ status: number; headers: Headers }> = [];
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (let i = 0; i < 25; i++) burst.push(await shop.get(`ord_${'0'.repeat(32)}`));
        }),
      );
      const refused = burst.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]!.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await decisions()).limited).toBe(before.limited + refused.length);
    } finally {
      await toxiproxy.setEnabled('gateway-redis', true);
    }
    await waitFor('the limiter to decide again', async () => (await shop.get(`ord_${'0'.repeat(32)}`)).headers.get('ratelimit-limit') === '50' || undefined, 15_000);
  });
});

describe('gateway: admission control', () => {
  it('sheds overload with 503 overloaded and Retry-After before doing work, and admitted requests stay fast', async () => {
    // Catalog slowed to 400 ms per call (under its 500 ms timeout), so that 90 concurrent menu requests overrun the 12
    // slots and the queue of 4 even when sending them takes a busy machine a couple of hundred milliseconds. They come
    // from two keys in turn, each within its burst (45 of 50), so that neither is held to a share of the places and
    // the shared limit is what binds. A key an earlier test drained is held to its rate by the gateway's early guard
    // until its bucket would be full again (burst / rate = 1 s here).
    await sleep(2000);
    await toxiproxy.addToxic('gateway-catalog', { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: 400, jitter: 0 } });
    const shedBefore = await scrape(gateway, 'requests_shed_total', { reason: 'overload' });
    const catalogCallsBefore = await scrape(gateway, 'dependency_calls_total', { dependency: 'catalog' });
    const clients = [stack.apiKeys.local, stack.apiKeys.load];
    const results = await Promise.all(
      Array.from({ length: 90 }, async (_, i) => {
        const start = Date.now();
        const r = await shop.menu(clients[i % 2]);
        return { ...r, ms: Date.now() - start };
      }),
    );
    const shed = results.filter((r) => r.status === 503);
    const served = results.filter((r) => r.status === 200);
    const answers: Record<string, number> = {};
    for (const r of results) {
      const answer = `${r.status} ${r.body?.error?.code ?? ''}`.trim();
      answers[answer] = (answers[answer] ?? 0) + 1;
    }
    console.info(`admission: answers ${JSON.stringify(answers)}, sent over ${Math.max(...results.map((r) => r.ms))} ms at most`);
    expect(shed.length).toBeGreaterThan(50);
    expect(shed.every((r) => r.body.error.code === 'overloaded' && r.headers.get('retry-after') === '1')).toBe(true);
    expect(served.length).toBeGreaterThanOrEqual(16);
    // Only admitted requests reached the catalog: shedding did no work.
    expect((await scrape(gateway, 'dependency_calls_total', { dependency: 'catalog' })) - catalogCallsBefore).toBe(served.length);
    expect(await scrape(gateway, 'requests_shed_total', { reason: 'overload' })).toBe(shedBefore + shed.length);
    const slowest = Math.max(...served.map((r) => r.ms));
    // Served requests waited at most for one queue's worth of 400 ms calls, inside the 3 s deadline.
    expect(slowest).toBeLessThan(2000);
    console.info(`admission: ${served.length} served (slowest ${slowest} ms), ${shed.length} shed`);
  });

  it("holds the anonymous client (no quota of its own) to its share of the places: a burst from it gets 429 over_client_share, and another client's requests are still served", async () => {
    // Catalog slowed again, so that the burst's requests hold their places.
    await toxiproxy.addToxic('gateway-catalog', { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: 150, jitter: 0 } });
    const shareBefore = await scrape(gateway, 'requests_shed_total', { reason: 'client_share' });
    const burst = Array.from({ length: 60 }, () => shop.menu());
    await new Promise((r) => setTimeout(r, 50)); // the burst holds its 12 places first
    const quiet = await Promise.all(Array.from({ length: 6 }, () => shop.menu(stack.apiKeys.local)));
    const flooded = await Promise.all(burst);
    const refused = flooded.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(60 - 12 - 1);
    expect(refused.every((r) => r.body.error.code === 'over_client_share' && r.headers.get('retry-after') === '1')).toBe(true);
    expect(flooded.filter((r) => r.status === 503)).toEqual([]); // the shared places were never all taken
    expect(quiet.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(await scrape(gateway, 'requests_shed_total', { reason: 'client_share' })).toBe(shareBefore + refused.length);
  });

  it('holds a key to its share only while it sends over its rate limit: within its quota it may hold more', async () => {
    // 16 places, 8 a client held to its share; the keys' quota is 50/s with bursts of 50.
    await toxiproxy.addToxic('gateway-catalog', { name: 'slow', type: 'latency', stream: 'downstream', attributes: { latency: 150, jitter: 0 } });
    const shareBefore = await scrape(gateway, 'requests_shed_total', { reason: 'client_share' });
    const within = await Promise.all(Array.from({ length: 12 }, () => shop.menu(stack.apiKeys.local))); // a burst within its quota
    expect(within.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(await scrape(gateway, 'requests_shed_total', { reason: 'client_share' })).toBe(shareBefore);
    await sleep(1100); // its bucket of arrivals full again
    // 80 at once from one key: past the 50 its quota allows, it is held to its share.
    const flood = await Promise.all(Array.from({ length: 80 }, () => shop.menu(stack.apiKeys.load)));
    const overShare = flood.filter((r) => r.status === 429);
    expect(overShare.length).toBeGreaterThan(0);
    expect(overShare.every((r) => r.body.error.code === 'over_client_share')).toBe(true);
    expect(await scrape(gateway, 'requests_shed_total', { reason: 'client_share' })).toBe(shareBefore + overShare.length);
  });
});

describe('deadlines', () => {
  it('drops a request that reaches orders after its deadline, and writes nothing', async () => {
    await toxiproxy.addToxic('gateway-orders', { name: 'late', type: 'latency', stream: 'upstream', attributes: { latency: 3500, jitter: 0 } });
    const droppedBefore = await sumOver(orderReplicas, 'requests_shed_total', { reason: 'deadline' });
    const acceptedBefore = await redis.zcard('ledger:accepted');
    const res = await shop.order(pizza);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('dependency_unavailable');
    expect(res.body.error.message).toMatch(/did not answer within/);
    await waitFor('orders to drop the late request', async () => (await sumOver(orderReplicas, 'requests_shed_total', { reason: 'deadline' })) > droppedBefore || undefined, 10_000);
    expect(await redis.zcard('ledger:accepted')).toBe(acceptedBefore);
  });

  it('answers a malformed or passed X-Request-Deadline with a specific error', async () => {
    const post = (deadline: string) =>
      fetch(`${orderReplicas[0]}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), 'x-request-deadline': deadline },
        body: JSON.stringify({ items: pizza }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error: { code: string } } }));
    for (const bad of ['soon', '-5', '1e12', String(Date.now() + 3_600_000)]) {
      const r = await post(bad);
      expect([bad, r.status, r.body.error.code]).toEqual([bad, 400, 'invalid_deadline']);
    }
    const late = await post(String(Date.now() - 1000));
    expect(late.status).toBe(503);
    expect(late.body.error.code).toBe('deadline_exceeded');
  });
});

describe('orders: fail fast when a dependency is unavailable', () => {
  it.each([
    ['orders-catalog', 'catalog'],
    ['orders-kafka', 'kafka'],
  ])('cut %s: 503 dependency_unavailable, the breaker opens, nothing is written', async (edge, dependency) => {
    const before = { accepted: await redis.zcard('ledger:accepted'), orders: (await redis.keys('order:*')).length, keys: (await redis.keys('idem:*')).length };
    await toxiproxy.setEnabled(edge, false);
    const results: Outcome[] = [];
    for (let i = 0; i < 24; i++) {
      const start = Date.now();
      const r = await shop.order(pizza);
      results.push({ at: start, status: r.status, ms: Date.now() - start, code: r.body.error?.code, message: r.body.error?.message, headers: r.headers });
    }
    expect(results.every((r) => r.status === 503 && r.code === 'dependency_unavailable' && r.headers?.get('retry-after'))).toBe(true);
    // The gateway keeps its connections, so one orders replica may have taken every request: at least one breaker is open.
    const states = await Promise.all(orderReplicas.map((u) => scrape(u, 'circuit_breaker_state', { dependency })));
    expect(Math.max(...states)).toBe(2);
    expect(results.at(-1)!.message).toMatch(/circuit breaker is open/);
    const after = { accepted: await redis.zcard('ledger:accepted'), orders: (await redis.keys('order:*')).length, keys: (await redis.keys('idem:*')).length };
    expect(after).toEqual(before);
    await toxiproxy.setEnabled(edge, true);
    await waitFor('orders to be accepted again', async () => (await shop.order(pizza)).status === 201 || undefined, 20_000, 500);
  });
});

describe('orders: its own store unavailable', () => {
  it('answers 503 dependency_unavailable, not a 500, while orders-redis is cut, and serves again after the heal', async () => {
    await toxiproxy.setEnabled('orders-redis', false);
    const placed = await shop.order(pizza);
    const looked = await shop.get(`ord_${'1'.repeat(32)}`);
    for (const r of [placed, looked]) {
      expect(r.status).toBe(503);
      expect(r.body.error).toMatchObject({ code: 'dependency_unavailable', message: 'the order store (Redis) is unavailable' });
      expect(r.headers.get('retry-after')).toBe('1');
    }
    await toxiproxy.setEnabled('orders-redis', true);
    await waitFor('orders to be accepted again', async () => (await shop.order(pizza)).status === 201 || undefined, 20_000, 250);
    // Both orders replicas failed readiness during the cut: leave the shop whole for the next test.
    await waitFor('both orders replicas to be ready again', async () => {
      const status = (await (await control('/status')).json()) as typeof stack;
      return status.components.filter((c) => c.service === 'orders').every((c) => c.health === 'ready') || undefined;
    }, 20_000, 250);
    await waitFor('the gateway to call orders freely again', async () => ((await shop.order(pizza)).status === 201 && (await breakerState('orders')) === 0) || undefined, 20_000, 250);
  });
});

describe('back pressure from kitchen lag', () => {
  it('refuses new orders with 503 while kitchen is stalled past the lag limit, and accepts again once the lag drains', async () => {
    // 2 s per Redis round trip stalls every kitchen worker; orders keep arriving at about 20/s.
    await toxiproxy.addToxic('kitchen-redis', { name: 'stall', type: 'latency', stream: 'downstream', attributes: { latency: 2000, jitter: 0 } });
    const load = steadyLoad(() => shop.order(pizza), { workers: 2, pauseMs: 80 });
    await waitFor('orders to be refused for lag', async () => load.outcomes.some((o) => o.code === 'kitchen_backlogged') || undefined, 30_000);
    const refusedAt = Date.now();
    await sleep(1000);
    await toxiproxy.removeToxic('kitchen-redis', 'stall');
    await waitFor('orders to be accepted again', async () => load.outcomes.some((o) => o.at > refusedAt + 1000 && o.status === 201) || undefined, 30_000);
    const outcomes = await load.stop();
    const refused = outcomes.filter((o) => o.code === 'kitchen_backlogged');
    expect(refused.every((o) => o.status === 503 && Number(o.headers?.get('retry-after')) >= 1)).toBe(true);
    expect(outcomes.filter((o) => o.status !== 201 && o.code !== 'kitchen_backlogged')).toEqual([]);
    await waitFor('the lag to drain', async () => (await sumOver(orderReplicas, 'kafka_consumergroup_lag')) === 0 || undefined, 30_000);
    expect(await sumOver(orderReplicas, 'requests_shed_total', { reason: 'kitchen_lag' })).toBeGreaterThanOrEqual(refused.length);
  });
});

describe('kitchen failover', () => {
  it('moves a killed worker’s partitions, and completes every accepted order exactly once', async () => {
    const survivor = url('kitchen-1');
    const status = (await (await control('/status')).json()) as typeof stack;
    const victimPid = status.components.find((c) => c.name === 'kitchen-0')!.pid!;
    const partitions = 6; // the local stack's orders.placed
    expect(await scrape(survivor, 'kitchen_assigned_partitions')).toBeLessThan(partitions); // the victim holds some, or there is nothing to move
    const joinsBefore = await scrape(survivor, 'kitchen_group_joins_total');
    const redeliveriesBefore = await scrape(survivor, 'kitchen_orders_total', { result: 'redelivery' });
    const completedBefore = await redis.zcard('ledger:completed');
    const accepted: string[] = [];
    const load = steadyLoad(
      async () => {
        const r = await shop.order(pizza);
        if (r.status === 201) accepted.push(r.body.id);
        return r;
      },
      { workers: 2, pauseMs: 180 },
    );
    await waitFor('orders flowing', async () => accepted.length >= 10 || undefined, 10_000);
    process.kill(victimPid, 'SIGKILL');
    const killedAt = Date.now();
    // The failover: the group rebalances (the survivor joins again) once the victim's session expires.
    await waitFor('the group to rebalance', async () => (await scrape(survivor, 'kitchen_group_joins_total')) > joinsBefore || undefined, 15_000, 100);
    const movedAfterMs = Date.now() - killedAt;
    const acceptedBeforeMove = accepted.length;
    await waitFor('orders accepted after the move', async () => accepted.length >= acceptedBeforeMove + 10 || undefined, 15_000);
    const outcomes = await load.stop();
    expect(outcomes.filter((o) => o.status !== 201)).toEqual([]);
    await waitFor('every accepted order to be completed', async () => {
      const scores = await redis.zmscore('ledger:completed', ...accepted);
      return scores.every((s) => s !== null) || undefined;
    }, 30_000);
    // Exactly once in effect: one ledger entry per accepted order and no other.
    expect((await redis.zcard('ledger:completed')) - completedBefore).toBe(accepted.length);
    // Every partition is held by a live worker again: the survivor and the restarted victim between them.
    await waitFor('every partition assigned', async () => (await scrape(survivor, 'kitchen_assigned_partitions')) + (await scrape(url('kitchen-0'), 'kitchen_assigned_partitions')) === partitions || undefined, 20_000);
    // Every redelivery the ledger counted (the victim's uncommitted work) was counted by the worker that got it again.
    const ledgerRedeliveries = (await redis.hmget('ledger:redeliveries', ...accepted)).reduce((sum, v) => sum + Number(v ?? 0), 0);
    const countedRedeliveries = (await scrape(survivor, 'kitchen_orders_total', { result: 'redelivery' })) - redeliveriesBefore + (await scrape(url('kitchen-0'), 'kitchen_orders_total', { result: 'redelivery' }).catch(() => 0));
    expect(countedRedeliveries).toBe(ledgerRedeliveries);
    console.info(`kitchen failover: the group rebalanced ${movedAfterMs} ms after the kill; ${accepted.length} accepted, all completed once; ${ledgerRedeliveries} redelivered and counted`);
  });
});
