// The adaptive concurrency limit's arithmetic, fed with chosen latencies: pure logic, no clock.
import { describe, expect, it } from 'vitest';
import { GradientLimit } from '@faultline/common';

// Feeds whole windows of one latency, each request admitted with `inFlight` in progress.
const feed = (limit: GradientLimit, windows: number, latencyMs: number, inFlight = limit.limit) => {
  for (let i = 0; i < windows * 20; i++) limit.sample(latencyMs, inFlight);
};

describe('gradient limit', () => {
  it('starts at its ceiling and stays there while latency stays at its floor', () => {
    const limit = new GradientLimit({ max: 16, min: 2 });
    expect(limit.limit).toBe(16);
    feed(limit, 10, 20);
    expect(limit.noLoadMs).toBe(20);
    expect(limit.limit).toBe(16);
  });

  it('shrinks while requests take over 1.5× their no-load time, to its floor at worst, and grows back when they stop', () => {
    const limit = new GradientLimit({ max: 16, min: 2 });
    feed(limit, 5, 20);
    feed(limit, 3, 100);
    const shrinking = limit.limit;
    expect(shrinking).toBeLessThan(16);
    feed(limit, 30, 100);
    expect(limit.limit).toBeLessThan(shrinking);
    expect(limit.limit).toBeGreaterThanOrEqual(2);
    const low = limit.limit;
    feed(limit, 5, 20);
    expect(limit.limit).toBeGreaterThan(low);
    for (let i = 0; i < 30; i++) feed(limit, 1, 20); // by √limit·smoothing a window
    expect(limit.limit).toBe(16);
  });

  it('holds at the level where the latency it tolerates balances its growth', () => {
    const limit = new GradientLimit({ max: 64, min: 2, probeEveryWindows: 1000 });
    feed(limit, 5, 10);
    feed(limit, 100, 30); // 3× the floor: each window takes half, then adds √limit, which balance at 4
    expect(limit.limit).toBeGreaterThanOrEqual(3);
    expect(limit.limit).toBeLessThanOrEqual(5);
  });

  it('does not shrink for a slowness that its limit does not cause, and returns toward its ceiling when not reached', () => {
    const limit = new GradientLimit({ max: 16, min: 2 });
    feed(limit, 5, 20, 2);
    feed(limit, 20, 200, 7); // slow, but 7 in progress is under half of 16: the slowness is not the limit's doing
    expect(limit.limit).toBe(16);
    feed(limit, 30, 100); // an overload: down to its floor
    expect(limit.limit).toBeLessThanOrEqual(5);
    feed(limit, 5, 20, 1); // light traffic after it: back up within a few windows, by √limit each
    expect(limit.limit).toBe(16);
  });

  it('probes the no-load latency afresh from a low limit every 100 windows, so that one fast spell does not pin it', () => {
    const limit = new GradientLimit({ max: 64, min: 2 });
    feed(limit, 1, 2); // a breaker's fast answers
    feed(limit, 98, 30, 64);
    expect(limit.noLoadMs).toBe(2);
    expect(limit.limit).toBeLessThanOrEqual(6);
    feed(limit, 1, 30, 64);
    expect(limit.noLoadMs).toBe(Infinity);
    expect(limit.limit).toBe(8); // √64
    feed(limit, 1, 30, 8);
    expect(limit.noLoadMs).toBe(30);
    for (let i = 0; i < 10; i++) feed(limit, 1, 30);
    expect(limit.limit).toBeGreaterThan(12); // at its floor again, so growing
  });

  it('refuses bounds that cannot hold', () => {
    expect(() => new GradientLimit({ max: 4, min: 8 })).toThrow(/1 ≤ min ≤ max/);
    expect(() => new GradientLimit({ max: 4, min: 0 })).toThrow(/min 0/);
  });
});
