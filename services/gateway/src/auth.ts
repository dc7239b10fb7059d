import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { apiError } from '@faultline/common';

/** `API_KEYS=name:key[,name:key]`: each client has a name (for metrics and idempotency scope) and a secret key. */
export const apiKeysSetting = z
  .string()
  .regex(/^[\w-]+:[\x21-\x2b\x2d-\x7e]{16,128}(,[\w-]+:[\x21-\x2b\x2d-\x7e]{16,128})*$/, 'expected name:key[,name:key], keys 16-128 printable characters without commas')
  .transform((s) => new Map(s.split(',').map((pair) => [pair.slice(pair.indexOf(':') + 1), pair.slice(0, pair.indexOf(':'))] as const)));

/** The client a presented key belongs to, compared in constant time; undefined for a missing or unknown key. */
export function clientOfKey(keys: Map<string, string>): (presented: string | undefined) => string | undefined {
  const known = [...keys.entries()].map(([key, client]) => ({ key: Buffer.from(key), client }));
  return (presented) => {
    if (!presented) return undefined;
    const candidate = Buffer.from(presented);
    return known.find((k) => k.key.length === candidate.length && timingSafeEqual(k.key, candidate))?.client;
  };
}

/** `clientOf` is the gateway's per-request lookup (clientOfKey behind a cache), so the key is compared once a request. */
export function authenticate(clientOf: (headers: IncomingHttpHeaders) => string | undefined): RequestHandler {
  return (req, res, next) => {
    if (!req.get('x-api-key')) return next(apiError('missing_api_key'));
    const client = clientOf(req.headers);
    if (!client) return next(apiError('unknown_api_key'));
    res.locals.client = client;
    next();
  };
}
