import type { Admin, Kafka } from 'kafkajs';
import { Gauge, apiError, resilienceMetrics, type Logger, type Registry } from '@faultline/common';

export interface BacklogOptions {
  kafka: Kafka;
  group: string;
  topic: string;
  /** Above this many unprocessed orders, new orders are refused. */
  limit: number;
  pollMs: number;
  registry: Registry;
  logger: Logger;
  /** false: lag is still measured and exported, but never refuses an order. */
  enabled: boolean;
}

/**
 * End-to-end back pressure: kitchen's consumer lag, read from Kafka (log-end offsets minus the group's committed
 * offsets) every `pollMs`. While it is over the limit, new orders get 503 kitchen_backlogged. A reading older
 * than a few polls is not trusted either way; the Kafka breaker guards the produce path itself.
 */
export function watchKitchenBacklog({ kafka, group, topic, limit, pollMs, registry, logger, enabled }: BacklogOptions) {
  const shed = resilienceMetrics(registry).shed;
  const lagGauge = new Gauge({ name: 'kafka_consumergroup_lag', help: 'Messages not yet processed by a consumer group, per partition.', labelNames: ['consumergroup', 'topic', 'partition'] as const, registers: [registry] });
  // kafka-exporter's name: members of the group as its coordinator lists them, which drop when a session expires.
  const membersGauge = new Gauge({ name: 'kafka_consumergroup_members', help: 'Members of a consumer group, as its coordinator lists them.', labelNames: ['consumergroup'] as const, registers: [registry] });
  new Gauge({ name: 'orders_backlog_limit', help: 'Consumer lag above which new orders are refused (0: back pressure off).', registers: [registry] }).set(enabled ? limit : 0);
  let admin: Admin | undefined;
  let reading: { total: number; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let warned = false;
  let closed = false;

  async function poll() {
    try {
      admin ??= kafka.admin();
      await admin.connect();
      const [ends, committed, described] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId: group, topics: [topic] }), admin.describeGroups([group])]);
      membersGauge.set({ consumergroup: group }, described.groups[0]?.members.length ?? 0);
      const done = new Map(committed[0]?.partitions.map((p) => [p.partition, Number(p.offset)]) ?? []);
      let total = 0;
      for (const end of ends) {
        const from = Math.max(Number(end.low), done.get(end.partition) ?? -1);
        const lag = Math.max(0, Number(end.high) - from);
        lagGauge.set({ consumergroup: group, topic, partition: String(end.partition) }, lag);
        total += lag;
      }
      reading = { total, at: Date.now() };
      warned = false;
    } catch (err) {
      if (!warned) logger.warn({ err: (err as Error).message }, 'cannot read kitchen lag');
      warned = true;
    } finally {
      if (!closed) timer = setTimeout(() => void poll(), pollMs).unref();
    }
  }
  void poll();

  return {
    /** Throws 503 kitchen_backlogged while the backlog is over the limit. */
    admit() {
      if (!enabled || !reading || Date.now() - reading.at > 5 * pollMs) return;
      if (reading.total <= limit) return;
      shed.inc({ reason: 'kitchen_lag' });
      throw apiError('kitchen_backlogged', `the kitchen is ${reading.total} orders behind (limit ${limit}); no new orders until it catches up`, { retryAfterSeconds: 2 });
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await admin?.disconnect();
    },
  };
}
