// The chart's ha profile on the real node: a second release, in a namespace of its own, with three Redis nodes, three
// Sentinels and three Kafka nodes. It takes orders through Sentinel and the replicated topic, and fails over when the
// pod of the Redis primary, then the pod leading orders.placed, is deleted, with every acknowledged order kept.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import type { Endpoints } from '../../chaos/src/drill/platform.ts';
import { loadKubeConfig } from '../../chaos/src/platforms/kubernetes/client.ts';
import { kubernetesPlatform } from '../../chaos/src/platforms/kubernetes/platform.ts';
import { installChart } from '../../tooling/cluster/command.ts';
import { nodePaths } from '../../tooling/toolchain.ts';
import { steadyLoad } from '../support/shop.ts';
import { clients, cluster, helm, waitFor } from './support.ts';

const namespace = 'faultline-ha';
const release = 'faultline-ha';
const { core } = clients();
const execFileAsync = promisify(execFile);
const platform = kubernetesPlatform({ kc: loadKubeConfig({ kubeconfig: cluster().kubeconfig }), namespace, release, allowedNamespaces: [namespace], traffic: true, k6Image: 'localhost:5000/faultline/k6:1.8.1' });
let endpoints: Endpoints;

// Not the suite's kubectl(): that one is synchronous, and would stall the orders placed meanwhile.
const exec = async (pod: string, command: string[]) => {
  const { stdout } = await execFileAsync(nodePaths.kubectl, ['--kubeconfig', cluster().kubeconfig, '-n', namespace, 'exec', pod, '--', ...command], { timeout: 60_000 });
  return stdout;
};
const podOf = (host: string) => host.split('.')[0]!;
const sentinelPrimary = async (sentinel = `${release}-redis-sentinel-0`) => podOf((await exec(sentinel, ['redis-cli', '-p', '26379', '--raw', 'SENTINEL', 'get-master-addr-by-name', 'faultline'])).split('\n')[0]!);
const replication = (pod: string) => exec(pod, ['redis-cli', 'info', 'replication']);
/** orders.placed as a Kafka node describes it: the topic's settings, and each partition's leader and in-sync replicas. */
const describeTopic = async (pod: string) => {
  const out = await exec(pod, ['sh', '-c', 'KAFKA_HEAP_OPTS=-Xmx64m LOG_DIR=/tmp /opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --describe --topic orders.placed']);
  const partitions = [...out.matchAll(/Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]*)/g)].map(([, partition, leader, replicas, isr]) => ({ partition: Number(partition), leader: Number(leader), replicas: replicas!.split(','), isr: isr ? isr.split(',') : [] }));
  return { header: out.split('\n')[0]!, partitions };
};
const deletePod = (name: string) => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
const podReady = async (name: string) => {
  const pod = await core.readNamespacedPod({ name, namespace }).catch(() => undefined);
  return pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true && pod;
};

/** One order through the gateway; an acknowledged one (201) is added to `acked`. */
async function placeOrder(acked: string[]) {
  const res = await fetch(`${endpoints.gateway}/api/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': endpoints.apiKeys.local, 'idempotency-key': randomUUID() },
    body: JSON.stringify({ items: [{ sku: 'margherita', qty: 1 }] }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json().catch(() => undefined)) as { id?: string } | undefined;
  if (res.status === 201 && body?.id) acked.push(body.id);
  return { status: res.status, body };
}

/** Orders placed every 250 ms while a store fails over (the suites' steadyLoad), and the ids acknowledged. */
function steadyOrders() {
  const acked: string[] = [];
  const load = steadyLoad(() => placeOrder(acked), { workers: 1, pauseMs: 250, maxMs: 180_000 });
  return {
    acked,
    /** Stops once one more order is acknowledged; resolves with how many answers had each status. */
    async stopAfterNextAck() {
      const before = acked.length;
      await waitFor('an order acknowledged after the failover', async () => acked.length > before || undefined, 60_000, 250);
      const outcomes = await load.stop();
      return Object.fromEntries([...Map.groupBy(outcomes, (o) => o.status)].map(([status, os]) => [status, os.length]));
    },
    /** The longest time without an acknowledgement, in seconds: the gap a client saw. */
    longestGapS: () => {
      const ackedAt = load.outcomes.filter((o) => o.status === 201).map((o) => o.at + o.ms);
      return Math.max(0, ...ackedAt.slice(1).map((t, i) => t - ackedAt[i]!)) / 1000;
    },
  };
}

/** Every acknowledged order is in the ledger and, once kitchen catches up, completed. */
async function expectNoneLost(acked: string[]) {
  await waitFor('kitchen to complete every acknowledged order', async () => {
    const ledger = await platform.ledger();
    try {
      return (await ledger.completed(acked)).size === acked.length || undefined;
    } finally {
      await ledger.close();
    }
  }, 120_000, 2000);
}

beforeAll(async () => {
  const started = Date.now();
  installChart(cluster().kubeconfig, { release, namespace, values: ['-f', join(projectRoot, 'charts/faultline/ci/ha-values.yaml'), '-f', join(projectRoot, 'test/cluster/ha-release-values.yaml')] });
  console.info(`ha release: every pod Ready ${((Date.now() - started) / 1000).toFixed(0)} s after helm started`);
  endpoints = (await platform.connect())!;
}, 900_000);

afterAll(async () => {
  await platform.close();
  helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '2m']);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  await waitFor('the ha namespace to be gone', async () => (await core.readNamespace({ name: namespace }).then(() => false, () => true)) || undefined, 120_000, 1000);
}, 300_000);

describe("the chart's ha profile on a real node", () => {
  it('runs three Redis nodes, three Sentinels that agree on the first as primary, and three Kafka nodes replicating orders.placed', async () => {
    const { items } = await core.listNamespacedPod({ namespace, labelSelector: `app.kubernetes.io/instance=${release}` });
    for (const part of ['redis', 'redis-sentinel', 'kafka']) {
      const pods = items.filter((p) => p.metadata!.labels!['app.kubernetes.io/name'] === part);
      expect(pods.map((p) => p.metadata!.name).sort(), part).toEqual([0, 1, 2].map((i) => `${release}-${part}-${i}`));
    }
    for (let i = 0; i < 3; i++) expect(await sentinelPrimary(`${release}-redis-sentinel-${i}`)).toBe(`${release}-redis-0`);
    expect(await replication(`${release}-redis-0`)).toMatch(/^connected_slaves:2/m);
    const sentinel = await exec(`${release}-redis-sentinel-0`, ['redis-cli', '-p', '26379', 'SENTINEL', 'master', 'faultline']);
    expect(sentinel).toMatch(/num-other-sentinels\n2\n/);
    const topic = await describeTopic(`${release}-kafka-0`);
    expect(topic.header).toMatch(/ReplicationFactor: 3/);
    expect(topic.header).toMatch(/min\.insync\.replicas=2/);
    expect(topic.partitions).toHaveLength(6);
    for (const p of topic.partitions) expect(p.isr.sort(), `partition ${p.partition}`).toEqual(['0', '1', '2']);
  });

  it('passes helm test', () => {
    const r = helm(['test', release, '--namespace', namespace]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Phase: +Succeeded/);
  });

  it('completes an order through Sentinel and the replicated topic, acknowledged once a Redis replica has it', async () => {
    const acked: string[] = [];
    expect((await placeOrder(acked)).status).toBe(201);
    await expectNoneLost(acked);
  });

  it('fails over when the Redis primary pod is deleted: a replica is promoted, orders are acknowledged again, none is lost, and the new pod rejoins as a replica', async () => {
    const primary = await sentinelPrimary();
    const orders = steadyOrders();
    await waitFor('an order acknowledged before the kill', async () => orders.acked.length > 0 || undefined, 30_000);
    const killed = Date.now();
    await deletePod(primary);
    const promoted = await waitFor('the Sentinels to promote a replica', async () => {
      const now = await sentinelPrimary();
      return now !== primary && now;
    }, 30_000, 250);
    const promotedS = (Date.now() - killed) / 1000;
    const statuses = await orders.stopAfterNextAck();
    const servingS = (Date.now() - killed) / 1000;
    console.info(`redis primary ${primary} deleted: ${promoted} promoted after ${promotedS.toFixed(1)} s, orders acknowledged again by ${servingS.toFixed(1)} s (longest gap without one ${orders.longestGapS().toFixed(1)} s); answers ${JSON.stringify(statuses)}`);
    expect(Object.keys(statuses).filter((s) => Number(s) >= 500 && s !== '503')).toEqual([]);
    await expectNoneLost(orders.acked);
    await waitFor(`the new ${primary} Ready`, () => podReady(primary), 120_000, 1000);
    expect(await replication(primary)).toMatch(new RegExp(`^role:slave[\\s\\S]*^master_host:${promoted}\\.`, 'm'));
  });

  it('fails over when the pod leading orders.placed is deleted: leadership moves, orders are acknowledged again, and none is lost', async () => {
    const before = (await describeTopic(`${release}-kafka-0`)).partitions.find((p) => p.partition === 0)!;
    const leader = `${release}-kafka-${before.leader}`;
    const other = `${release}-kafka-${(before.leader + 1) % 3}`;
    const orders = steadyOrders();
    await waitFor('an order acknowledged before the kill', async () => orders.acked.length > 0 || undefined, 30_000);
    const killed = Date.now();
    await deletePod(leader);
    const moved = await waitFor('partition 0 of orders.placed to get another leader', async () => {
      const p0 = (await describeTopic(other)).partitions.find((p) => p.partition === 0);
      return p0 && p0.leader >= 0 && p0.leader !== before.leader && p0;
    }, 60_000, 500);
    const movedS = (Date.now() - killed) / 1000;
    const statuses = await orders.stopAfterNextAck();
    console.info(`kafka leader ${leader} deleted: node ${moved.leader} leads partition 0, seen ${movedS.toFixed(1)} s after the kill (each read starts kafka-topics.sh's JVM); longest gap without an acknowledged order ${orders.longestGapS().toFixed(1)} s; answers ${JSON.stringify(statuses)}`);
    expect(Object.keys(statuses).filter((s) => Number(s) >= 500 && s !== '503')).toEqual([]);
    await expectNoneLost(orders.acked);
    await waitFor(`the new ${leader} Ready`, () => podReady(leader), 180_000, 1000);
  });
});
