import type { IncomingHttpHeaders } from 'node:http';
import type { NextFunction, RequestHandler, Response } from 'express';
import { Gauge, type Registry } from 'prom-client';
import { apiError, degradedHeader } from '../contracts.ts';
import { addRefusalProbe } from './refusal-probe.ts';
import { DeadlineExceeded, remainingMs } from './deadline.ts';
import { GradientLimit } from './gradient-limit.ts';
import { resilienceMetrics } from './metrics.ts';

export interface AdmissionOptions {
  registry: Registry;
  enabled: boolean;
  /** Requests worked on at once: the fixed limit, or the adaptive limit's ceiling. */
  concurrency: number;
  /**
   * `adaptive`: the limit follows latency (GradientLimit) between `minConcurrency` and `concurrency`, and the queue
   * holds at most half the limit, so that a queued request waits about half a request's time.
   */
  limit?: 'fixed' | 'adaptive';
  minConcurrency?: number;
  /** Requests allowed to wait for a slot; beyond that the request is shed at once. */
  queue: number;
  /**
   * Who sent a request, read before any work (the gateway: the API key's client, or "anonymous"), and the share of
   * the places (concurrency + queue) one client may hold at once, in progress or queued, of those the clients not
   * held to it leave. A client past its share is refused with 429. `capped` says which clients the share holds now
   * (unset: all); the gateway holds a client to it while its key sends over its rate limit, so that a client within
   * its quota may use the places a flooding one cannot. Unset: one queue for all, no share.
   */
  perClient?: { of: (headers: IncomingHttpHeaders) => string; share: number; capped?: (client: string) => boolean };
}

/**
 * Admission control before any work (auth, body parsing, upstream calls, a trace span): `limit` requests in progress,
 * a bounded queue, and 503 overloaded for the rest. Fair between clients, so that a quiet client waits for one slot,
 * not behind a flood: a freed slot goes to the waiting client holding the fewest places (in progress and queued); when
 * the queue is full a newcomer takes the place of the newest waiter of the client holding the most; and a client under
 * its fair share of the places (split among the clients holding any, not counting capped ones for an uncapped client)
 * is not refused for a full queue. A request still waiting when its deadline passes is answered 503 then, not left to
 * the client's timeout. A refusal allocates nothing: its errors are made once.
 */
export function admissionControl({ registry, enabled, concurrency, limit = 'fixed', minConcurrency = 1, queue, perClient }: AdmissionOptions): RequestHandler {
  const metrics = resilienceMetrics(registry);
  let active = 0;
  new Gauge({ name: 'http_server_active_requests', help: 'Requests being worked on now.', registers: [registry], collect() { this.set(active); } });
  if (!enabled) {
    return (_req, res, next) => {
      active++;
      res.once('close', () => active--);
      next();
    };
  }
  // Hand-written in place of cockatiel's bulkhead, whose capacity is fixed and whose queue is one FIFO for everyone.
  const gradient = limit === 'adaptive' ? new GradientLimit({ max: concurrency, min: Math.min(minConcurrency, concurrency) }) : undefined;
  const slots = () => gradient?.limit ?? concurrency;
  const queuePlaces = () => (gradient ? Math.min(queue, Math.ceil(gradient.limit / 2)) : queue);
  // Per client, in the order clients last had a turn. Keys are the API clients and "anonymous": bounded.
  const queues = new Map<string, Waiter[]>();
  let queued = 0;
  const held = new Map<string, number>();
  const hold = (client: string, by: number) => {
    const n = (held.get(client) ?? 0) + by;
    if (n === 0) held.delete(client);
    else held.set(client, n);
  };
  new Gauge({ name: 'admission_queue_requests', help: 'Requests waiting for an admission slot.', registers: [registry], collect() { this.set(queued); } });
  new Gauge({ name: 'admission_concurrency_limit', help: 'Requests admission control lets be worked on at once now (adaptive: follows latency).', registers: [registry], collect() { this.set(slots()); } });
  const clientOf = perClient?.of ?? (() => 'all');
  // Of the most places there can be: the fair queue shares the places there are now.
  const places = concurrency + queue;
  // A capped client's share is of the places the clients within their quota leave: the more places those hold (their
  // answers slow down as the machine fills), the fewer a flooding client may hold, down to one.
  const overShare = (client: string) => {
    if (perClient === undefined || !(perClient.capped?.(client) ?? true)) return false;
    let left = places;
    if (perClient.capped) for (const [c, n] of held) if (!perClient.capped(c)) left -= n;
    return (held.get(client) ?? 0) >= Math.max(1, Math.floor(left * perClient.share));
  };
  const full = () => active >= slots() && queued >= queuePlaces();
  // A client held to its share (the gateway: one sending over its rate limit) also comes last: a freed slot goes to it
  // only when no other client waits, and its waiters are the first to give way (the SRE book's lower criticality).
  const last = (client: string) => perClient?.capped?.(client) ?? false;
  /** Whether a is served before b: a client that comes last after every other, then the one holding fewer places. */
  const before = (a: string, b: string) => (last(a) !== last(b) ? !last(a) : held.get(a)! < held.get(b)!);
  /** The waiting client that gives way to `client`: one that comes last when `client` does not, else the one holding the most, if it holds more than `client` would with one more. */
  const victimFor = (client: string) => {
    let victim: string | undefined;
    for (const c of queues.keys()) if (victim === undefined || before(victim, c)) victim = c;
    if (victim === undefined || victim === client) return undefined;
    if (last(victim) !== last(client)) return last(victim) ? victim : undefined;
    return held.get(victim)! > (held.get(client) ?? 0) + 1 ? victim : undefined;
  };
  /**
   * Under its fair share of the places there are now, split among the clients holding any, itself included. A client
   * held to its share does not split a client within its quota's: that one waits for the capped client's places.
   */
  const underFairShare = (client: string) => {
    const holding = held.get(client) ?? 0;
    let sharers = holding === 0 ? 1 : 0;
    for (const c of held.keys()) if (last(client) || !last(c)) sharers++;
    return holding < Math.ceil((slots() + queuePlaces()) / sharers);
  };
  const refused = (client: string) => overShare(client) || (full() && victimFor(client) === undefined && !underFairShare(client));
  addRefusalProbe((headers) => refused(clientOf(headers)));
  const overloaded = apiError('overloaded', 'too many requests in progress and waiting', { retryAfterSeconds: 1 });
  const overClientShare = apiError('over_client_share', `this client already holds its share of the ${places} admission places`, { retryAfterSeconds: 1 });

  const dequeue = (client: string, waiter: Waiter) => {
    clearTimeout(waiter.expiry);
    const waiting = queues.get(client)!;
    waiting.splice(waiting.indexOf(waiter), 1);
    queued--;
    queues.delete(client); // to the back of the turn order
    if (waiting.length) queues.set(client, waiting);
  };
  const startNext = () => {
    while (active < slots() && queued > 0) {
      let first: string | undefined;
      for (const c of queues.keys()) if (first === undefined || before(c, first)) first = c;
      const waiter = queues.get(first!)![0]!;
      dequeue(first!, waiter);
      waiter.start();
    }
  };
  const work = (res: Response, next: NextFunction) => {
    active++;
    const admittedAt = performance.now();
    const inFlight = active;
    res.once('close', () => {
      active--;
      // The limit judges the time real work takes: a refusal (4xx) is quick, a failing dependency (5xx, a fallback
      // answer) is the breaker's business.
      if (res.statusCode < 400 && !res.hasHeader(degradedHeader)) gradient?.sample(performance.now() - admittedAt, inFlight);
      startNext();
    });
    if (remainingMs(res) <= 0) {
      metrics.shed.inc({ reason: 'deadline' });
      return next(new DeadlineExceeded('while it waited for admission'));
    }
    next();
  };
  const shed = (next: NextFunction) => {
    metrics.shed.inc({ reason: 'overload' });
    next(overloaded);
  };

  return (req, res, next) => {
    const client = clientOf(req.headers);
    if (overShare(client)) {
      metrics.shed.inc({ reason: 'client_share' });
      return next(overClientShare);
    }
    if (full()) {
      const victim = victimFor(client);
      if (victim !== undefined) {
        const evicted = queues.get(victim)!.at(-1)!;
        dequeue(victim, evicted);
        evicted.refuse();
      } else if (!underFairShare(client)) return shed(next);
      // else: others hold every place in progress; it waits past the queue's size (bounded by its fair share) and,
      // holding the fewest, gets the next free slot.
    }
    hold(client, 1);
    res.once('close', () => hold(client, -1));
    if (active < slots()) return work(res, next);
    const waiter: Waiter = { start: () => work(res, next), refuse: () => shed(next) };
    // A waiter still queued at its deadline is answered then: nobody waits for its work any more.
    const remaining = remainingMs(res);
    if (Number.isFinite(remaining)) {
      waiter.expiry = setTimeout(() => {
        dequeue(client, waiter);
        metrics.shed.inc({ reason: 'deadline' });
        next(new DeadlineExceeded('while it waited for admission'));
      }, Math.max(0, remaining));
    }
    let waiting = queues.get(client);
    if (!waiting) queues.set(client, (waiting = []));
    waiting.push(waiter);
    queued++;
    // The client went away while queued: its place is freed at once.
    res.once('close', () => {
      if (queues.get(client)?.includes(waiter)) dequeue(client, waiter);
    });
  };
}

interface Waiter {
  start: () => void;
  refuse: () => void;
  /** Answers it at its deadline while it waits; cleared when it leaves the queue, however it leaves. */
  expiry?: ReturnType<typeof setTimeout>;
}
