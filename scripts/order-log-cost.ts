// What orders' group commit to Kafka buys, side by side in one run: the same idempotent producer as orders (acks from
// every in-sync replica, one request in flight) publishing one order a request, as orders did, against in group
// commits (services/orders/src/group-commit.ts), at the same open-model rates, alternating, on a real local stack's
// Kafka (a topic of its own). Usage: npm run bench:order-log [-- --rates 100,300,600,1000 --seconds 4 --rounds 2]
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { projectRoot } from '../chaos/src/core/paths.ts';
import { stopOnInterrupt } from '../chaos/src/core/interrupt.ts';
import { sleep } from '../chaos/src/core/time.ts';
import { defaultOptions } from '../chaos/src/platforms/local/layout.ts';
import { down, up } from '../chaos/src/platforms/local/runtime.ts';
import { groupCommit, orderLogProducer } from '../services/orders/src/group-commit.ts';

const flags = (() => {
  const refuse = (message: string): never => {
    console.error(`bench:order-log: ${message}`);
    process.exit(2);
  };
  const whole = (flag: string, text: string, max: number) => {
    const n = Number(text);
    return Number.isInteger(n) && n >= 1 && n <= max ? n : refuse(`--${flag} ${JSON.stringify(text)}: a whole number from 1 to ${max}`);
  };
  let values: { rates: string; seconds: string; rounds: string };
  try {
    values = parseArgs({ options: { rates: { type: 'string', default: '100,300,600,1000' }, seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '2' } } }).values;
  } catch (err) {
    return refuse((err as Error).message);
  }
  const rates = values.rates.split(',').map((r) => whole('rates', r, 5000));
  return { rates, seconds: whole('seconds', values.seconds, 60), rounds: whole('rounds', values.rounds, 10) };
})();

const topic = 'bench.order-log';
const partitions = 6; // as orders.placed
type Mode = 'one order a request' | 'group commit';

/** Offers `rate` orders a second for the step, each published as soon as it arrives; latencies of those acknowledged. */
// Hand-written, not k6: what is measured is a call inside this process, which k6 cannot reach.
async function step(publish: (value: string) => Promise<void>, rate: number) {
  const latencies: number[] = [];
  let failed = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * flags.seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const sent = performance.now();
    pending.push(publish(`order ${i}`).then(() => void latencies.push(performance.now() - sent), () => void failed++));
  }
  await Promise.all(pending);
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { acknowledgedPerS: latencies.length / seconds, p50: q(0.5), p99: q(0.99), failed };
}

const opts = { ...defaultOptions(), portBase: 25400, stateDir: join(projectRoot, '.faultline/reports/order-log-cost/stack') };
console.log(`▶ bringing a lean stack up on port base ${opts.portBase}`);
const release = stopOnInterrupt(() => down(opts, () => undefined));
const stack = await up(opts, () => undefined);
const producers: Producer[] = [];
try {
  const kafka = new Kafka({ clientId: 'bench-order-log', brokers: [stack.urls.kafka], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = () => {
    const p = kafka.producer(orderLogProducer);
    producers.push(p);
    return p;
  };
  const single = producer();
  const grouped = producer();
  await Promise.all([single.connect(), grouped.connect()]);
  const commit = groupCommit(grouped, topic, { partitions: async () => partitions });
  const modes: Record<Mode, (value: string) => Promise<void>> = {
    'one order a request': async (value) => void (await single.send({ topic, acks: -1, messages: [{ key: value, value }] })),
    'group commit': (value) => commit({ key: value, value }),
  };
  for (const publish of Object.values(modes)) await step(publish, 20); // warm-up: connections, metadata, the JIT
  for (let round = 1; round <= flags.rounds; round++) {
    for (const rate of flags.rates) {
      for (const [mode, publish] of Object.entries(modes)) {
        const r = await step(publish, rate);
        console.log(`  round ${round}, ${String(rate).padStart(4)}/s offered, ${mode.padEnd(19)}: ${r.acknowledgedPerS.toFixed(0).padStart(4)}/s acknowledged, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms${r.failed ? `, ${r.failed} failed` : ''}`);
        await sleep(1000);
      }
    }
  }
} finally {
  await Promise.all(producers.map((p) => p.disconnect().catch(() => undefined)));
  release();
  await down(opts, () => undefined);
}
