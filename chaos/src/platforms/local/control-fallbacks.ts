// What the supervisor's control API answers outside its routes: JSON errors with the right status, never Express's
// HTML pages with a stack trace.
import type { ErrorRequestHandler, Request, Response } from 'express';

/** The control API's routes and their methods: anything else is a JSON 404, or 405 with Allow, never Express's HTML page. */
const controlRoutes: Array<[RegExp, string]> = [
  [/^\/status$/, 'GET, HEAD'],
  [/^\/metrics$/, 'GET, HEAD'],
  [/^\/faults$/, 'GET, HEAD, POST'],
  [/^\/faults\/[^/]+$/, 'DELETE'],
  [/^\/kill$/, 'POST'],
  [/^\/shutdown$/, 'POST'],
];

export const controlFallbacks = {
  notFound(req: Request, res: Response) {
    const allow = controlRoutes.find(([path]) => path.test(req.path))?.[1];
    if (allow) return void res.status(405).set('allow', allow).json({ error: { code: 'method_not_allowed', message: `${req.method} ${req.path}: allowed ${allow}` } });
    res.status(404).json({ error: { code: 'route_not_found', message: `no route ${req.method} ${req.path}` } });
  },
  /** A body that is not JSON, or too large, is the client's fault (4xx); nothing else says more than that it failed. */
  onError: ((err: { type?: string; status?: number; message?: string }, _req, res, _next) => {
    if (err.type === 'entity.parse.failed') return void res.status(400).json({ error: { code: 'malformed_json', message: 'the body is not valid JSON' } });
    if (err.type === 'entity.too.large') return void res.status(413).json({ error: { code: 'body_too_large', message: 'the body is larger than 16 KiB' } });
    if (err.status && err.status >= 400 && err.status < 500) return void res.status(err.status).json({ error: { code: 'bad_request', message: err.message ?? 'bad request' } });
    res.status(500).json({ error: { code: 'internal_error', message: 'the supervisor failed to handle this request; see its log' } });
  }) as ErrorRequestHandler,
};
