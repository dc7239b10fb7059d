import { z } from 'zod';
import { errorCodes, idempotencyKeyPattern, limits, orderLine, orderRequest } from '@faultline/common';

const error = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: Object.keys(errorCodes) }, message: { type: 'string' }, details: {} },
    },
  },
};

const rateLimitHeaders = {
  'RateLimit-Limit': { description: "the key's bucket size", schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'requests left in the bucket now', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'seconds until the bucket is full again', schema: { type: 'integer' } },
  'RateLimit-Policy': { description: '`<burst>;w=<seconds>`', schema: { type: 'string' } },
};
const retryAfter = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } } };
/** Headers that come with a refusal: when to try again, and with a rate-limit refusal the key's bucket. */
const refusalHeaders: Record<number, object> = { 429: { ...retryAfter, ...rateLimitHeaders }, 503: retryAfter };

const errorResponses = (...codes: (keyof typeof errorCodes)[]) => {
  const byStatus = new Map<number, (keyof typeof errorCodes)[]>();
  for (const code of codes) byStatus.set(errorCodes[code][0], [...(byStatus.get(errorCodes[code][0]) ?? []), code]);
  return Object.fromEntries(
    [...byStatus].map(([status, cs]) => [
      String(status),
      {
        description: cs.map((c) => `\`${c}\`: ${errorCodes[c][1]}`).join('; '),
        ...(refusalHeaders[status] ? { headers: refusalHeaders[status] } : {}),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    ]),
  );
};

/** From an acknowledged order to reading it: the id in the answer is the path's id. */
const orderLink = { operationId: 'getOrder', parameters: { id: '$response.body#/id' }, description: 'the order just placed, by its id' };
const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const apiKey = [{ apiKey: [] }];

/** The gateway's public API as an OpenAPI 3.1 document, with request schemas generated from the same zod schemas that validate. */
export const openapi = {
  openapi: '3.1.0',
  info: { title: 'faultline shop', version: '0.1.0', description: 'The order shop that faultline drills run against.' },
  components: {
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    schemas: {
      Error: error,
      OrderRequest: z.toJSONSchema(orderRequest),
      OrderLine: z.toJSONSchema(orderLine),
      OrderAck: { type: 'object', required: ['id', 'status'], properties: { id: { type: 'string' }, status: { type: 'string', enum: ['accepted', 'completed'] }, totalCents: { type: 'integer' } } },
      Order: {
        type: 'object',
        required: ['id', 'status', 'lines', 'totalCents', 'createdAt'],
        properties: {
          id: { type: 'string' },
          status: { type: 'string', enum: ['accepted', 'completed'] },
          lines: { type: 'array', items: { $ref: '#/components/schemas/OrderLine' } },
          totalCents: { type: 'integer' },
          createdAt: { type: 'string', format: 'date-time' },
          completedAt: { type: 'string', format: 'date-time' },
        },
      },
      Menu: {
        type: 'object',
        properties: { items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, name: { type: 'string' }, priceCents: { type: 'integer' } } } } },
      },
    },
  },
  paths: {
    '/api/menu': {
      get: {
        operationId: 'getMenu',
        summary: 'The menu with prices',
        responses: {
          '200': {
            description: 'the menu; while the catalog is unavailable, the last good copy, marked degraded',
            headers: {
              'X-Degraded': { description: '`catalog-unavailable` when this is the last good copy rather than a fresh answer', schema: { type: 'string' } },
              Age: { description: 'with X-Degraded: seconds since the copy was fresh', schema: { type: 'integer' } },
            },
            ...json('Menu'),
          },
          ...errorResponses('over_client_share', 'overloaded', 'deadline_exceeded', 'dependency_unavailable'),
        },
      },
    },
    '/api/orders': {
      post: {
        operationId: 'placeOrder',
        summary: 'Place an order',
        security: apiKey,
        parameters: [{ name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string', pattern: idempotencyKeyPattern.source }, description: 'A replay of the same key returns the first order with 200 and creates nothing.' }],
        requestBody: { required: true, description: `at most ${limits.bodyBytes} bytes`, ...json('OrderRequest') },
        responses: {
          '201': { description: 'the order was accepted', headers: rateLimitHeaders, ...json('OrderAck'), links: { getOrder: orderLink } },
          '200': { description: 'a replay of an Idempotency-Key: the first order, nothing created', ...json('OrderAck'), links: { getOrder: orderLink } },
          ...errorResponses(
            'malformed_json',
            'invalid_body',
            'quantity_out_of_range',
            'missing_idempotency_key',
            'invalid_idempotency_key',
            'missing_api_key',
            'unknown_api_key',
            'idempotency_key_in_progress',
            'body_too_large',
            'unsupported_media_type',
            'unknown_sku',
            'idempotency_key_reused',
            'rate_limited',
            'over_client_share',
            'overloaded',
            'deadline_exceeded',
            'kitchen_backlogged',
            'not_replicated',
            'dependency_unavailable',
          ),
        },
      },
    },
    '/api/orders/{id}': {
      get: {
        operationId: 'getOrder',
        summary: 'An order and its status: accepted, then completed',
        security: apiKey,
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the order', ...json('Order') }, ...errorResponses('missing_api_key', 'unknown_api_key', 'order_not_found', 'rate_limited', 'over_client_share', 'overloaded', 'deadline_exceeded', 'dependency_unavailable') },
      },
    },
    '/api/openapi.json': { get: { operationId: 'getOpenApi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
  },
} as const;
