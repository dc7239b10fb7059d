import type { Redis } from 'ioredis';
import type { Ack } from './k6.ts';

/** Jepsen-style: what clients saw acknowledged against what the shop completed. */
export interface LedgerCheck {
  /** Orders acknowledged to a client (201, or 200 for a replay). */
  accepted: number;
  /** Acknowledged orders that kitchen completed. */
  completed: number;
  /** Acknowledged, never completed within the drain timeout. */
  lost: number;
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
export function reconcile(acks: Ack[], completedIds: Set<string>, ledgerIdsForClient: Set<string>, redeliveredIds: Set<string>): LedgerCheck {
  const idsByKey = new Map<string, Set<string>>();
  for (const a of acks) idsByKey.set(a.key, (idsByKey.get(a.key) ?? new Set()).add(a.id));
  const acked = new Set(acks.map((a) => a.id));
  const lostIds = [...acked].filter((id) => !completedIds.has(id));
  return {
    accepted: acked.size,
    completed: acked.size - lostIds.length,
    lost: lostIds.length,
    duplicated: [...idsByKey.values()].filter((ids) => ids.size > 1).length,
    unexpected: [...ledgerIdsForClient].filter((id) => !acked.has(id)).length,
    recovered: new Set(acks.filter((a) => a.attempt > 0).map((a) => a.key)).size,
    redelivered: [...acked].filter((id) => redeliveredIds.has(id)).length,
    lostIds: lostIds.slice(0, 20),
  };
}

/**
 * Reads the ledger: waits up to `drainMs` for every acknowledged order to be completed, then reconciles.
 * Orders the drill's client placed in the ledger during the run, but never saw acknowledged, count as unexpected.
 */
export async function checkLedger(redis: Redis, acks: Ack[], opts: { client: string; since: number; drainMs: number }): Promise<LedgerCheck> {
  const ids = [...new Set(acks.map((a) => a.id))];
  const completed = async () => {
    const done = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const scores = await redis.zmscore('ledger:completed', ...chunk);
      chunk.forEach((id, j) => scores[j] !== null && done.add(id));
    }
    return done;
  };
  const deadline = Date.now() + opts.drainMs;
  let done = ids.length ? await completed() : new Set<string>();
  while (done.size < ids.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    done = await completed();
  }
  const placed = await redis.zrangebyscore('ledger:accepted', opts.since, '+inf');
  const clients = placed.length ? await Promise.all(placed.map((id) => redis.hget(`order:${id}`, 'client'))) : [];
  const mine = new Set(placed.filter((_, i) => clients[i] === opts.client));
  const redelivered = ids.length ? await redis.hmget('ledger:redeliveries', ...ids) : [];
  return reconcile(acks, done, mine, new Set(ids.filter((_, i) => redelivered[i] !== null)));
}
