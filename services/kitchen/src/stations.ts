import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { bulkhead, isBulkheadRejectedError } from 'cockatiel';
import { Counter, Gauge, type Logger, type Registry } from '@faultline/common';

export interface StationsOptions {
  /** Orders prepared at once by this worker: in-flight work is bounded by this, never buffered. */
  stations: number;
  /** How long a partition stays paused after its order could not be completed (Redis unavailable). */
  retryAfterMs: number;
  registry: Registry;
  logger: Logger;
  /** false: no bound and no pausing; a failed order fails the batch, and kafkajs restarts the consumer. */
  enabled: boolean;
}

type Pausing = { resume: () => void; reason: 'stations_full' | 'dependency_failed' };

/**
 * The kitchen's batch loop. Each partition is worked in order; a cockatiel bulkhead bounds the orders in
 * progress across partitions. When every station is busy, or an order fails, the partition is paused rather
 * than buffered or retried in a tight loop, and resumed when a station frees or after `retryAfterMs`.
 * Its unprocessed messages are not resolved, so they are fetched again after the resume.
 */
export function createStations({ stations, retryAfterMs, registry, logger, enabled }: StationsOptions) {
  const slots = bulkhead(stations, 0);
  const paused = new Map<number, Pausing>();
  new Gauge({ name: 'kitchen_paused_partitions', help: 'Partitions this worker has paused.', registers: [registry], collect() { this.set(paused.size); } });
  new Gauge({ name: 'kitchen_orders_in_progress', help: 'Orders being prepared now.', registers: [registry], collect() { this.set(stations - slots.executionSlots); } });
  const pauses = new Counter({ name: 'kitchen_partition_pauses_total', help: 'Partition pauses by reason: stations_full or dependency_failed.', labelNames: ['reason'] as const, registers: [registry] });

  const resume = (partition: number) => {
    const p = paused.get(partition);
    if (!p) return;
    paused.delete(partition);
    p.resume();
  };
  const pause = (partition: number, payload: EachBatchPayload, reason: Pausing['reason']) => {
    if (paused.has(partition)) return;
    paused.set(partition, { resume: payload.pause(), reason });
    pauses.inc({ reason });
    // A station that frees resumes capacity pauses at once; this timer is the backstop, and the retry delay for failures.
    setTimeout(() => resume(partition), reason === 'stations_full' ? 250 : retryAfterMs).unref();
  };
  const resumeWaiting = () => {
    for (const [partition, p] of paused) if (p.reason === 'stations_full') resume(partition);
  };

  return {
    async eachBatch(payload: EachBatchPayload, prepare: (message: KafkaMessage) => Promise<void>) {
      const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        if (!enabled) {
          await prepare(message);
        } else {
          try {
            await slots.execute(async () => {
              try {
                await prepare(message);
              } finally {
                setImmediate(resumeWaiting); // once this station is free again
              }
            });
          } catch (err) {
            if (isBulkheadRejectedError(err)) {
              pause(batch.partition, payload, 'stations_full');
            } else {
              logger.warn({ err: (err as Error).message, partition: batch.partition, offset: message.offset }, 'order not completed; pausing its partition');
              pause(batch.partition, payload, 'dependency_failed');
            }
            break;
          }
        }
        resolveOffset(message.offset);
        await heartbeat();
      }
      await commitOffsetsIfNecessary();
    },
    /**
     * After a rebalance, pauses of partitions no longer ours are lifted, not just forgotten: kafkajs keeps a pause
     * across rebalances, so a partition given back to this worker later would otherwise stay paused, its orders never
     * cooked.
     */
    forget(assigned: number[]) {
      for (const partition of paused.keys()) if (!assigned.includes(partition)) resume(partition);
    },
  };
}
