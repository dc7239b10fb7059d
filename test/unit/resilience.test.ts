// The policy wiring, on fake timers: breaker transitions, timeouts, the retry budget, full jitter, deadlines, admission.
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineExceeded, DependencyFailure, RetryBudget, admissionControl, stampDeadline, wouldRefuseKey, type AdmissionOptions, createDependency, drillBreaker, finishApp, createLogger, retryBackoff, type RetrySettings } from '@faultline/common';

const fail = () => Promise.reject(new DependencyFailure('catalog', 'is unreachable'));
const ok = () => Promise.resolve('menu');
const metric = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0) ?? 0;
};

describe('circuit breaker', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens on failures, rejects without calling, goes half-open after 3 s, and closes on a good probe', async () => {
    const registry = new Registry();
    const dep = createDependency({ name: 'catalog', registry, enabled: true, timeoutMs: 100, breaker: drillBreaker });
    for (let i = 0; i < 5; i++) await expect(dep.call(fail)).rejects.toBeInstanceOf(DependencyFailure);
    expect(dep.state).toBe('open');
    expect(await metric(registry, 'circuit_breaker_state', { dependency: 'catalog' })).toBe(2);

    const probe = vi.fn(ok);
    await expect(dep.call(probe)).rejects.toMatchObject({ status: 503, code: 'dependency_unavailable', message: 'catalog is failing; its circuit breaker is open', retryAfterSeconds: 3 });
    expect(probe).not.toHaveBeenCalled();

    vi.advanceTimersByTime(2999);
    await expect(dep.call(probe)).rejects.toMatchObject({ code: 'dependency_unavailable' });
    expect(probe).not.toHaveBeenCalled();

    vi.advanceTimersByTime(1);
    let answer!: (v: string) => void;
    const inFlight = dep.call(() => new Promise<string>((r) => (answer = r)));
    await vi.advanceTimersByTimeAsync(0);
    expect(dep.state).toBe('half-open');
    expect(await metric(registry, 'circuit_breaker_state', { dependency: 'catalog' })).toBe(1);
    answer('menu');
    await expect(inFlight).resolves.toBe('menu');
    expect(dep.state).toBe('closed');
    expect(await metric(registry, 'circuit_breaker_state', { dependency: 'catalog' })).toBe(0);
    for (const state of ['open', 'half-open', 'closed']) {
      expect(await metric(registry, 'circuit_breaker_transitions_total', { dependency: 'catalog', state })).toBe(1);
    }
    expect(await metric(registry, 'dependency_calls_total', { dependency: 'catalog', result: 'rejected' })).toBe(2);
  });

  it('goes back to open when the half-open probe fails', async () => {
    const dep = createDependency({ name: 'orders', registry: new Registry(), enabled: true, timeoutMs: 100, breaker: drillBreaker });
    for (let i = 0; i < 5; i++) await dep.call(fail).catch(() => undefined);
    vi.advanceTimersByTime(3000);
    await expect(dep.call(fail)).rejects.toBeInstanceOf(DependencyFailure);
    expect(dep.state).toBe('open');
  });

  it('stays closed when the failure rate is under the threshold, and ignores refusals by a live upstream', async () => {
    const dep = createDependency({ name: 'catalog', registry: new Registry(), enabled: true, timeoutMs: 100, breaker: drillBreaker });
    const refusal = Object.assign(new Error('unknown sku'), { status: 422 });
    for (let i = 0; i < 20; i++) {
      await dep.call(i % 3 === 0 ? fail : ok).catch(() => undefined);
      await dep.call(() => Promise.reject(refusal)).catch(() => undefined);
    }
    expect(dep.state).toBe('closed');
  });

  it('times an attempt out, and counts the timeout against the breaker', async () => {
    const registry = new Registry();
    const dep = createDependency({ name: 'kafka', registry, enabled: true, timeoutMs: 1500, breaker: drillBreaker });
    const hung = dep.call(() => new Promise(() => undefined));
    const settled = expect(hung).rejects.toMatchObject({ code: 'dependency_unavailable', message: 'kafka did not answer within 1500 ms' });
    await vi.advanceTimersByTimeAsync(1500);
    await settled;
    expect(await metric(registry, 'dependency_calls_total', { dependency: 'kafka', result: 'failure' })).toBe(1);
  });

  it('is a pass-through when resilience is off: never opens, never retries, exports no breaker state', async () => {
    const registry = new Registry();
    const dep = createDependency({ name: 'catalog', registry, enabled: false, timeoutMs: 100, breaker: drillBreaker });
    const fn = vi.fn(fail);
    for (let i = 0; i < 20; i++) await expect(dep.call(fn, { idempotent: true })).rejects.toBeInstanceOf(DependencyFailure);
    expect(fn).toHaveBeenCalledTimes(20);
    expect(dep.state).toBe('disabled');
    expect((await registry.metrics()).includes('circuit_breaker_state{')).toBe(false);
  });
});

describe('retries', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const noBreaker = { ...drillBreaker, minimumRps: 1_000_000 };

  it('retries an idempotent call at most 3 attempts in all, and never a non-idempotent one', async () => {
    const registry = new Registry();
    const retry: RetrySettings = { maxAttempts: 3, initialDelayMs: 25, maxDelayMs: 250, budget: { ratio: 0.1, reserve: 10 } };
    const dep = createDependency({ name: 'catalog', registry, enabled: true, timeoutMs: 100, breaker: noBreaker, retry });
    const idempotent = vi.fn(fail);
    const call = expect(dep.call(idempotent, { idempotent: true })).rejects.toBeInstanceOf(DependencyFailure);
    await vi.advanceTimersByTimeAsync(1000);
    await call;
    expect(idempotent).toHaveBeenCalledTimes(3);
    const once = vi.fn(fail);
    await expect(dep.call(once)).rejects.toBeInstanceOf(DependencyFailure);
    expect(once).toHaveBeenCalledTimes(1);
    expect(await metric(registry, 'dependency_retries_total', { dependency: 'catalog' })).toBe(2);
  });

  it('recovers on a retry when the dependency comes back', async () => {
    const dep = createDependency({ name: 'catalog', registry: new Registry(), enabled: true, timeoutMs: 100, breaker: noBreaker, retry: { maxAttempts: 3, initialDelayMs: 25, maxDelayMs: 250, budget: { ratio: 0.1, reserve: 10 } } });
    const flaky = vi.fn().mockRejectedValueOnce(new DependencyFailure('catalog', 'is unreachable')).mockResolvedValue('menu');
    const call = dep.call(flaky, { idempotent: true });
    await vi.advanceTimersByTimeAsync(100);
    await expect(call).resolves.toBe('menu');
  });

  it('exports its retry series from the start, at 0, so that a panel shows no retries rather than no data', async () => {
    const registry = new Registry();
    createDependency({ name: 'catalog', registry, enabled: true, timeoutMs: 100, breaker: noBreaker, retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1, budget: { ratio: 0.1, reserve: 2 } } });
    createDependency({ name: 'redis', registry, enabled: true, timeoutMs: 100, breaker: noBreaker });
    const text = await registry.metrics();
    expect(text).toContain('dependency_retries_total{dependency="catalog"} 0');
    expect(text).toContain('retry_budget_exhausted_total{dependency="catalog"} 0');
    expect(text).not.toMatch(/retry_budget_exhausted_total\{dependency="redis"\}/);
  });

  it('stops retrying when the budget is spent, and counts it', async () => {
    const registry = new Registry();
    const retry: RetrySettings = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1, budget: { ratio: 0.1, reserve: 2 } };
    const dep = createDependency({ name: 'catalog', registry, enabled: true, timeoutMs: 100, breaker: noBreaker, retry });
    const fn = vi.fn(fail);
    for (let i = 0; i < 10; i++) {
      const call = expect(dep.call(fn, { idempotent: true })).rejects.toBeInstanceOf(DependencyFailure);
      await vi.advanceTimersByTimeAsync(10);
      await call;
    }
    // The reserve of 2 pays for the first call's two retries; nine deposits of 0.1 never make another token.
    expect(fn).toHaveBeenCalledTimes(12);
    expect(await metric(registry, 'dependency_retries_total', { dependency: 'catalog' })).toBe(2);
    expect(await metric(registry, 'retry_budget_exhausted_total', { dependency: 'catalog' })).toBe(9);
  });

  it('keeps retries near the ratio of traffic over a long outage', () => {
    const budget = new RetryBudget({ ratio: 0.1, reserve: 10 });
    let retries = 0;
    for (let i = 0; i < 1000; i++) {
      budget.deposit();
      if (budget.tryWithdraw()) retries++;
    }
    expect(retries).toBe(10 + 99); // the reserve, then one per ten requests
    expect(() => new RetryBudget({ ratio: 0, reserve: 10 })).toThrow(RangeError);
  });

  it('waits a full-jitter delay: uniform in [0, min(max, initial * 2^n))', () => {
    const settings = { initialDelayMs: 25, maxDelayMs: 250 };
    const bounds = [25, 50, 100, 200, 250, 250];
    const seen = bounds.map(() => [] as number[]);
    for (let run = 0; run < 400; run++) {
      let backoff = retryBackoff(settings).next();
      for (let n = 0; n < bounds.length; n++) {
        seen[n]!.push(backoff.duration);
        backoff = backoff.next(undefined as never);
      }
    }
    seen.forEach((delays, n) => {
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...delays)).toBeLessThan(bounds[n]!);
      // jittered across the whole range, not bunched at the top as with equal jitter
      expect(delays.some((d) => d < bounds[n]! / 4)).toBe(true);
      expect(delays.some((d) => d >= (bounds[n]! * 3) / 4)).toBe(true);
    });
  });

  it('does not start an attempt after the deadline', async () => {
    const registry = new Registry();
    const dep = createDependency({ name: 'orders', registry, enabled: true, timeoutMs: 100, breaker: drillBreaker });
    const fn = vi.fn(ok);
    await expect(dep.call(fn, { deadline: Date.now() - 1 })).rejects.toBeInstanceOf(DeadlineExceeded);
    expect(fn).not.toHaveBeenCalled();
    expect(await metric(registry, 'requests_shed_total', { reason: 'deadline' })).toBe(1);
  });
});

/** An app behind admission control whose /work requests wait until the test lets them go, in order. */
async function heldWork(options: Omit<AdmissionOptions, 'registry' | 'enabled'>, deadlineMs?: number) {
  const registry = new Registry();
  const app = express();
  if (deadlineMs !== undefined) app.use(stampDeadline(deadlineMs));
  app.use(admissionControl({ registry, enabled: true, ...options }));
  const wouldRefuse = (globalThis as Record<symbol, Array<(h: Record<string, string>) => boolean>>)[wouldRefuseKey]!.at(-1)!;
  const gates: Array<() => void> = [];
  const ran: string[] = [];
  app.get('/work', (req, res) => {
    ran.push(req.get('x-client') ?? 'anonymous');
    gates.push(() => res.json({ ok: true }));
  });
  finishApp(app, createLogger('test', 'silent', '0'));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    registry,
    wouldRefuse,
    ran,
    send: (client?: string) => fetch(`${base}/work`, client ? { headers: { 'x-client': client } } : {}),
    release: () => gates.shift()!(),
    releaseAll: () => {
      while (gates.length) gates.shift()!();
    },
    waiting: () => gates.length,
    close: () => server.close(),
  };
}
const byClient = (headers: IncomingHttpHeaders) => String(headers['x-client'] ?? 'anonymous');

describe('admission control', () => {
  it('works on 2 at a time, queues 1, and sheds the rest with 503 overloaded before any work', async () => {
    const w = await heldWork({ concurrency: 2, queue: 1 });
    expect(w.wouldRefuse({})).toBe(false);
    try {
      const requests = Array.from({ length: 5 }, () => w.send());
      await vi.waitFor(() => expect(w.ran.length).toBe(2));
      expect(await metric(w.registry, 'http_server_active_requests')).toBe(2);
      expect(await metric(w.registry, 'admission_queue_requests')).toBe(1);
      expect(w.wouldRefuse({})).toBe(true); // full: a request arriving now gets no trace span
      await vi.waitFor(() => expect(w.waiting()).toBe(2));
      w.release();
      await vi.waitFor(() => expect(w.ran.length).toBe(3)); // the queued one got the free slot
      w.releaseAll();
      const responses = await Promise.all(requests);
      const statuses = responses.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 200, 200, 503, 503]);
      const shed = responses.find((r) => r.status === 503)!;
      expect(shed.headers.get('retry-after')).toBe('1');
      expect(((await shed.json()) as { error: { code: string } }).error.code).toBe('overloaded');
      expect(w.ran.length).toBe(3);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'overload' })).toBe(2);
    } finally {
      w.close();
    }
  });

  it('answers a request still waiting at its deadline with 503 deadline_exceeded then, and never works on it', async () => {
    const w = await heldWork({ concurrency: 1, queue: 2 }, 300);
    try {
      const first = w.send('a');
      await vi.waitFor(() => expect(w.ran).toEqual(['a']));
      const sentAt = Date.now();
      const late = await w.send('b'); // queued behind a slot that stays held past its deadline
      expect(late.status).toBe(503);
      expect(Date.now() - sentAt).toBeLessThan(2000); // answered at its deadline, not when the slot frees
      expect(late.headers.get('retry-after')).toBe('1');
      expect(((await late.json()) as { error: { code: string } }).error.code).toBe('deadline_exceeded');
      expect(await metric(w.registry, 'admission_queue_requests')).toBe(0);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'deadline' })).toBe(1);
      w.release();
      expect((await first).status).toBe(200);
      expect(w.ran).toEqual(['a']);
    } finally {
      w.close();
    }
  });

  it("queues fairly: a quiet client takes the flood's newest queued place, and the next free slot", async () => {
    const w = await heldWork({ concurrency: 1, queue: 3, perClient: { of: byClient, share: 1 } });
    try {
      const flood = [w.send('flood')];
      await vi.waitFor(() => expect(w.ran).toEqual(['flood']));
      flood.push(w.send('flood'), w.send('flood'), w.send('flood'));
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(3));
      expect(w.wouldRefuse({ 'x-client': 'flood' })).toBe(true); // full, and the flood holds the most
      expect(w.wouldRefuse({ 'x-client': 'quiet' })).toBe(false); // full, but it may take a flood's place
      const quiet = w.send('quiet');
      const evicted = await flood[3]!; // the flood's newest waiter
      expect(evicted.status).toBe(503);
      expect(((await evicted.json()) as { error: { code: string } }).error.code).toBe('overloaded');
      w.release();
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'quiet'])); // ahead of the flood's two older waiters
      for (const next of [3, 4]) {
        w.release();
        await vi.waitFor(() => expect(w.ran.length).toBe(next));
      }
      w.release();
      expect((await quiet).status).toBe(200);
      expect((await Promise.all(flood.slice(0, 3))).map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'overload' })).toBe(1);
    } finally {
      w.close();
    }
  });

  it('lets a client under its fair share wait for the next slot when another holds every place in progress', async () => {
    const w = await heldWork({ concurrency: 2, queue: 1, perClient: { of: byClient, share: 1 } });
    try {
      const flood = [w.send('flood'), w.send('flood')];
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'flood']));
      const other = w.send('other'); // the queue's one place
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(1));
      // Full, and no client holds a waiter more than it would: under its fair share (1 of 3 places), it waits anyway.
      const quiet = w.send('quiet');
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(2));
      const refused = await w.send('flood'); // the flood holds 2, over its fair share: refused
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('overloaded');
      for (const next of [3, 4]) {
        w.release();
        await vi.waitFor(() => expect(w.ran.length).toBe(next));
      }
      expect(w.ran.slice(2).sort()).toEqual(['other', 'quiet']);
      w.releaseAll();
      expect((await quiet).status).toBe(200);
      expect((await other).status).toBe(200);
      expect((await Promise.all(flood)).map((r) => r.status)).toEqual([200, 200]);
    } finally {
      w.close();
    }
  });

  it('starts an adaptive limit at its ceiling and shows it', async () => {
    const registry = new Registry();
    admissionControl({ registry, enabled: true, limit: 'adaptive', concurrency: 16, minConcurrency: 2, queue: 8 });
    expect(await metric(registry, 'admission_concurrency_limit')).toBe(16);
  });

  it("holds a client to its share of the places, so that a flooding client cannot take a quiet one's", async () => {
    const w = await heldWork({ concurrency: 2, queue: 2, perClient: { of: byClient, share: 0.5 } });
    try {
      const flood = Array.from({ length: 4 }, () => w.send('flood'));
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'flood']));
      const floodAnswers = await Promise.all(flood.slice(2));
      expect(floodAnswers.map((r) => r.status)).toEqual([429, 429]); // past its 2 places, though 2 queue places are free
      expect(((await floodAnswers[0]!.json()) as { error: { code: string } }).error.code).toBe('over_client_share');
      // The tracing probe agrees, before a span would start: the flood is refused, the quiet client is not.
      expect(w.wouldRefuse({ 'x-client': 'flood' })).toBe(true);
      expect(w.wouldRefuse({ 'x-client': 'quiet' })).toBe(false);
      const quiet = w.send('quiet'); // both slots are the flood's: it waits in the queue, and is not refused
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(1));
      w.release();
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'flood', 'quiet']));
      w.releaseAll();
      expect((await quiet).status).toBe(200);
      expect((await Promise.all(flood.slice(0, 2))).map((r) => r.status)).toEqual([200, 200]);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'client_share' })).toBe(2);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'overload' })).toBe(0);
    } finally {
      w.close();
    }
  });

  it('serves a capped client last: a freed slot goes to a client within its quota first, and the capped one gives way in a full queue', async () => {
    const w = await heldWork({ concurrency: 1, queue: 2, perClient: { of: byClient, share: 1, capped: (client) => client === 'flood' } });
    try {
      const flood = [w.send('flood'), w.send('flood'), w.send('flood')]; // one runs, two wait: the queue is full
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(2));
      const quiet = w.send('quiet'); // full: the flood's newest waiter gives way, though both would hold the same
      expect((await flood[2]!).status).toBe(503);
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(2));
      w.release(); // the freed slot goes to the quiet client, though the flood waited longer and holds no more
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'quiet']));
      w.releaseAll();
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'quiet', 'flood']));
      w.releaseAll();
      expect((await quiet).status).toBe(200);
      expect((await Promise.all(flood.slice(0, 2))).map((r) => r.status)).toEqual([200, 200]);
    } finally {
      w.close();
    }
  });

  it('holds only capped clients to their share, of the places clients within their quota leave: those may use the places a flooding one cannot', async () => {
    // 4 places, half of them a capped client's when no one else holds any; only the flood is capped (the gateway: its
    // key is over its rate limit).
    const w = await heldWork({ concurrency: 3, queue: 1, perClient: { of: byClient, share: 0.5, capped: (client) => client === 'flood' } });
    try {
      const quiet = Array.from({ length: 3 }, () => w.send('quiet'));
      await vi.waitFor(() => expect(w.ran).toEqual(['quiet', 'quiet', 'quiet'])); // past 2 places: not capped
      const flood = [w.send('flood')]; // the one place the quiet client leaves: the flood may hold one, at least
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(1));
      expect(w.wouldRefuse({ 'x-client': 'flood' })).toBe(true);
      const refused = await w.send('flood'); // a second: over its share of what the quiet client leaves
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('over_client_share');
      w.releaseAll();
      await vi.waitFor(() => expect(w.ran.length).toBe(4));
      expect(w.wouldRefuse({ 'x-client': 'flood' })).toBe(false); // the quiet client left: half of all 4 places
      flood.push(w.send('flood'));
      await vi.waitFor(() => expect(w.ran.length).toBe(5));
      expect(w.wouldRefuse({ 'x-client': 'flood' })).toBe(true);
      w.releaseAll();
      expect((await Promise.all([...quiet, ...flood])).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(await metric(w.registry, 'requests_shed_total', { reason: 'client_share' })).toBe(1);
    } finally {
      w.close();
    }
  });

  it("does not split a client within its quota's fair share with a capped one: it waits for the capped client's places", async () => {
    // 4 places; the flood is capped at its 2 and holds both slots.
    const w = await heldWork({ concurrency: 2, queue: 2, perClient: { of: byClient, share: 0.5, capped: (client) => client === 'flood' } });
    try {
      const flood = [w.send('flood'), w.send('flood')];
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'flood']));
      const quiet = [w.send('quiet'), w.send('quiet')]; // the queue is full now
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(2));
      // Split with the flood, its fair share would be 2 of 4 places; the flood does not count, so it may hold all 4.
      quiet.push(w.send('quiet'), w.send('quiet'));
      await vi.waitFor(async () => expect(await metric(w.registry, 'admission_queue_requests')).toBe(4));
      const refused = await w.send('quiet'); // a fifth: past every place there is
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('overloaded');
      w.releaseAll();
      await vi.waitFor(() => expect(w.ran).toEqual(['flood', 'flood', 'quiet', 'quiet']));
      w.releaseAll();
      await vi.waitFor(() => expect(w.ran.length).toBe(6));
      w.releaseAll();
      expect((await Promise.all([...flood, ...quiet])).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    } finally {
      w.close();
    }
  });
});
