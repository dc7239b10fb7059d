// The HA topology's Kafka: kafka-0, kafka-1 and kafka-2, each a KRaft broker and controller (see configs.ts). The
// supervisor reads, every 500 ms, which broker leads orders.placed and how many of its partitions are short of replicas.
import { Kafka, logLevel } from 'kafkajs';
import type { Ports } from './layout.ts';

export const ordersTopic = 'orders.placed';

/** A killed broker stays down this long, as a rescheduled pod would: past its 3 s session, so its partitions move. */
export const kafkaNodeRestartDelayMs = 5000;

export interface KafkaView {
  /** The node leading the topic's partition 0, which a pod-kill by role takes. */
  leader?: string;
  /** Each partition's leader (none while it has no leader). */
  leaders: Array<string | undefined>;
  /** Partitions whose in-sync replicas are fewer than their replicas. */
  underReplicated: number;
}

const nodeName = (id: number | undefined) => (id !== undefined && id >= 1 ? `kafka-${id - 1}` : undefined);

/** Reads the topic's metadata through any broker that answers (each one's own listener, not its proxy). */
export function kafkaViewReader(p: Ports): { read: () => Promise<KafkaView | undefined>; close: () => Promise<void> } {
  const admins = p.kafkaNodes.map((k) => new Kafka({ clientId: 'faultline-supervisor', brokers: [`127.0.0.1:${k.direct}`], logLevel: logLevel.NOTHING, connectionTimeout: 500, requestTimeout: 1000, retry: { retries: 0 } }).admin());
  return {
    async read() {
      for (const admin of admins) {
        await admin.connect().catch(() => undefined);
        const metadata = await admin.fetchTopicMetadata({ topics: [ordersTopic] }).catch(() => undefined);
        const partitions = metadata?.topics[0]?.partitions;
        if (!partitions?.length) continue;
        const leaders = [...partitions].sort((a, b) => a.partitionId - b.partitionId).map((q) => nodeName(q.leader));
        return { leader: leaders[0], leaders, underReplicated: partitions.filter((q) => q.isr.length < q.replicas.length).length };
      }
      return undefined;
    },
    close: async () => void (await Promise.all(admins.map((a) => a.disconnect().catch(() => undefined)))),
  };
}
