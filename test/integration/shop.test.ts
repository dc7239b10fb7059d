import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { promQuery, shopClient, traceServices, waitFor } from '../support/shop.ts';

const stack = inject('stack');
const shop = shopClient(stack);
let redis: Redis;

beforeAll(() => {
  redis = new Redis(stack.urls.redis);
});
afterAll(async () => {
  await redis.quit();
});

const ledgerSize = async () => ({ accepted: await redis.zcard('ledger:accepted'), orders: (await redis.keys('order:*')).length });

describe('the order path', () => {
  it('has every replica listening with a backlog of 4096, so a flood of new connections is not dropped at 511', () => {
    const replicas = stack.components.filter((c) => c.service !== undefined && c.url);
    expect(replicas.length).toBeGreaterThan(4);
    for (const c of replicas) {
      // A listening socket's Send-Q is its backlog.
      const line = execFileSync('ss', ['-Hltn', `sport = :${new URL(c.url!).port}`], { encoding: 'utf8' }).trim();
      expect(line.split(/\s+/)[2], c.name).toBe('4096');
    }
  });

  it('serves the menu from catalog', async () => {
    const res = await shop.menu();
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { sku: string }) => i.sku)).toContain('margherita');
  });

  it('accepts an order, and kitchen completes it through real Kafka', async () => {
    const res = await shop.order([{ sku: 'margherita', qty: 2 }, { sku: 'espresso', qty: 1 }]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'accepted', totalCents: 2 * 950 + 250 });
    expect(res.body.id).toMatch(/^ord_[0-9a-f]{32}$/);
    const done = await waitFor('completion', async () => {
      const r = await shop.get(res.body.id);
      return r.body.status === 'completed' && r.body;
    });
    expect(done.lines).toEqual([
      { sku: 'margherita', name: 'Pizza Margherita', qty: 2, unitPriceCents: 950 },
      { sku: 'espresso', name: 'Espresso', qty: 1, unitPriceCents: 250 },
    ]);
    expect(await redis.zscore('ledger:accepted', res.body.id)).not.toBeNull();
    expect(await redis.zscore('ledger:completed', res.body.id)).not.toBeNull();
  });

  it('answers a replayed Idempotency-Key with the same order and creates nothing', async () => {
    const key = randomUUID();
    const first = await shop.order([{ sku: 'calzone', qty: 1 }], key);
    expect(first.status).toBe(201);
    const before = await ledgerSize();
    const replay = await shop.order([{ sku: 'calzone', qty: 1 }], key);
    expect(replay.status).toBe(200);
    expect(replay.body.id).toBe(first.body.id);
    const reused = await shop.order([{ sku: 'calzone', qty: 2 }], key);
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(await ledgerSize()).toEqual(before);
  });

  it('accepts concurrent requests with one key exactly once', async () => {
    const key = randomUUID();
    const before = await ledgerSize();
    const results = await Promise.all(Array.from({ length: 5 }, () => shop.order([{ sku: 'tiramisu', qty: 1 }], key)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 409)).toBe(true);
    expect((await ledgerSize()).accepted).toBe(before.accepted + 1);
  });
});

describe('bad input gets a specific 4xx and writes nothing', () => {
  const key = () => randomUUID();
  const withKey = (extra: Record<string, string> = {}) => ({ 'x-api-key': stack.apiKey, 'idempotency-key': key(), ...extra });
  const cases: Array<[string, () => ReturnType<typeof shop.request>, number, string]> = [
    ['a malformed body', () => shop.request('POST', '/api/orders', { headers: withKey(), body: '{"items": [' }), 400, 'malformed_json'],
    ['a body of the wrong shape', () => shop.request('POST', '/api/orders', { headers: withKey(), body: { items: [{ sku: 'margherita', qty: 1, extra: 1 }] } }), 400, 'invalid_body'],
    ['no items', () => shop.request('POST', '/api/orders', { headers: withKey(), body: { items: [] } }), 400, 'invalid_body'],
    ['an unknown sku', () => shop.order([{ sku: 'no-such-pizza', qty: 1 }]), 422, 'unknown_sku'],
    ['a quantity of 0', () => shop.order([{ sku: 'margherita', qty: 0 }]), 400, 'quantity_out_of_range'],
    ['a quantity of 51', () => shop.order([{ sku: 'margherita', qty: 51 }]), 400, 'quantity_out_of_range'],
    ['a fractional quantity', () => shop.order([{ sku: 'margherita', qty: 1.5 }]), 400, 'quantity_out_of_range'],
    ['a missing API key', () => shop.request('POST', '/api/orders', { headers: { 'idempotency-key': key() }, body: { items: [{ sku: 'margherita', qty: 1 }] } }), 401, 'missing_api_key'],
    ['an unknown API key', () => shop.order([{ sku: 'margherita', qty: 1 }], key(), { 'x-api-key': `fl_${randomBytes(16).toString('hex')}` }), 401, 'unknown_api_key'],
    ['a missing Idempotency-Key', () => shop.request('POST', '/api/orders', { headers: { 'x-api-key': stack.apiKey }, body: { items: [{ sku: 'margherita', qty: 1 }] } }), 400, 'missing_idempotency_key'],
    ['a too-short Idempotency-Key', () => shop.order([{ sku: 'margherita', qty: 1 }], 'short'), 400, 'invalid_idempotency_key'],
    ['an oversized body', () => shop.request('POST', '/api/orders', { headers: withKey(), body: { items: [{ sku: 'margherita', qty: 1 }], pad: 'x'.repeat(20_000) } }), 413, 'body_too_large'],
    ['a body that is not JSON', () => shop.request('POST', '/api/orders', { headers: { ...withKey(), 'content-type': 'text/plain' }, body: 'two pizzas' }), 415, 'unsupported_media_type'],
    ['an unknown order id', () => shop.get(`ord_${randomBytes(16).toString('hex')}`), 404, 'order_not_found'],
    ['a malformed order id', () => shop.get('not-an-order-id'), 404, 'order_not_found'],
    ['an unknown route', () => shop.request('GET', '/api/nothing'), 404, 'route_not_found'],
    ['a method the path does not take', () => shop.request('DELETE', '/api/orders', { headers: withKey() }), 405, 'method_not_allowed'],
  ];

  it.each(cases)('%s', async (_name, send, status, code) => {
    const before = await ledgerSize();
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(await ledgerSize()).toEqual(before);
  });
});

describe('methods', () => {
  it.each([
    ['DELETE', '/api/orders', 'POST'],
    ['PUT', '/api/orders/ord_0123456789abcdef', 'GET, HEAD'],
    ['POST', '/api/menu', 'GET, HEAD'],
    ['PATCH', '/api/openapi.json', 'GET, HEAD'],
  ])('%s %s: 405, and Allow lists %s, as the OpenAPI document declares', async (method, path, allow) => {
    const res = await shop.request(method, path, { headers: { 'x-api-key': stack.apiKey } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(res.body.error.code).toBe('method_not_allowed');
  });
});

describe('observability', () => {
  it('serves an OpenAPI 3 document of the API', async () => {
    const res = await shop.request('GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(Object.keys(res.body.paths)).toEqual(expect.arrayContaining(['/api/menu', '/api/orders', '/api/orders/{id}']));
    // An acknowledged order links to reading it, so a client or a stateful test can follow the flow.
    expect(res.body.paths['/api/orders'].post.responses['201'].links.getOrder).toEqual(expect.objectContaining({ operationId: 'getOrder', parameters: { id: '$response.body#/id' } }));
    expect(Object.keys(res.body.paths['/api/orders'].post.responses['429'].headers)).toEqual(expect.arrayContaining(['Retry-After', 'RateLimit-Remaining']));
  });

  it('records one order as one trace across gateway, orders, catalog and kitchen', async () => {
    const traceId = randomBytes(16).toString('hex');
    const res = await shop.order([{ sku: 'diavola', qty: 1 }], randomUUID(), { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` });
    expect(res.status).toBe(201);
    const services = await traceServices(stack.urls.tracesUi, traceId);
    expect(services).toEqual(['catalog', 'gateway', 'kitchen', 'orders']);
  });

  it('has every replica as an up target in Prometheus', async () => {
    const expected = stack.components.filter((c) => c.kind === 'replica').map((c) => c.name).sort();
    const up = await waitFor('all targets up', async () => {
      const series = await promQuery(stack, 'up{job=~"gateway|catalog|orders|kitchen"} == 1');
      return series.length === expected.length && series;
    });
    expect(up.map((s) => s.metric.instance_name).sort()).toEqual(expected);
  });

  it('moves the order counters', async () => {
    const total = async (q: string) => (await promQuery(stack, q)).reduce((sum, s) => sum + s.value, 0);
    const accepted = await total('orders_total{outcome="accepted"}');
    const completed = await total('kitchen_orders_total{result="completed"}');
    for (let i = 0; i < 3; i++) expect((await shop.order([{ sku: 'lemonade', qty: 1 }])).status).toBe(201);
    await waitFor('orders_total to move', async () => (await total('orders_total{outcome="accepted"}')) >= accepted + 3, 15_000);
    await waitFor('kitchen_orders_total to move', async () => (await total('kitchen_orders_total{result="completed"}')) >= completed + 3, 15_000);
  });
});
