// What the supervisor's control API answers outside its routes: JSON errors with the right status, never Express's
// HTML pages with a stack trace.
import type { ErrorRequestHandler, Express, Request, Response } from 'express';

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

/** 404, or 405 with `Allow` read from the app's own routes for that path, so the answer cannot drift from them. */
export function notFound(app: Express) {
  return (req: Request, res: Response) => {
    const layers = (app.router as unknown as { stack: RouteLayer[] }).stack.filter((l) => l.route && l.match(req.path));
    // HEAD is served wherever GET is, and listed beside it.
    const methods = new Set(layers.flatMap((l) => Object.keys(l.route!.methods).flatMap((m) => (m === 'get' ? ['GET', 'HEAD'] : [m.toUpperCase()]))));
    if (methods.size === 0) return void res.status(404).json({ error: { code: 'route_not_found', message: `no route ${req.method} ${req.path}` } });
    const allow = [...methods].join(', ');
    res.status(405).set('allow', allow).json({ error: { code: 'method_not_allowed', message: `${req.method} ${req.path}: allowed ${allow}` } });
  };
}

/** A body that is not JSON, or too large, is the client's fault (4xx); nothing else says more than that it failed. */
export const onError = ((err: { type?: string; status?: number; message?: string }, _req, res, _next) => {
  if (err.type === 'entity.parse.failed') return void res.status(400).json({ error: { code: 'malformed_json', message: 'the body is not valid JSON' } });
  if (err.type === 'entity.too.large') return void res.status(413).json({ error: { code: 'body_too_large', message: 'the body is larger than 16 KiB' } });
  if (err.status && err.status >= 400 && err.status < 500) return void res.status(err.status).json({ error: { code: 'bad_request', message: err.message ?? 'bad request' } });
  res.status(500).json({ error: { code: 'internal_error', message: 'the supervisor failed to handle this request; see its log' } });
}) as ErrorRequestHandler;
