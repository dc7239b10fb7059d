import type { Redis } from 'ioredis';
import { keys, type OrderPlaced } from '@faultline/common';

// One round trip that completes an order at most once: the ledger entry decides whether this delivery has an effect.
const completeScript = `
if redis.call('ZADD', KEYS[2], 'NX', ARGV[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completedAt', ARGV[3], 'completedBy', ARGV[4])
  return 1
end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return 0`;

export type Completion = 'completed' | 'redelivery';

/** `durable` resolves once the completion is safe from a failover (see replicationWait); until then the delivery is not done. */
export function createKitchen(redis: Redis, worker: string, durable: () => Promise<void> = async () => undefined) {
  redis.defineCommand('completeOrder', { numberOfKeys: 3, lua: completeScript });
  return {
    async complete(order: OrderPlaced): Promise<Completion> {
      const now = new Date();
      const first = await (redis as Redis & { completeOrder: (...args: (string | number)[]) => Promise<number> }).completeOrder(
        keys.order(order.id),
        keys.ledgerCompleted,
        keys.ledgerRedeliveries,
        now.getTime(),
        order.id,
        now.toISOString(),
        worker,
      );
      await durable(); // a redelivery too: the first completion may not have reached a replica yet
      return first === 1 ? 'completed' : 'redelivery';
    },
  };
}
