import type { RequestHandler } from 'express';
import { Counter, type Registry } from '@faultline/common';

/** Counts each authenticated request by client and final status, so a drill can show what one client got while another floods. */
export function countClientRequests(registry: Registry): RequestHandler {
  const requests = new Counter({
    name: 'client_requests_total',
    help: 'Requests on the keyed routes per API client, by response status (429 included; admission control sheds before the client is known).',
    labelNames: ['client', 'status_code'] as const,
    registers: [registry],
  });
  return (_req, res, next) => {
    res.once('finish', () => requests.inc({ client: String(res.locals.client), status_code: String(res.statusCode) }));
    next();
  };
}
