import type { RequestHandler } from 'express';
import { apiError } from '@faultline/common';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * 405 with `Allow` for a path the OpenAPI document declares under other methods, as HTTP asks; a path it does not
 * declare falls through to 404. Derived from the document, so the answer and the contract cannot drift apart.
 */
export function methodNotAllowed(paths: Record<string, Record<string, unknown>>): RequestHandler {
  const routes = Object.entries(paths).map(([template, operations]) => {
    const methods = Object.keys(operations).map((m) => m.toUpperCase());
    return {
      pattern: new RegExp(`^${template.split(/\{[^}]+\}/).map(escapeRegExp).join('[^/]+')}$`),
      allow: [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', '),
    };
  });
  return (req, res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route) return next();
    res.set('Allow', route.allow);
    next(apiError('method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${route.allow}`));
  };
}
