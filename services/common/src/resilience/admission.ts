import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
import { Gauge, type Registry } from 'prom-client';
import { apiError } from '../contracts.ts';
import { addRefusalProbe } from './refusal-probe.ts';
import { DeadlineExceeded, remainingMs } from './deadline.ts';
import { resilienceMetrics } from './metrics.ts';

export interface AdmissionOptions {
  registry: Registry;
  enabled: boolean;
  /** Requests worked on at once. */
  concurrency: number;
  /** Requests allowed to wait for a slot; beyond that the request is shed at once. */
  queue: number;
  /**
   * Who sent a request, read before any work (the gateway: the API key's client, or "anonymous"), and how many of the
   * concurrency + queue places one client may hold at once. A client past its share is refused with 429, so that a
   * flooding client cannot take a quiet one's places. Unset: no per-client share.
   */
  perClient?: { of: (headers: IncomingHttpHeaders) => string; places: number };
}

/**
 * Admission control before any work (auth, body parsing, upstream calls, a trace span): a cockatiel bulkhead holds
 * `concurrency` requests with `queue` waiting; the rest get 503 overloaded. A request whose deadline passed while it
 * waited is dropped. A refusal allocates nothing: the bulkhead's free places are read before it is asked (its
 * rejection builds an Error with a stack trace), and the refusal errors are made once.
 */
export function admissionControl({ registry, enabled, concurrency, queue, perClient }: AdmissionOptions): RequestHandler {
  const metrics = resilienceMetrics(registry);
  let active = 0;
  new Gauge({ name: 'http_server_active_requests', help: 'Requests being worked on now.', registers: [registry], collect() { this.set(active); } });
  const track = (res: Parameters<RequestHandler>[1], done?: () => void) => {
    active++;
    res.once('close', () => {
      active--;
      done?.();
    });
  };
  if (!enabled) {
    return (_req, res, next) => {
      track(res);
      next();
    };
  }
  const slots = bulkhead(concurrency, queue);
  new Gauge({ name: 'admission_queue_requests', help: 'Requests waiting for an admission slot.', registers: [registry], collect() { this.set(queue - slots.queueSlots); } });
  // Hand-written: cockatiel's bulkhead has no per-key share. Keys are the API clients and "anonymous": bounded.
  const held = new Map<string, number>();
  const full = () => slots.executionSlots === 0 && slots.queueSlots === 0;
  const overShare = (client: string) => perClient !== undefined && (held.get(client) ?? 0) >= perClient.places;
  addRefusalProbe((headers) => full() || (perClient !== undefined && overShare(perClient.of(headers))));
  const overloaded = apiError('overloaded', `more than ${concurrency} requests in progress and ${queue} waiting`, { retryAfterSeconds: 1 });
  const overClientShare = perClient && apiError('over_client_share', `this client already holds its ${perClient.places} of the ${concurrency + queue} places`, { retryAfterSeconds: 1 });
  return (req, res, next) => {
    if (full()) {
      metrics.shed.inc({ reason: 'overload' });
      return next(overloaded);
    }
    let closed = false;
    res.once('close', () => (closed = true));
    if (perClient) {
      const client = perClient.of(req.headers);
      if (overShare(client)) {
        metrics.shed.inc({ reason: 'client_share' });
        return next(overClientShare!);
      }
      const holding = held.get(client) ?? 0;
      held.set(client, holding + 1);
      res.once('close', () => {
        const left = held.get(client)! - 1;
        if (left === 0) held.delete(client);
        else held.set(client, left);
      });
    }
    slots
      .execute(
        () =>
          new Promise<void>((release) => {
            if (closed) return release(); // the client went away while queued
            track(res, release);
            if (remainingMs(res) <= 0) {
              metrics.shed.inc({ reason: 'deadline' });
              return next(new DeadlineExceeded('while it waited for admission'));
            }
            next();
          }),
      )
      .catch((err: unknown) => {
        if (!isBulkheadRejectedError(err)) return next(err);
        metrics.shed.inc({ reason: 'overload' });
        next(overloaded);
      });
  };
}
