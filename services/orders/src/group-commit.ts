import type { Message, Producer } from 'kafkajs';

/**
 * Publishes to one topic in group commits: a message goes in the next produce request to leave, and while one is in
 * flight, the messages that come meanwhile wait and then go together. Hand-written: kafkajs makes every send() a
 * request of its own, and its idempotent producer has one request in flight per broker, so concurrent orders would
 * each wait a whole round trip in line. A message whose caller gave up (its signal aborted) before it left is not sent.
 */
export function groupCommit(producer: Pick<Producer, 'send'>, topic: string, maxBatch = 500) {
  const waiting: Array<{ message: Message; signal?: AbortSignal; settle: (err?: Error) => void }> = [];
  let sending = false;
  const drain = async () => {
    sending = true;
    while (waiting.length) {
      const batch: typeof waiting = [];
      for (const w of waiting.splice(0, maxBatch)) {
        if (w.signal?.aborted) w.settle(w.signal.reason as Error); // its caller gave up: never written
        else batch.push(w);
      }
      if (!batch.length) continue;
      try {
        await producer.send({ topic, acks: -1, messages: batch.map((w) => w.message) });
        for (const w of batch) w.settle();
      } catch (err) {
        for (const w of batch) w.settle(err as Error);
      }
    }
    sending = false;
  };
  return (message: Message, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ message, signal, settle: (err) => (err ? reject(err) : resolve()) });
      if (!sending) void drain();
    });
}
