import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type Message, type PartitionMetadata, type Producer, type ProducerConfig } from 'kafkajs';

/**
 * The order log's producer: idempotent, so acks come from all in-sync replicas and a retried request is written once.
 * kafkajs retries a request only briefly (it warns that this may break the idempotence): the group commit's line
 * sends a failed request again, whole and alone, which keeps it (see below), and a fresh send() is not held by a dead
 * broker the way kafkajs's own retries of one are.
 */
export const orderLogProducer: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  retry: { initialRetryTime: 100, maxRetryTime: 500, retries: 2 },
  createPartitioner: Partitioners.DefaultPartitioner,
};

export interface GroupCommitOptions {
  /** How many partitions the topic has, read once (and again after a failure to read it). */
  partitions: () => Promise<number>;
  maxBatch?: number;
  /** The pause before a failed request is sent again. */
  retryMs?: number;
  onRetry?: (partition: number, attempt: number, err: Error) => void;
}

interface Waiter {
  message: Message;
  signal?: AbortSignal;
  settle: (err?: Error) => void;
  leave: () => void;
}

/**
 * Publishes to one topic in group commits, a line per partition: a message goes in its partition's next produce
 * request, and while one is in flight, the messages that come meanwhile wait and then go together. Hand-written:
 * kafkajs makes every send() a request of its own, and its idempotent producer has one request in flight per broker,
 * so concurrent orders would each wait a whole round trip in line.
 *
 * A line's request goes to one partition, and a failed one is sent again, the same messages, until it is written, and
 * only then the next. kafkajs rolls a failed request's sequence numbers back: sending other orders under them would
 * let the broker, which may have written the first request after all, take them for a duplicate and acknowledge
 * them unwritten. And a request spanning partitions on several brokers, when one broker dies and another already
 * answered, is retried by kafkajs without the dead broker's part, yet reported written. Both lost acknowledged orders
 * in the Kafka leader failover drill. The callers of a failed request are told at once; if it is written later,
 * those orders were never acknowledged. A message whose caller gave up before its request left leaves the line and is
 * never sent.
 */
export function groupCommit(producer: Pick<Producer, 'send'>, topic: string, { partitions, maxBatch = 500, retryMs = 250, onRetry }: GroupCommitOptions) {
  const partitioner = Partitioners.DefaultPartitioner();
  // The topic's partitions as kafkajs's partitioner reads them (only their count matters for a keyed message), made once.
  let metadata: Promise<PartitionMetadata[]> | undefined;
  const partitionOf = async (message: Message) => {
    metadata ??= partitions().then(
      (n) => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [], isr: [], partitionErrorCode: 0 })),
      (err: Error) => {
        metadata = undefined;
        throw err;
      },
    );
    // kafkajs's own choice for a keyed message, so the order log is spread as it always was.
    return partitioner({ topic, message, partitionMetadata: await metadata });
  };
  const lines = new Map<number, { waiting: Waiter[]; sending: boolean }>();
  const drain = async (partition: number) => {
    const line = lines.get(partition)!;
    line.sending = true;
    while (line.waiting.length) {
      const batch = line.waiting.splice(0, maxBatch);
      for (const w of batch) w.signal?.removeEventListener('abort', w.leave);
      const messages = batch.map((w) => ({ ...w.message, partition }));
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({ topic, acks: -1, messages });
          for (const w of batch) w.settle();
          break;
        } catch (err) {
          for (const w of batch) w.settle(err as Error);
          onRetry?.(partition, attempt, err as Error);
          await sleep(retryMs);
        }
      }
    }
    line.sending = false;
  };
  return async (message: Message, signal?: AbortSignal) => {
    const partition = await partitionOf(message);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      let line = lines.get(partition);
      if (!line) lines.set(partition, (line = { waiting: [], sending: false }));
      const waiting = line.waiting;
      let settled = false;
      const waiter: Waiter = {
        message,
        signal,
        settle: (err) => {
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve();
        },
        // Its caller gave up before its request left: out of the line, never written.
        leave: () => {
          waiting.splice(waiting.indexOf(waiter), 1);
          waiter.settle(signal!.reason as Error);
        },
      };
      signal?.addEventListener('abort', waiter.leave, { once: true });
      waiting.push(waiter);
      if (!line.sending) void drain(partition);
    });
  };
}
