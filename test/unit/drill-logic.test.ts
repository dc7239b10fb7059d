// The controller's pure logic: Chaos Mesh modes and guardrails, verifications over phase windows, the ledger check.
import { describe, expect, it } from 'vitest';
import { reconcile } from '../../chaos/src/drill/ledger.ts';
import { parseDrill } from '../../chaos/src/drill/file.ts';
import { junitXml } from '../../chaos/src/drill/outputs.ts';
import { chooseReplicas, planFault } from '../../chaos/src/drill/faults/index.ts';
import { edgeNames as localEdges } from '../../chaos/src/core/topology.ts';
import type { Journal } from '../../chaos/src/drill/journal.ts';
import { verify, type Sample } from '../../chaos/src/drill/verify.ts';
import { scenarioOf } from '../../chaos/src/drill/k6.ts';

const kitchens = ['kitchen-0', 'kitchen-1', 'kitchen-2', 'kitchen-3'];
const podKill = (mode: 'one' | 'all' | 'fixed' | 'fixed-percent', value?: number) => ({ kind: 'pod-kill' as const, selector: { service: 'kitchen' as const }, mode, ...(value ? { value } : {}) });

describe('selecting replicas', () => {
  it.each([
    [podKill('one'), 1],
    [podKill('fixed', 3), 3],
    [podKill('fixed-percent', 50), 2],
    [podKill('all'), 4],
  ])('%j takes %i of 4', (fault, n) => {
    const chosen = chooseReplicas(fault, kitchens);
    expect(chosen).toHaveLength(n);
    expect(new Set(chosen).size).toBe(n);
    expect(chosen.every((c) => kitchens.includes(c))).toBe(true);
  });
  it('refuses to take every replica unless the drill says mode: all', () => {
    expect(() => chooseReplicas(podKill('fixed', 4), kitchens)).toThrow(/would take every replica of kitchen \(4\); say mode: all/);
    expect(() => chooseReplicas(podKill('fixed-percent', 100), kitchens)).toThrow(/say mode: all/);
    expect(() => chooseReplicas(podKill('one'), ['kitchen-0'])).toThrow(/say mode: all/);
    expect(() => chooseReplicas(podKill('fixed', 5), kitchens)).toThrow(/asks for 5 of kitchen's 4 replicas/);
  });
  it('plans a pause with the same modes and guardrail, naming its own kind', () => {
    const pause = (mode: 'one' | 'fixed', value?: number) => ({ kind: 'pause' as const, selector: { service: 'kitchen' as const }, mode, duration: 10_000, ...(value ? { value } : {}) });
    expect(planFault(pause('one'), { replicas: { kitchen: kitchens }, edges: localEdges })).toMatchObject({ kind: 'pause', service: 'kitchen', durationMs: 10_000, replicas: [expect.stringMatching(/^kitchen-\d$/)] });
    expect(() => planFault(pause('fixed', 4), { replicas: { kitchen: kitchens }, edges: localEdges })).toThrow(/^pause: mode fixed would take every replica of kitchen \(4\)/);
    expect(() => planFault(pause('one'), { replicas: {}, edges: localEdges })).toThrow(/^pause: service kitchen has no ready replicas$/);
  });
  it('kills a Redis node by its role, only where Sentinel can promote another', () => {
    const kill = (role?: 'primary' | 'replica') => ({ kind: 'pod-kill' as const, selector: { service: 'redis' as const, ...(role ? { role } : {}) }, mode: 'one' as const });
    const ha = { replicas: { redis: ['redis-0', 'redis-1', 'redis-2'] }, edges: localEdges, roles: { 'redis-0': 'replica', 'redis-1': 'primary', 'redis-2': 'replica' } };
    expect(planFault(kill('primary'), ha)).toMatchObject({ kind: 'pod-kill', service: 'redis', replicas: ['redis-1'] });
    expect((planFault(kill('replica'), ha) as { replicas: string[] }).replicas[0]).toMatch(/^redis-[02]$/);
    expect(() => planFault(kill('primary'), { replicas: { redis: ['redis'] }, edges: localEdges })).toThrow(/^pod-kill: redis runs as one instance here, so killing it is an outage, not a failover; .*--topology ha/);
    // The chart's ha release on Kubernetes: three nodes, whose roles that platform does not read.
    expect(() => planFault(kill('primary'), { replicas: { redis: ['r-0', 'r-1', 'r-2'] }, edges: localEdges })).toThrow(/^pod-kill: this platform does not read the roles of redis's 3 nodes \(Kubernetes does not yet\)/);
  });
  it('kills the Kafka broker leading orders.placed, only where followers can take its partitions', () => {
    const kill = (role?: 'leader' | 'follower') => ({ kind: 'pod-kill' as const, selector: { service: 'kafka' as const, topic: 'orders.placed' as const, ...(role ? { role } : {}) }, mode: 'one' as const });
    // Roles of both stores sit in one map: a Kafka role picks among brokers only.
    const ha = { replicas: { kafka: ['kafka-0', 'kafka-1', 'kafka-2'], redis: ['redis-0', 'redis-1', 'redis-2'] }, edges: localEdges, roles: { 'kafka-0': 'follower', 'kafka-1': 'follower', 'kafka-2': 'leader', 'redis-0': 'primary', 'redis-1': 'replica', 'redis-2': 'replica' } };
    expect(planFault(kill('leader'), ha)).toMatchObject({ kind: 'pod-kill', service: 'kafka', replicas: ['kafka-2'] });
    expect((planFault(kill('follower'), ha) as { replicas: string[] }).replicas[0]).toMatch(/^kafka-[01]$/);
    expect(() => planFault(kill('leader'), { replicas: { kafka: ['kafka'], redis: ['redis-0', 'redis-1'] }, edges: localEdges, roles: { 'redis-0': 'primary', 'redis-1': 'replica' } })).toThrow(
      /^pod-kill: kafka runs as one instance here, so killing it is an outage, not a failover; .*the controller moves a dead broker's partitions/,
    );
  });
  it('cuts only the primary\'s links between Redis nodes when the selector names the role', () => {
    const cut = { kind: 'network-partition' as const, selector: { service: 'redis' as const, role: 'primary' as const }, target: { service: 'redis' as const }, direction: 'both' as const, duration: 1000 };
    const ha = { replicas: {}, edges: [...localEdges, 'redis-redis'], roles: { 'redis-0': 'primary', 'redis-1': 'replica', 'redis-2': 'replica' } };
    expect(planFault(cut, ha)).toMatchObject({ edge: 'redis-redis', nodes: ['redis-0'] });
    expect(() => planFault(cut, { replicas: {}, edges: localEdges })).toThrow(/redis does not talk to redis; the edges are/);
    expect(() => planFault({ ...cut, selector: { service: 'redis', role: 'primary' }, target: { service: 'kafka' } }, ha)).toThrow(/redis does not talk to kafka/);
  });
  it('refuses an edge that does not exist, naming the ones that do', () => {
    const fault = { kind: 'network-partition' as const, selector: { service: 'kitchen' as const }, target: { service: 'catalog' as const }, direction: 'both' as const, duration: 1000 };
    expect(() => planFault(fault, { replicas: {}, edges: localEdges })).toThrow(/kitchen does not talk to catalog; the edges are gateway-catalog/);
    expect(planFault({ ...fault, target: { service: 'kafka' } }, { replicas: {}, edges: localEdges })).toMatchObject({ edge: 'kitchen-kafka', durationMs: 1000 });
  });
});

describe('verifications', () => {
  const drill = parseDrill(`name: v
steadyState: { probes: [{ name: menu, http: { path: /api/menu } }] }
probes: [{ name: breaker, promql: x, tolerance: { max: 0 } }, { name: count, promql: y, tolerance: { min: 0 } }]
method: [{ wait: 1s }]
verifications:
  - { name: opens fast, probe: breaker, during: fault, expect: { reaches: { min: 2 }, within: 1s } }
  - { name: closed before, probe: breaker, during: baseline, expect: { always: { max: 0 } } }
  - { name: counted, probe: count, during: fault, expect: { change: { min: 5 } } }
  - { name: closes, probe: breaker, during: recovery, expect: { reaches: { max: 0 } } }
`);
  const samples: Sample[] = [0, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000].map((t) => ({
    t,
    values: { breaker: t >= 1800 && t < 3200 ? 2 : 0, count: t < 1000 ? 0 : t / 100 },
  }));
  const windows = { baseline: [0, 1000], fault: [1000, 3000], recovery: [3000, 4000], whole: [0, 4000] } as { baseline: [number, number]; fault: [number, number]; recovery: [number, number]; whole: [number, number] };

  it('judges each expectation on its own window, with what was observed', () => {
    const r = verify(drill, samples, windows);
    expect(r.map((x) => [x.name, x.ok])).toEqual([
      ['opens fast', true],
      ['closed before', true],
      ['counted', true],
      ['closes', true],
    ]);
    expect(r[0]!.observed).toBe('reached 2 after 1.00 s');
    expect(r[2]!.observed).toBe('changed by 20 (10 → 30)');
  });
  it('fails when the reading comes too late, or never', () => {
    const late = samples.map((s) => ({ ...s, values: { ...s.values, breaker: s.t >= 2500 && s.t < 3200 ? 2 : 0 } }));
    const r = verify(drill, late, windows);
    expect(r[0]).toMatchObject({ ok: false, observed: 'reached 2 after 1.50 s' });
    const never = samples.map((s) => ({ ...s, values: { ...s.values, breaker: 0 } }));
    expect(verify(drill, never, windows)[0]).toMatchObject({ ok: false, observed: 'never; last 0, range 0..0' });
  });
  it('fails a verification without readings rather than passing it', () => {
    expect(verify(drill, [], windows).every((v) => !v.ok && v.observed.startsWith('no readings'))).toBe(true);
  });
});

describe('the ledger check', () => {
  const ack = (key: string, id: string, attempt = 0) => ({ key, id, attempt });
  const all = new Set(['o1', 'o2', 'o3', 'o4', 'o5']);
  it('counts lost, duplicated, unexpected, recovered and redelivered orders', () => {
    const acks = [ack('k1', 'o1'), ack('k2', 'o2', 1), ack('k3', 'o3'), ack('k3', 'o3'), ack('k4', 'o4'), ack('k4', 'o5')];
    const r = reconcile(acks, new Set(['o1', 'o2', 'o4', 'o5']), new Set(['o1', 'o2', 'o3', 'o4', 'o5', 'o9']), new Set(['o2']), all);
    expect(r).toEqual({ accepted: 5, completed: 4, lost: 1, unrecorded: 0, duplicated: 1, unexpected: 1, recovered: 1, redelivered: 1, lostIds: ['o3'] });
  });
  it('counts an acknowledged order whose record is gone as lost, even if kitchen completed it', () => {
    const r = reconcile([ack('k1', 'o1'), ack('k2', 'o2')], new Set(['o1', 'o2']), new Set(['o1']), new Set(), new Set(['o1']));
    expect(r).toMatchObject({ accepted: 2, completed: 2, lost: 1, unrecorded: 1, lostIds: ['o2'] });
  });
});

describe('JUnit output', () => {
  it('has one testcase per verification, failures with expected and observed, and escapes XML', () => {
    const journal = { drill: 'd', status: 'completed', timings: { durationMs: 1500 }, startedAt: '2026-01-01T00:00:00Z', verifications: [{ name: 'a < b', ok: true, expected: 'x', observed: 'y' }, { name: 'lost', ok: false, expected: 'lost = 0', observed: 'lost = "2"' }], skipped: [] } as unknown as Journal;
    const xml = junitXml(journal);
    expect(xml).toContain('tests="2" failures="1" skipped="0"');
    expect(xml).toContain('name="a &lt; b"');
    expect(xml).toContain('<failure message="expected lost = 0; observed lost = &quot;2&quot;"/>');
  });
});

describe("k6's scenario", () => {
  const load = { script: 'orders.js', executor: 'constant-arrival-rate' as const, duration: 10_000, apiKey: 'load' as const };
  it('makes half of maxVUs up front, and at least one second of the peak rate, so that k6 does not drop arrivals while it makes VUs', () => {
    expect(scenarioOf({ ...load, rate: 25, maxVUs: 200 }).preAllocatedVUs).toBe(100);
    expect(scenarioOf({ ...load, rate: 200, maxVUs: 200 }).preAllocatedVUs).toBe(200);
    expect(scenarioOf({ ...load, rate: 300, maxVUs: 200 }).preAllocatedVUs).toBe(200); // never past maxVUs
    const ramp = { script: 'flood.js', executor: 'ramping-arrival-rate' as const, apiKey: 'load' as const, maxVUs: 1000, stages: [{ target: 100, duration: 5000 }, { target: 600, duration: 5000 }, { target: 0, duration: 1000 }] };
    expect(scenarioOf(ramp)).toMatchObject({ preAllocatedVUs: 600, maxVUs: 1000, startRate: 0 });
    expect(scenarioOf({ ...load, rate: 200, maxVUs: 400, preAllocatedVUs: 50 }).preAllocatedVUs).toBe(50); // as asked
  });
});
