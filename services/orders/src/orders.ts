import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { apiError, keys, orderIdPattern, type Order, type OrderLine, type OrderPlaced, type OrderRequest } from '@faultline/common';

export interface Quote {
  lines: OrderLine[];
  totalCents: number;
}

export interface OrderDeps {
  redis: Redis;
  /** Prices the order with the catalog; throws 422 for an unknown sku, 503 if the catalog is unavailable. */
  quote: (request: OrderRequest, deadline?: number) => Promise<Quote>;
  /** Appends the order to the order log (Kafka); throws 503 if it cannot. */
  publish: (message: OrderPlaced, deadline?: number) => Promise<void>;
  /** Throws 503 when a new order must be refused (back pressure). */
  admit: () => void;
  /** Resolves once what this connection wrote is safe from a failover (copied to the replicas asked for); throws 503 not_replicated otherwise. */
  durable?: () => Promise<void>;
  /** How long an Idempotency-Key stays claimed while its first request is in flight. */
  claimTtlMs?: number;
  /** How long a finished Idempotency-Key is remembered. */
  keyTtlSeconds?: number;
}

type KeyRecord = { state: 'pending'; hash: string } | { state: 'done'; hash: string; orderId: string };

export type PlaceResult = { replayed: boolean; order: Order };

const fingerprint = (request: OrderRequest) => createHash('sha256').update(JSON.stringify(request.items)).digest('hex');

export function createOrderService({ redis, quote, publish, admit, durable = async () => undefined, claimTtlMs = 30_000, keyTtlSeconds = 86_400 }: OrderDeps) {
  async function get(id: string): Promise<Order | undefined> {
    if (!orderIdPattern.test(id)) return undefined;
    const raw = await redis.hgetall(keys.order(id));
    if (!raw.status) return undefined;
    return {
      id,
      status: raw.status as Order['status'],
      lines: JSON.parse(raw.lines ?? '[]') as OrderLine[],
      totalCents: Number(raw.totalCents),
      createdAt: raw.createdAt ?? '',
      ...(raw.completedAt ? { completedAt: raw.completedAt } : {}),
    };
  }

  async function replay(record: KeyRecord, hash: string): Promise<PlaceResult> {
    if (record.hash !== hash) throw apiError('idempotency_key_reused');
    if (record.state === 'pending') throw apiError('idempotency_key_in_progress', undefined, { retryAfterSeconds: 1 });
    const order = await get(record.orderId);
    if (!order) throw new Error(`idempotency key points at missing order ${record.orderId}`);
    await durable(); // the first answer may have been not_replicated: acknowledge only what is safe now
    return { replayed: true, order };
  }

  /**
   * Claims the key, checks back pressure, prices, produces, then commits the order and the ledger entry in one MULTI.
   * Producing before committing means a Kafka failure writes nothing; a claim that fails is released.
   * A committed order is acknowledged only once durable; if that times out, its key is kept, so a retry replays it.
   * A replay is answered even under back pressure: it is not a new order.
   */
  async function place(client: string, idempotencyKey: string, request: OrderRequest, deadline?: number): Promise<PlaceResult> {
    const key = keys.idempotency(client, idempotencyKey);
    const hash = fingerprint(request);
    const claimed = await redis.set(key, JSON.stringify({ state: 'pending', hash } satisfies KeyRecord), 'PX', claimTtlMs, 'NX');
    if (claimed !== 'OK') {
      const existing = await redis.get(key);
      if (existing) return replay(JSON.parse(existing) as KeyRecord, hash);
      return place(client, idempotencyKey, request, deadline); // the claim expired between SET and GET
    }
    let placed: Order;
    try {
      admit();
      const { lines, totalCents } = await quote(request, deadline);
      const id = `ord_${randomUUID().replaceAll('-', '')}`;
      const createdAt = new Date().toISOString();
      const message: OrderPlaced = { id, lines, totalCents, placedAt: createdAt };
      await publish(message, deadline);
      await redis
        .multi()
        .hset(keys.order(id), { lines: JSON.stringify(lines), totalCents, createdAt, client })
        .hsetnx(keys.order(id), 'status', 'accepted') // kitchen may already have completed it
        .set(key, JSON.stringify({ state: 'done', hash, orderId: id } satisfies KeyRecord), 'EX', keyTtlSeconds)
        .zadd(keys.ledgerAccepted, Date.now(), id)
        .exec();
      placed = { id, status: 'accepted', lines, totalCents, createdAt };
    } catch (err) {
      await redis.del(key).catch(() => undefined);
      throw err;
    }
    await durable();
    return { replayed: false, order: (await get(placed.id)) ?? placed };
  }

  return { place, get };
}
