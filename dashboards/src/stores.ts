// The stores' own failover, on the local runtime's HA topology (faultline up --topology ha): who leads, whether the
// copies keep up, and when leadership moves. The series come from the supervisor, which reads the Sentinels, the Redis
// primary's replication and Kafka's metadata every 500 ms; the chart has no HA profile yet, so on a cluster this
// dashboard has no data.
import { faultlineDashboard, row, statPanel, stepsPanel, thresholds, timeseriesPanel, units } from './common.ts';

/** Which node holds a role now: one line per node, 1 while it holds it; a failover is one line falling as another rises. */
const roleHolder = (title: string, metric: string, description: string) =>
  stepsPanel(title, units.Short, { expr: `max by (node) (${metric})`, legend: '{{node}}' })
    .description(description)
    .min(0)
    .max(1)
    .decimals(0);

const redisPrimary = () => roleHolder('Redis primary, as the Sentinels name it', 'faultline_redis_primary', 'The node most Sentinels name primary.');

const sentinelsAgreeing = () =>
  statPanel('Sentinels naming that primary', units.Short, { expr: 'max(faultline_redis_sentinels_agreeing)', legend: 'Sentinels' })
    .description('Of the three Sentinels, how many name the primary the most of them name: under 2 (the quorum), none can fail over.')
    .thresholds(thresholds(['red', null], ['orange', 2], ['green', 3]));

const redisFailovers = () =>
  statPanel('Redis failovers', units.Short, { expr: 'sum(faultline_redis_failovers_total)', legend: 'failovers' })
    .description('Times the Sentinels named another primary since the stack started.')
    .thresholds(thresholds(['green', null], ['orange', 1]));

const replicationLag = () =>
  timeseriesPanel('Redis replication lag', units.BytesIEC, { expr: 'max by (node) (faultline_redis_replication_lag_bytes)', legend: '{{node}}' })
    .description("How far each connected replica's copy is behind the primary's replication stream. An acknowledgement waits for one replica at 0 (WAIT 1); a replica missing here is not connected.")
    .min(0);

const kafkaLeader = () =>
  roleHolder('Kafka leader of orders.placed partition 0', 'faultline_kafka_leader', 'The broker leading partition 0, which pod-kill by role takes. Leadership moves when the controller fences a dead broker.');

const kafkaLeaderChanges = () =>
  statPanel('Kafka leader changes', units.Short, { expr: 'sum(faultline_kafka_leader_changes_total)', legend: 'changes' })
    .description('Times another broker took the lead of orders.placed partition 0 since the stack started.')
    .thresholds(thresholds(['green', null], ['orange', 1]));

const kafkaPartitions = () =>
  stepsPanel(
    'Kafka partitions at risk',
    units.Short,
    { expr: 'max(faultline_kafka_under_replicated_partitions)', legend: 'under-replicated (fewer in-sync copies than copies)' },
    { expr: 'max(faultline_kafka_leaderless_partitions)', legend: 'led by a broker that is down' },
  )
    .description('Partitions of orders.placed short of an in-sync copy (acks=all needs two of three), and partitions whose leader is down: produce to them waits until the controller moves the lead.')
    .min(0)
    .decimals(0);

export const storesView = () =>
  faultlineDashboard('faultline-stores', 'faultline / Stores (HA topology)')
    .description('Redis and Kafka failover on the local HA topology: leaders, agreement, replication and leader changes.')
    .withRow(row('Redis'))
    .withPanel(redisPrimary().span(12))
    .withPanel(sentinelsAgreeing().span(6).height(8))
    .withPanel(redisFailovers().span(6).height(8))
    .withPanel(replicationLag().span(24))
    .withRow(row('Kafka'))
    .withPanel(kafkaLeader().span(12))
    .withPanel(kafkaLeaderChanges().span(12).height(8))
    .withPanel(kafkaPartitions().span(24));
