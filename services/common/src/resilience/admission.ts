import type { RequestHandler } from 'express';
import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
import { Gauge, type Registry } from 'prom-client';
import { apiError } from '../contracts.ts';
import { DeadlineExceeded, remainingMs } from './deadline.ts';
import { resilienceMetrics } from './metrics.ts';

export interface AdmissionOptions {
  registry: Registry;
  enabled: boolean;
  /** Requests worked on at once. */
  concurrency: number;
  /** Requests allowed to wait for a slot; beyond that the request is shed at once. */
  queue: number;
}

/**
 * Admission control before any work (auth, body parsing, upstream calls): a cockatiel bulkhead holds
 * `concurrency` requests with `queue` waiting; the rest get 503 overloaded. A request whose deadline
 * passed while it waited is dropped.
 */
export function admissionControl({ registry, enabled, concurrency, queue }: AdmissionOptions): RequestHandler {
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
  return (_req, res, next) => {
    let closed = false;
    res.once('close', () => (closed = true));
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
        next(apiError('overloaded', `more than ${concurrency} requests in progress and ${queue} waiting`, { retryAfterSeconds: 1 }));
      });
  };
}
