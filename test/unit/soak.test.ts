// The soak's judgement and its flags, on their own: memory growth after warm-up, the ceiling for a store that fills to
// a cap, restarts, and bad input.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { checkSoakFlags, seededRandom, soakCatalogue } from '../../chaos/src/soak/command.ts';
import { heapMb, judgeGrowth, type Sample } from '../../chaos/src/soak/memory.ts';
import { tempDir } from '../support/temp.ts';

/** One sample every 5 s for `seconds`, each process's RSS (and JavaScript memory, where given) from its function of time. */
const run = (seconds: number, procs: Record<string, (t: number) => { mb: number; pid?: number; heapMb?: number }>): Sample[] =>
  Array.from({ length: seconds / 5 + 1 }, (_, i) => {
    const now = Object.entries(procs).map(([name, f]) => [name, f(i * 5)] as const);
    return {
      t: i * 5,
      rss: Object.fromEntries(now.map(([name, r]) => [name, { pid: r.pid ?? 100, mb: r.mb }])),
      heap: Object.fromEntries(now.flatMap(([name, r]) => (r.heapMb === undefined ? [] : [[name, { pid: r.pid ?? 100, mb: r.heapMb }]]))),
      diskMb: {},
    };
  });
/** A replica's JavaScript memory: a sawtooth of garbage (up to 30 MB every 20 s) on top of what it keeps, `live(t)`. */
const sawtooth = (live: (t: number) => number) => (t: number) => live(t) + (t % 20) * 1.5;

describe('judgeGrowth', () => {
  const opts = { warmupS: 60, windowS: 30, percent: 10, floorMb: 16 };

  it('passes memory that settles after warm-up, however much it grew before', () => {
    const [g] = judgeGrowth(run(300, { 'gateway-0': (t) => ({ mb: t < 60 ? 100 + t * 2 : 220 }) }), opts);
    expect(g).toMatchObject({ name: 'gateway-0', baselineMb: 220, endMb: 220, ok: true });
  });

  it('fails memory that keeps growing once warm, and says by how much', () => {
    const [g] = judgeGrowth(run(300, { 'orders-0': (t) => ({ mb: 200 + t * 0.2 }) }), opts);
    expect(g!.ok).toBe(false);
    expect(g!.growthPercent).toBeGreaterThan(10);
    expect(g!.endMb).toBeGreaterThan(g!.baselineMb);
  });

  it('lets a small process grow by a few MB, however large a share that is', () => {
    expect(judgeGrowth(run(300, { redis: (t) => ({ mb: t < 150 ? 15 : 25 }) }), opts)[0]).toMatchObject({ ok: true, measure: 'rss', growthBound: { percent: 10, floorMb: 16 } });
    expect(judgeGrowth(run(300, { redis: (t) => ({ mb: t < 150 ? 15 : 40 }) }), opts)[0]!.ok).toBe(false);
  });

  it('judges a process with a ceiling by the ceiling, not by growth', () => {
    const filling = (t: number) => ({ mb: 50 + t });
    expect(judgeGrowth(run(300, { jaeger: filling }), { ...opts, ceilings: { jaeger: 400 } })[0]).toMatchObject({ ok: true, ceilingMb: 400 });
    expect(judgeGrowth(run(300, { jaeger: filling }), { ...opts, ceilings: { jaeger: 300 } })[0]!.ok).toBe(false);
  });

  it("judges the HA topology's nodes by their part's ceiling", () => {
    const [g] = judgeGrowth(run(300, { 'kafka-1': (t) => ({ mb: 350 + t }) }), { ...opts, ceilings: { kafka: 700 } });
    expect(g).toMatchObject({ name: 'kafka-1', ceilingMb: 700, ok: true });
    expect(g!.growthBound).toBeUndefined();
  });

  it("judges a replica's growth on its JavaScript memory after collections, not on a resident size V8 has not given back", () => {
    // Resident memory climbs 180 → 290 MB as V8 grows its heap (as orders-1 did in a CI soak); what it keeps is flat.
    const heapFlat = (t: number) => ({ mb: Math.min(290, 180 + t * 0.5), heapMb: sawtooth(() => 60)(t) });
    const [g] = judgeGrowth(run(300, { 'orders-1': heapFlat }), { ...opts, limits: { orders: 512 } });
    expect(g).toMatchObject({ name: 'orders-1', measure: 'heap', baselineMb: 60, endMb: 60, ok: true, ceilingMb: 512 });
    expect(g!.peakRssMb).toBe(290);
  });

  it('fails a replica whose JavaScript memory keeps growing once warm, though its garbage hides the trend in each sample', () => {
    const leaking = (t: number) => ({ mb: 250, heapMb: sawtooth((x) => 60 + x * 0.2)(t) });
    const [g] = judgeGrowth(run(300, { 'orders-1': leaking }), { ...opts, limits: { orders: 512 } });
    expect(g).toMatchObject({ measure: 'heap', ok: false });
    expect(g!.endMb - g!.baselineMb).toBeGreaterThan(16);
  });

  it('judges a replica that gave no JavaScript readings on its resident memory, growth and limit both', () => {
    const [g] = judgeGrowth(run(300, { 'orders-0': (t) => ({ mb: 200 + t * 0.2 }) }), { ...opts, limits: { orders: 512 } });
    expect(g).toMatchObject({ measure: 'rss', growthBound: { percent: 10, floorMb: 16 }, ceilingMb: 512, ok: false });
  });

  it("fails a replica whose resident memory goes over its pod's limit after warm-up, though its JavaScript memory is flat", () => {
    const native = (t: number) => ({ mb: t < 200 ? 300 : 530, heapMb: 60 });
    const [g] = judgeGrowth(run(300, { 'gateway-0': native }), { ...opts, limits: { gateway: 512 } });
    expect(g).toMatchObject({ measure: 'heap', ok: false, peakRssMb: 530, ceilingMb: 512 });
  });

  it('does not judge a process a drill restarted between the two windows', () => {
    const [g] = judgeGrowth(run(300, { 'kitchen-0': (t) => (t < 200 ? { mb: 150, pid: 100 } : { mb: 300, pid: 200 }) }), opts);
    expect(g).toMatchObject({ restarted: true, ok: true });
  });
});

describe("a replica's JavaScript memory", () => {
  it('is its used heap plus external memory, read from its /metrics with its labels, and undefined when it has none', async () => {
    const pages = [
      ['nodejs_heap_size_used_bytes{service="orders",replica="1"} 52428800', 'nodejs_heap_size_total_bytes{service="orders",replica="1"} 99999999', 'nodejs_external_memory_bytes{service="orders",replica="1"} 10485760'].join('\n'),
      'up 1',
    ];
    const server = createServer((_req, res) => res.end(pages.shift()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await heapMb(url)).toBe(60);
      expect(await heapMb(url)).toBeUndefined();
    } finally {
      server.close();
    }
  });
});

describe('soak flags', () => {
  const stateDir = tempDir('soak-');
  it.each([
    [{ minutes: '1' }, /--minutes: at least 2 minutes/],
    [{ minutes: 'ten' }, /--minutes/],
    [{ every: '30' }, /--every: at least 60 s/],
    [{ seed: '-1' }, /--seed/],
    [{ growthPercent: '0' }, /--growth-percent/],
    [{ colour: 'red' }, /colour/],
  ])('%j is refused with exit 2', (flags, message) => {
    expect(() => checkSoakFlags(flags, stateDir)).toThrow(UsageError);
    expect(() => checkSoakFlags(flags, stateDir)).toThrow(message);
  });

  it('defaults to 30 minutes, a drill every 2 minutes and a printed random seed', () => {
    const f = checkSoakFlags({}, stateDir);
    expect(f).toMatchObject({ minutes: 30, every: 120, growthPercent: 10 });
    expect(Number.isInteger(f.seed)).toBe(true);
  });

  it('replays the same drills from the same seed, from the whole catalogue of the topology', () => {
    const pick = (seed: number) => {
      const r = seededRandom(seed);
      return Array.from({ length: 12 }, () => soakCatalogue('ha')[Math.floor(r() * 7)]);
    };
    expect(pick(42)).toEqual(pick(42));
    expect(pick(42)).not.toEqual(pick(43));
    expect(new Set(Array.from({ length: 4 }, (_, i) => pick(i)).flat()).size).toBe(7);
    expect(soakCatalogue('lean')).not.toContain('kafka-leader-failover');
  });
});
