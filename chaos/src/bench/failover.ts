// Phase 5: failover on the HA topology, over repeated trials. Kill the Redis primary, then the Kafka broker leading
// orders.placed, each under a steady stream of orders, and time the store's own election (Sentinel names another
// primary; partition 0 has another leader) and the shop serving again (see servingAgainMs).
import { Kafka, logLevel } from 'kafkajs';
import { sentinelMaster } from '../platforms/local/redis-ha.ts';
import { portsFor, type StackAddress } from '../platforms/local/layout.ts';
import { ordersTopic } from '../platforms/local/kafka-ha.ts';
import { supervisorApi } from '../platforms/local/platform.ts';
import { fetchStatus } from '../platforms/local/runtime.ts';
import { readSecret } from '../platforms/local/stack-secrets.ts';
import { Redis } from 'ioredis';
import { distribution, servingAgainMs, type Answered, type Distribution } from './stats.ts';
import { sleep } from './step.ts';
import { order, pace, waitUntil, type OrderTarget } from './timings.ts';

export interface FailoverResult {
  trials: number;
  /** Redis primary killed → the Sentinels name another primary. */
  redisPromotedMs: Distribution;
  /** Redis primary killed → orders acknowledged again, promptly and without a refusal after. */
  redisServingMs: Distribution;
  /** Kafka leader killed → partition 0 of orders.placed has another leader. */
  kafkaElectedMs: Distribution;
  /** Kafka leader killed → orders acknowledged again, promptly and without a refusal after. */
  kafkaServingMs: Distribution;
  notes: string[];
}

/** An answer slower than this counts as not yet serving: the shop's deadline is longer, a client's patience is not. */
const promptMs = 1000;

export async function measureFailover(stack: StackAddress, shop: OrderTarget, trials: number, orderRps: number, print: (l: string) => void): Promise<FailoverResult> {
  const p = portsFor(stack.portBase);
  const platform = supervisorApi(stack);
  // Its commands' failures are caught where they are read; a connection error (the stack stopping) is not news.
  const sentinel = new Redis(p.sentinels[0]!, '127.0.0.1', { password: readSecret(stack.stateDir, 'redis-password'), maxRetriesPerRequest: 1 }).on('error', () => undefined);
  const admin = new Kafka({ clientId: 'faultline-bench', brokers: p.kafkaNodes.map((k) => `127.0.0.1:${k.direct}`), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const primary = async () => ((await sentinel.call('SENTINEL', 'get-master-addr-by-name', sentinelMaster).catch(() => null)) as [string, string] | null)?.[1];
  const leader = async () => (await admin.fetchTopicMetadata({ topics: [ordersTopic] }).catch(() => undefined))?.topics[0]?.partitions.find((q) => q.partitionId === 0)?.leader;
  type Status = NonNullable<Awaited<ReturnType<typeof fetchStatus>>>;
  const roleHolder = (status: Status | undefined, role: string) => status?.components.find((c) => 'role' in c && c.role === role)?.name;
  // Every node back and ready, with a primary and a leader named: a trial starts from a whole topology.
  const whole = () =>
    waitUntil(async () => {
      const status = await fetchStatus(stack);
      return status?.components.every((c) => c.health === 'ready') && roleHolder(status, 'primary') && roleHolder(status, 'leader') ? status : undefined;
    }, 90_000, 500);
  const results = { redisPromoted: [] as number[], redisServing: [] as number[], kafkaElected: [] as number[], kafkaServing: [] as number[] };
  const notes: string[] = [];

  const trial = async (i: number, what: 'redis' | 'kafka') => {
    const status = await whole();
    if (!status) return void notes.push(`trial ${i}: the HA topology was not whole within 90 s; ${what} skipped`);
    const victim = roleHolder(status, what === 'redis' ? 'primary' : 'leader')!;
    const before = what === 'redis' ? await primary() : await leader();
    const answers: Answered[] = [];
    const stop = pace(orderRps, 40_000, async () => {
      const r = await order(shop);
      answers.push({ sentAt: r.at - r.ms, at: r.at, ok: r.status === 201 || r.status === 200 });
    });
    await sleep(2000);
    const [killed] = await platform.kill([victim]);
    const killAt = Date.parse(killed!.killedAt);
    const changedAt = await waitUntil(async () => {
      const now = what === 'redis' ? await primary() : await leader();
      return now !== undefined && now !== before && (what === 'redis' || (now as number) >= 0) ? Date.now() : undefined;
    }, 30_000, 50);
    await sleep(12_000); // room for refusals after the election, which push serving-again later
    stop();
    await sleep(1000);
    const serving = servingAgainMs(answers, killAt, promptMs);
    const [elected, served] = what === 'redis' ? [results.redisPromoted, results.redisServing] : [results.kafkaElected, results.kafkaServing];
    if (changedAt !== undefined) elected.push(changedAt - killAt);
    else notes.push(`trial ${i}: ${what}: no new ${what === 'redis' ? 'primary' : 'leader'} within 30 s of killing ${victim}`);
    if (serving !== undefined) served.push(serving);
    else notes.push(`trial ${i}: ${what}: orders were not acknowledged promptly again within 13 s of killing ${victim}`);
    const refused = answers.filter((a) => a.sentAt >= killAt && !a.ok).length;
    print(`  trial ${i}/${trials}: ${victim} killed → ${what === 'redis' ? 'promoted' : 'new leader'} ${changedAt ? changedAt - killAt : '-'} ms, serving again ${serving ?? '-'} ms (${refused} orders refused)`);
  };

  try {
    for (let i = 1; i <= trials; i++) {
      await trial(i, 'redis');
      await trial(i, 'kafka');
    }
  } finally {
    await admin.disconnect();
    sentinel.disconnect();
  }
  return {
    trials,
    redisPromotedMs: distribution(results.redisPromoted),
    redisServingMs: distribution(results.redisServing),
    kafkaElectedMs: distribution(results.kafkaElected),
    kafkaServingMs: distribution(results.kafkaServing),
    notes,
  };
}
