// Kitchen's bounded in-flight work: partitions pause instead of buffering, and resume when a station frees.
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@faultline/common';
import { createStations } from '../../services/kitchen/src/stations.ts';

function batchOf(partition: number, offsets: number[]) {
  const resolved: string[] = [];
  const resume = vi.fn();
  const payload = {
    batch: { topic: 'orders.placed', partition, messages: offsets.map((o) => ({ offset: String(o), value: Buffer.from(`{"id":"${o}"}`) }) as KafkaMessage) },
    resolveOffset: (offset: string) => resolved.push(offset),
    heartbeat: async () => undefined,
    isRunning: () => true,
    isStale: () => false,
    commitOffsetsIfNecessary: async () => undefined,
    pause: vi.fn(() => resume),
  } as unknown as EachBatchPayload;
  return { payload, resolved, resume, pause: payload.pause as ReturnType<typeof vi.fn> };
}
const logger = createLogger('kitchen', 'silent', '0');
const pausesBy = async (registry: Registry, reason: string) => (await registry.getSingleMetric('kitchen_partition_pauses_total')!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('kitchen stations', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pauses a partition when every station is busy, without resolving its offset, and resumes it when one frees', async () => {
    const registry = new Registry();
    const stations = createStations({ stations: 1, retryAfterMs: 1000, registry, logger, enabled: true });
    let finish!: () => void;
    const busy = batchOf(0, [10]);
    const waiting = batchOf(1, [20, 21]);
    const first = stations.eachBatch(busy.payload, () => new Promise<void>((r) => (finish = r)));
    await stations.eachBatch(waiting.payload, async () => undefined);
    expect(waiting.pause).toHaveBeenCalledTimes(1);
    expect(waiting.resolved).toEqual([]); // 20 and 21 are fetched again after the resume
    expect(waiting.resume).not.toHaveBeenCalled();
    expect(await pausesBy(registry, 'stations_full')).toBe(1);
    finish();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(busy.resolved).toEqual(['10']);
    expect(waiting.resume).toHaveBeenCalledTimes(1);
  });

  it('pauses a partition whose order failed, and retries it after the delay', async () => {
    vi.useFakeTimers();
    const registry = new Registry();
    const stations = createStations({ stations: 4, retryAfterMs: 1000, registry, logger, enabled: true });
    const b = batchOf(3, [5, 6, 7]);
    let calls = 0;
    await stations.eachBatch(b.payload, async () => {
      if (++calls === 2) throw new Error('redis unavailable');
    });
    expect(b.resolved).toEqual(['5']);
    expect(b.pause).toHaveBeenCalledTimes(1);
    expect(await pausesBy(registry, 'dependency_failed')).toBe(1);
    vi.advanceTimersByTime(999);
    expect(b.resume).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(b.resume).toHaveBeenCalledTimes(1);
  });

  it('lifts the pause of a partition a rebalance took away, so that it is not still paused when it comes back', async () => {
    const registry = new Registry();
    const stations = createStations({ stations: 4, retryAfterMs: 60_000, registry, logger, enabled: true });
    const kept = batchOf(1, [5]);
    const taken = batchOf(2, [7]);
    for (const b of [kept, taken]) await stations.eachBatch(b.payload, async () => Promise.reject(new Error('redis unavailable')));
    stations.forget([1]);
    expect(taken.resume).toHaveBeenCalledTimes(1);
    expect(kept.resume).not.toHaveBeenCalled(); // still ours: its retry delay still holds
    expect((await registry.getSingleMetric('kitchen_paused_partitions')!.get()).values[0]!.value).toBe(1);
  });

  it('with resilience off, neither bounds nor pauses: a failure fails the batch for kafkajs to retry', async () => {
    const stations = createStations({ stations: 1, retryAfterMs: 1000, registry: new Registry(), logger, enabled: false });
    const b = batchOf(0, [1, 2]);
    await expect(stations.eachBatch(b.payload, async () => Promise.reject(new Error('redis unavailable')))).rejects.toThrow('redis unavailable');
    expect(b.pause).not.toHaveBeenCalled();
  });
});
