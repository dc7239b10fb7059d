import { keys, redisSettings } from '@faultline/common';
import { Redis } from 'ioredis';
import type { Ack } from './k6.ts';

/** Jepsen-style: what clients saw acknowledged against what the shop completed. */
export interface LedgerCheck {
  /** Orders acknowledged to a client (201, or 200 for a replay). */
  accepted: number;
  /** Acknowledged orders that kitchen completed. */
  completed: number;
  /** Acknowledged, then never completed within the drain timeout, or gone from the shop's records (a write a failover lost). */
  lost: number;
  /** Of the lost: acknowledged orders whose record (written by orders) the shop no longer has. */
  unrecorded: number;
  /** One Idempotency-Key acknowledged with more than one order id. */
  duplicated: number;
  /** Orders in the shop's ledger for the drill's client that no client saw acknowledged (e.g. a produce that timed out yet landed). */
  unexpected: number;
  /** Acknowledged after at least one refused attempt with the same key. */
  recovered: number;
  /** Completed orders that kitchen was handed more than once, with no second effect. */
  redelivered: number;
  lostIds: string[];
}

/** The pure part: compares acknowledgements with the ledger's sets. */
export function reconcile(acks: Ack[], completedIds: Set<string>, ledgerIdsForClient: Set<string>, redeliveredIds: Set<string>, recordedIds: Set<string>): LedgerCheck {
  const idsByKey = new Map<string, Set<string>>();
  for (const a of acks) idsByKey.set(a.key, (idsByKey.get(a.key) ?? new Set()).add(a.id));
  const acked = new Set(acks.map((a) => a.id));
  const unrecorded = [...acked].filter((id) => !recordedIds.has(id));
  const lostIds = [...acked].filter((id) => !completedIds.has(id) || !recordedIds.has(id));
  return {
    accepted: acked.size,
    completed: [...acked].filter((id) => completedIds.has(id)).length,
    lost: lostIds.length,
    unrecorded: unrecorded.length,
    duplicated: [...idsByKey.values()].filter((ids) => ids.size > 1).length,
    unexpected: [...ledgerIdsForClient].filter((id) => !acked.has(id)).length,
    recovered: new Set(acks.filter((a) => a.attempt > 0).map((a) => a.key)).size,
    redelivered: [...acked].filter((id) => redeliveredIds.has(id)).length,
    lostIds: lostIds.slice(0, 20),
  };
}

/** Where the shop's ledger is read from: its Redis, on every platform (redisLedger), or a fake in tests. */
export interface LedgerReader {
  /** Which of these orders kitchen has completed. */
  completed(ids: string[]): Promise<Set<string>>;
  /** Orders the shop accepted since `since` (epoch ms) from one of these clients. */
  acceptedSince(since: number, clients: string[]): Promise<Set<string>>;
  /** Which of these orders kitchen was handed more than once. */
  redelivered(ids: string[]): Promise<Set<string>>;
  /** Which of these orders the shop still has a record of, as orders wrote it. */
  recorded(ids: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

/** The ledger in the shop's Redis (its primary, found through Sentinel where there is one), with the keys from the shop's contracts. */
export function redisLedger(where: { url: string } | { sentinels: string; master?: string; password?: string }): LedgerReader {
  const options = { lazyConnect: true, maxRetriesPerRequest: 2 };
  const redis =
    'url' in where
      ? new Redis(where.url, options)
      : new Redis({ ...options, name: where.master ?? 'faultline', sentinels: redisSettings.REDIS_SENTINELS.parse(where.sentinels), password: where.password, sentinelPassword: where.password });
  const connected = redis.connect();
  const inChunks = async (ids: string[], read: (chunk: string[]) => Promise<Array<unknown>>) => {
    await connected;
    const found = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const values = await read(chunk);
      chunk.forEach((id, j) => values[j] !== null && found.add(id));
    }
    return found;
  };
  return {
    completed: (ids) => inChunks(ids, (chunk) => redis.zmscore(keys.ledgerCompleted, ...chunk)),
    redelivered: (ids) => inChunks(ids, (chunk) => redis.hmget(keys.ledgerRedeliveries, ...chunk)),
    // createdAt is written by orders alone (kitchen's completion writes status): a record kitchen recreated does not count.
    recorded: (ids) => inChunks(ids, async (chunk) => (await redis.pipeline(chunk.map((id) => ['hget', keys.order(id), 'createdAt'])).exec())!.map(([, v]) => v)),
    async acceptedSince(since, clients) {
      await connected;
      const placed = await redis.zrangebyscore(keys.ledgerAccepted, since, '+inf');
      const owners = placed.length ? await Promise.all(placed.map((id) => redis.hget(keys.order(id), 'client'))) : [];
      return new Set(placed.filter((_, i) => clients.includes(owners[i] ?? '')));
    },
    async close() {
      await connected.catch(() => undefined);
      redis.disconnect();
    },
  };
}

/**
 * Reads the ledger: waits up to `drainMs` for every acknowledged order to be completed, then reconciles.
 * Orders the drill's clients placed in the ledger during the run, but never saw acknowledged, count as unexpected.
 */
export async function checkLedger(ledger: LedgerReader, acks: Ack[], opts: { clients: string[]; since: number; drainMs: number }): Promise<LedgerCheck> {
  const ids = [...new Set(acks.map((a) => a.id))];
  const deadline = Date.now() + opts.drainMs;
  let done = await ledger.completed(ids);
  while (done.size < ids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    done = await ledger.completed(ids);
  }
  return reconcile(acks, done, await ledger.acceptedSince(opts.since, opts.clients), await ledger.redelivered(ids), await ledger.recorded(ids));
}
