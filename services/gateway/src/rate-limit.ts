import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Counter, addRefusalProbe, apiError, type ApiError, type Dependency, type Registry } from '@faultline/common';

// Hand-written: rate-limiter-flexible and its peers count fixed windows; none keeps a token bucket in Redis for ioredis.
// One atomic script per request, on Redis's clock, so every gateway replica draws from the same bucket.
const takeTokenScript = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local nextTokenMs = 0
if tokens < 1 then nextTokenMs = math.ceil((1 - tokens) * 1000 / rate) end
return { allowed, math.floor(tokens), nextTokenMs, math.ceil((burst - tokens) * 1000 / rate) }`;

type TakeToken = (key: string, rate: number, burst: number) => Promise<[number, number, number, number]>;

export interface RateLimitOptions {
  redis: Redis;
  /** Redis behind a breaker and a short timeout: when it fails, this replica's own bucket decides at once. */
  dependency: Dependency;
  registry: Registry;
  enabled: boolean;
  /** Tokens added per second, per API key. */
  rps: number;
  /** Bucket size: the burst a key may send at once. */
  burst: number;
  /** The client a request's headers name, read before any work: for the refusal probe (no trace span for a refusal). */
  clientOf: (headers: IncomingHttpHeaders) => string | undefined;
}

/**
 * Per-API-key token bucket in Redis. Over the limit: 429 with Retry-After and RateLimit headers. Redis unavailable: each
 * replica limits each key by a bucket of its own (the same rate and burst, per replica), so that a flood is not let
 * through exactly when the machine is busiest; counted as local_allowed or local_limited.
 *
 * A key the shared bucket refused is refused without asking Redis again until its next token is due: only time adds
 * tokens, so no other replica can have made one sooner. After that, until its bucket would be full again, this replica
 * lets one request of that key through per token interval and refuses the rest as they come: only one token can have
 * been added meanwhile, and that request asks for it. So a flooding key gets no more than its rate past `early`, which
 * runs before admission control: the rest of the flood costs no Redis round trip, admission place or authentication.
 * The cost: a key refused in the last burst/rate seconds is held to its steady rate, without its burst. `perKey` asks
 * the shared bucket.
 */
export function rateLimit({ redis, dependency, registry, enabled, rps, burst, clientOf }: RateLimitOptions): { early: RequestHandler; perKey: RequestHandler; overLimit: (client: string) => boolean } {
  if (!enabled) return { early: (_req, _res, next) => next(), perKey: (_req, _res, next) => next(), overLimit: () => false };
  redis.defineCommand('takeToken', { numberOfKeys: 1, lua: takeTokenScript });
  const takeToken = (redis as unknown as { takeToken: TakeToken }).takeToken.bind(redis);
  const decisions = new Counter({
    name: 'rate_limit_decisions_total',
    help: 'Rate-limit decisions per API client: allowed or limited (429) by the shared bucket in Redis; local_allowed or local_limited by this replica\'s own bucket while Redis is unavailable.',
    labelNames: ['client', 'decision'] as const,
    registers: [registry],
  });
  const windowSeconds = Math.max(1, Math.ceil(burst / rps));
  // A fixed window of the bucket's size: the same average rate, and at most twice the burst across a window's edge.
  const local = new RateLimiterMemory({ points: Math.min(burst, rps * windowSeconds), duration: windowSeconds });
  // Made once per client and delay in whole seconds (bounded: the API clients × a few delays), so a refusal allocates no Error.
  const refusals = new Map<string, ApiError>();
  const limited = (client: string, retryAfterMs: number) => {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    const key = `${client} ${retryAfterSeconds}`;
    if (!refusals.has(key)) refusals.set(key, apiError('rate_limited', `the key for ${client} is over ${rps} requests/s (bursts of ${burst})`, { retryAfterSeconds }));
    return refusals.get(key)!;
  };
  // Hand-written: a remembered verdict of the shared bucket, not a limiter of its own. By client: bounded.
  const emptyUntil = new Map<string, { nextTokenAt: number; fullAt: number }>();
  const tokenIntervalMs = 1000 / rps;
  /** Whether the key's next token is not due yet; if it is due, the caller's request takes it (for this replica). */
  const emptyNow = (client: string, take: boolean) => {
    const verdict = emptyUntil.get(client);
    if (!verdict) return false;
    const now = Date.now();
    if (verdict.nextTokenAt > now) return true;
    if (verdict.fullAt <= now) emptyUntil.delete(client);
    else if (take) verdict.nextTokenAt = now + tokenIntervalMs;
    return false;
  };
  addRefusalProbe((headers) => {
    const client = clientOf(headers);
    return client !== undefined && emptyNow(client, false);
  });
  const refuseEmpty: (client: string, ...handler: Parameters<RequestHandler>) => void = (client, _req, res, next) => {
    const { nextTokenAt, fullAt } = emptyUntil.get(client)!;
    const now = Date.now();
    res.set({ 'RateLimit-Policy': `${burst};w=${windowSeconds}`, 'RateLimit-Limit': String(burst), 'RateLimit-Remaining': '0', 'RateLimit-Reset': String(Math.ceil((fullAt - now) / 1000)) });
    decisions.inc({ client, decision: 'limited' });
    next(limited(client, nextTokenAt - now));
  };
  const arrivals = arrivalBucket(rps, burst);
  const early: RequestHandler = (req, res, next) => {
    const client = clientOf(req.headers);
    if (client !== undefined) arrivals.count(client);
    if (client !== undefined && emptyNow(client, true)) return refuseEmpty(client, req, res, next);
    next();
  };
  const perKey: RequestHandler = (req, res, next) => {
    const client = String(res.locals.client);
    dependency
      .call(() => takeToken(`ratelimit:${client}`, rps, burst))
      .then(([allowed, remaining, nextTokenMs, fullMs]) => {
        res.set({ 'RateLimit-Policy': `${burst};w=${windowSeconds}`, 'RateLimit-Limit': String(burst), 'RateLimit-Remaining': String(remaining), 'RateLimit-Reset': String(Math.ceil(fullMs / 1000)) });
        if (allowed === 1) {
          decisions.inc({ client, decision: 'allowed' });
          return next();
        }
        decisions.inc({ client, decision: 'limited' });
        emptyUntil.set(client, { nextTokenAt: Date.now() + nextTokenMs, fullAt: Date.now() + fullMs });
        next(limited(client, nextTokenMs));
      })
      .catch(() =>
        local.consume(client).then(
          () => {
            decisions.inc({ client, decision: 'local_allowed' });
            next();
          },
          (refusal: unknown) => {
            if (!(refusal instanceof RateLimiterRes)) return next(refusal);
            decisions.inc({ client, decision: 'local_limited' });
            next(limited(client, refusal.msBeforeNext));
          },
        ),
      );
  };
  /**
   * The key sends over its rate: its arrivals at this replica would have emptied a bucket of its quota. Judged from
   * arrivals, not from the shared bucket: when admission control refuses a flood before it reaches the shared bucket,
   * that bucket never sees it.
   */
  const overLimit = (client: string) => arrivals.over(client);
  return { early, perKey, overLimit };
}

/**
 * A token bucket per client over its arrivals, with the quota's rate and burst: a client whose arrivals would empty
 * it sends over its rate, however its requests are then refused. Hand-written: read on every request before any work,
 * where a limiter library allocates a promise per request. Clients are the API's: bounded.
 */
export function arrivalBucket(rps: number, burst: number, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (client: string) => {
    const t = now();
    let b = buckets.get(client);
    if (!b) buckets.set(client, (b = { tokens: burst, at: t }));
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) * rps) / 1000);
    b.at = t;
    return b;
  };
  return {
    /** Counts an arrival: it takes a token, if there is one. */
    count(client: string) {
      const b = refilled(client);
      b.tokens = Math.max(0, b.tokens - 1);
    },
    /** Its arrivals emptied the bucket: fewer than one token is left. */
    over(client: string) {
      return buckets.has(client) && refilled(client).tokens < 1;
    },
  };
}
