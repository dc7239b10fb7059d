import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createRegistry(service: string, replica: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, replica });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** RED metrics for every route, labelled by route template, never by raw path. */
export function httpMetrics(registry: Registry) {
  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests served, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const requests = new Counter({
    name: 'http_server_requests_total',
    help: 'HTTP requests served, by route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const end = duration.startTimer();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const labels = { method: req.method, route, status_code: String(res.statusCode) };
      end(labels);
      requests.inc(labels);
    });
    next();
  };
}
