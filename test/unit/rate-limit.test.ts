// The gateway's rate limiter with its Redis script stubbed: pure decision logic. The real bucket in Redis is tested in
// test/integration/resilience.test.ts.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger, finishApp, type Dependency, wouldRefuseKey } from '@faultline/common';
import { arrivalBucket, rateLimit } from '../../services/gateway/src/rate-limit.ts';

describe('gateway rate limiter', () => {
  it('refuses a key the shared bucket refused without asking Redis until its next token is due, then lets one request a token interval ask', async () => {
    let scriptCalls = 0;
    let now = 1_000_000;
    const realNow = Date.now;
    Date.now = () => now;
    // The shared bucket is empty: the next token in 1500 ms, full in 4000 ms.
    const redis = { defineCommand() {}, takeToken: async () => (scriptCalls++, [0, 0, 1500, 4000]) };
    const dependency = { call: (fn: () => Promise<unknown>) => fn() } as unknown as Dependency;
    const app = express();
    const limiter = rateLimit({ redis: redis as never, dependency, registry: new Registry(), enabled: true, rps: 10, burst: 20, clientOf: (h) => (h['x-api-key'] ? 'flood' : undefined) });
    // As in the gateway: early before any work, then authentication (here: every request is the flood's), then perKey.
    let authenticated = 0;
    app.use(limiter.early);
    app.use((_req, res, next) => ((res.locals.client = 'flood'), authenticated++, next()));
    app.use(limiter.perKey);
    app.get('/x', (_req, res) => res.json({ ok: true }));
    finishApp(app, createLogger('test', 'silent', '0'));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const get = () => fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, { headers: { 'x-api-key': 'k' } });
    const wouldRefuse = (globalThis as Record<symbol, Array<(h: Record<string, string>) => boolean>>)[wouldRefuseKey]!.at(-1)!;
    try {
      expect(wouldRefuse({ 'x-api-key': 'k' })).toBe(false);
      const first = await get();
      expect(first.status).toBe(429);
      expect(scriptCalls).toBe(1);
      now += 1000; // the next token is 500 ms away
      const again = await Promise.all([get(), get(), get()]);
      expect(again.map((r) => r.status)).toEqual([429, 429, 429]);
      expect(scriptCalls).toBe(1);
      expect(authenticated).toBe(1); // refused before authentication, as before admission control in the gateway
      expect(again[0]!.headers.get('retry-after')).toBe('1');
      expect(again[0]!.headers.get('ratelimit-remaining')).toBe('0');
      expect(again[0]!.headers.get('ratelimit-reset')).toBe('3');
      expect(wouldRefuse({ 'x-api-key': 'k' })).toBe(true); // no trace span for it either
      expect(wouldRefuse({})).toBe(false); // an unknown client is not this key
      now += 600; // the token is due: one request asks Redis for it, the rest in its token interval (100 ms) are refused
      const due = await Promise.all([get(), get(), get()]);
      expect(due.map((r) => r.status)).toEqual([429, 429, 429]);
      expect(scriptCalls).toBe(2);
      now += 1500; // the next token is due again: one request asks
      await Promise.all([get(), get()]);
      expect(scriptCalls).toBe(3);
      now += 4000; // past the moment the bucket would be full again: forgotten, so Redis decides
      await get();
      expect(scriptCalls).toBe(4);
    } finally {
      Date.now = realNow;
      server.close();
    }
  });

  it('meters arrivals per client with a bucket of its quota, so a flood is seen however its requests are refused', () => {
    let now = 5_000_000;
    const arrivals = arrivalBucket(10, 20, () => now);
    expect(arrivals.over('flood')).toBe(false); // never seen
    for (let i = 0; i < 19; i++) arrivals.count('flood');
    expect(arrivals.over('flood')).toBe(false); // within its burst of 20
    arrivals.count('flood');
    expect(arrivals.over('flood')).toBe(true); // the burst spent
    now += 50; // half a token at 10/s
    expect(arrivals.over('flood')).toBe(true);
    now += 60;
    expect(arrivals.over('flood')).toBe(false); // a token again
    // A client at half its rate stays within it even when its arrivals come bunched after a stall.
    for (let second = 0; second < 10; second++) {
      now += second === 5 ? 3000 : 1000;
      for (let i = 0; i < (second === 5 ? 15 : 5); i++) arrivals.count('quiet'); // 3 s of arrivals at once, then 5 a second
      expect(arrivals.over('quiet')).toBe(false);
    }
  });
});
