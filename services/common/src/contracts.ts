// The shop's contracts: request shapes, error codes, the Kafka message and the Redis keys that the ledger reconciliation reads.
import { z } from 'zod';
import { ApiError } from './errors.ts';

export const limits = { maxLines: 20, maxQty: 50, bodyBytes: 16 * 1024 } as const;

export const sku = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'a sku is 1-40 lower-case letters, digits and dashes');

export const orderRequest = z.strictObject({
  items: z
    .array(z.strictObject({ sku, qty: z.number().int().min(1).max(limits.maxQty) }))
    .min(1, 'an order needs at least one item')
    .max(limits.maxLines, `an order has at most ${limits.maxLines} lines`),
});
export type OrderRequest = z.infer<typeof orderRequest>;

export const orderLine = z.object({ sku, name: z.string(), qty: z.number().int(), unitPriceCents: z.number().int() });
export type OrderLine = z.infer<typeof orderLine>;

export type OrderStatus = 'accepted' | 'completed';
export interface Order {
  id: string;
  status: OrderStatus;
  lines: OrderLine[];
  totalCents: number;
  createdAt: string;
  completedAt?: string;
}

/** What orders produces to `orders.placed`, keyed by order id. */
export interface OrderPlaced {
  id: string;
  lines: OrderLine[];
  totalCents: number;
  placedAt: string;
}

/** Set on an answer served from a fallback (the last good copy) because a dependency was unavailable. */
export const degradedHeader = 'X-Degraded';

export const topics = { ordersPlaced: 'orders.placed' } as const;

export const orderIdPattern = /^ord_[0-9a-f]{32}$/;
export const idempotencyKeyPattern = /^[\x21-\x7e]{8,128}$/;

/** Redis keys shared by orders, kitchen and the drill reconciliation. */
export const keys = {
  order: (id: string) => `order:${id}`,
  idempotency: (client: string, key: string) => `idem:${client}:${key}`,
  ledgerAccepted: 'ledger:accepted',
  ledgerCompleted: 'ledger:completed',
  ledgerRedeliveries: 'ledger:redeliveries',
  menu: 'catalog:menu',
} as const;

/** Every error code the API can answer with, for the OpenAPI document and the READMEs. */
export const errorCodes = {
  malformed_json: [400, 'the body is not valid JSON'],
  invalid_body: [400, 'the body does not match the order schema'],
  quantity_out_of_range: [400, `a quantity is not a whole number from 1 to ${limits.maxQty}`],
  missing_idempotency_key: [400, 'the Idempotency-Key header is missing'],
  invalid_idempotency_key: [400, 'the Idempotency-Key header is not 8-128 printable ASCII characters'],
  invalid_deadline: [400, 'the X-Request-Deadline header (set by the gateway for services behind it) is not a near-future time in epoch milliseconds'],
  missing_api_key: [401, 'the X-API-Key header is missing'],
  unknown_api_key: [401, 'the X-API-Key is not known'],
  order_not_found: [404, 'no order has that id'],
  route_not_found: [404, 'no such route'],
  method_not_allowed: [405, 'the path does not take this method; the Allow header lists those it takes'],
  idempotency_key_in_progress: [409, 'a request with the same Idempotency-Key is still being processed'],
  body_too_large: [413, `the body is larger than ${limits.bodyBytes} bytes`],
  unsupported_media_type: [415, 'the body is not sent as application/json'],
  unknown_sku: [422, 'an item names a sku that is not on the menu'],
  idempotency_key_reused: [422, 'the Idempotency-Key was used before with a different body'],
  rate_limited: [429, "the API key has used up its request rate; retry after the given delay"],
  over_client_share: [429, "the API key, sending over its rate limit (or no key), already holds its share of the gateway's request places (in progress and waiting); retry after the given delay"],
  dependency_unavailable: [503, 'a dependency of the shop is unavailable, or its circuit breaker is open; retry after the given delay'],
  overloaded: [503, 'the gateway is at its concurrency limit and its queue is full; retry after the given delay'],
  deadline_exceeded: [503, "the request's deadline passed before the work could start; it was dropped"],
  kitchen_backlogged: [503, "the kitchen's backlog (consumer lag) is over its limit; no new orders until it drains"],
  not_replicated: [503, 'the order is written, but no replica confirmed it in time, so it is not yet safe from a failover and not acknowledged; retry with the same Idempotency-Key'],
} as const satisfies Record<string, readonly [number, string]>;
export type ErrorCode = keyof typeof errorCodes;

export function apiError(code: ErrorCode, message: string = errorCodes[code][1], extra?: ConstructorParameters<typeof ApiError>[3]) {
  return new ApiError(errorCodes[code][0], code, message, extra);
}

export function parseOrderRequest(body: unknown): OrderRequest {
  const parsed = orderRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const qtyIssues = parsed.error.issues.filter((i) => i.path.at(-1) === 'qty');
  if (qtyIssues.length === parsed.error.issues.length) {
    const where = qtyIssues.map((i) => i.path.join('.')).join(', ');
    throw apiError('quantity_out_of_range', `${where} must be a whole number from 1 to ${limits.maxQty}`, { details });
  }
  throw apiError('invalid_body', `the body does not match the order schema: ${details.map((d) => `${d.path || '(root)'}: ${d.message}`).join('; ')}`, { details });
}

export function parseIdempotencyKey(value: string | undefined): string {
  if (value === undefined || value === '') throw apiError('missing_idempotency_key');
  if (!idempotencyKeyPattern.test(value)) throw apiError('invalid_idempotency_key');
  return value;
}
