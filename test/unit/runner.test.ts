// The one drill runner against a fake platform, in milliseconds: its phases and windows, abort conditions, rollback
// on every way a run can end, the time to recover, the drill's timeout, faults-only runs and the ledger.
import { describe, expect, it } from 'vitest';
import { edgeNames } from '../../chaos/src/core/topology.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { parseDrill } from '../../chaos/src/drill/file.ts';
import type { Phase, RunHooks } from '../../chaos/src/drill/journal.ts';
import type { LedgerReader } from '../../chaos/src/drill/ledger.ts';
import type { FaultImplementation, InjectedFault, LoadRun, Platform } from '../../chaos/src/drill/platform.ts';
import { runDrill } from '../../chaos/src/drill/runner.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shop in memory: a breaker that opens while gateway-catalog is cut, and replicas a kill takes away for a while. */
function fakePlatform(opts: { traffic?: boolean; failInject?: boolean; failRemove?: boolean; replaceAfterMs?: number; healAfterMs?: number; acks?: string[]; completed?: string[] } = {}) {
  const events: Array<{ at: number; what: string }> = [];
  const t0 = Date.now();
  const log = (what: string) => events.push({ at: Date.now() - t0, what });
  let cut = false;
  let healedAt = 0;
  let kitchen = ['kitchen-0', 'kitchen-1'];
  const breaker = () => (cut ? 2 : 0);
  // The error ratio stays high for healAfterMs after the cut ends: how long the shop takes to recover.
  const errors = () => (cut || Date.now() - healedAt < (opts.healAfterMs ?? 0) ? 0.5 : 0);
  const edge: FaultImplementation<never> = {
    async inject(planned: { edge: string; kind: string }) {
      if (opts.failInject) throw new Error('the API server said no');
      log(`inject ${planned.kind} ${planned.edge}`);
      cut = true;
      return {
        target: planned.edge,
        injectedAt: new Date().toISOString(),
        evidence: { probe: 'no answer' },
        effective: true,
        summary: 'a request through it got no answer',
        async remove() {
          log(`remove ${planned.edge}`);
          cut = false;
          healedAt = Date.now();
          if (opts.failRemove) throw new Error('left after removal: policy-1');
          return {};
        },
      } satisfies InjectedFault;
    },
  };
  const loads: string[] = [];
  const platform: Platform = {
    name: 'local',
    where: 'a fake shop',
    traffic: opts.traffic ?? true,
    faults: {
      'network-partition': edge,
      latency: { unsupported: 'not in this fake' },
      'pod-kill': {
        async inject(planned) {
          log(`kill ${planned.replicas.join(',')}`);
          kitchen = kitchen.filter((k) => !planned.replicas.includes(k));
          const killedAt = Date.now();
          setTimeout(() => (kitchen = ['kitchen-0', 'kitchen-1']), opts.replaceAfterMs ?? 100);
          return {
            target: planned.replicas.join(','),
            injectedAt: new Date().toISOString(),
            evidence: {},
            effective: true,
            summary: 'gone',
            recovered: async () => (kitchen.length === 2 ? { after: Date.now() - killedAt } : undefined),
            remove: async () => (log('remove kill marker'), {}),
          };
        },
      },
      flood: { unsupported: 'not in this fake' },
      pause: { unsupported: 'not in this fake' },
    },
    connect: async () => (opts.traffic === false ? undefined : { gateway: 'http://gateway.invalid', prometheus: 'http://prometheus.invalid', apiKeys: { local: 'l', load: 'k' } }),
    inventory: async () => ({ replicas: { gateway: ['gateway-0'], kitchen: [...kitchen], catalog: ['catalog-0', 'catalog-1'] }, edges: edgeNames }),
    replicaMetrics: async (service) => (service === 'gateway' ? [`circuit_breaker_state{dependency="catalog"} ${breaker()}\nerror_ratio ${errors()}\n`] : []),
    async startLoad(load, ctx) {
      log(`load ${load.script}`);
      loads.push(ctx.name);
      let stopped = false;
      const finished = sleep(load.duration ?? 0);
      return {
        label: `fake ${ctx.name}`,
        observedRate: async () => load.rate,
        done: async () => (await Promise.race([finished, new Promise((r) => setInterval(() => stopped && r(undefined), 5))]), { iterations: 10, droppedIterations: 0, httpReqs: 10, failedRate: 0 }),
        stop: async () => void (stopped = true),
        acks: async () => (opts.acks ?? []).map((id, i) => ({ key: `key-${i}`, id, attempt: 0 })),
      } satisfies LoadRun;
    },
    ledger: async (): Promise<LedgerReader> => ({
      completed: async (ids) => new Set(ids.filter((id) => (opts.completed ?? opts.acks ?? []).includes(id))),
      acceptedSince: async () => new Set(opts.acks ?? []),
      redelivered: async () => new Set(),
      recorded: async (ids) => new Set(ids),
      close: async () => undefined,
    }),
    close: async () => undefined,
  };
  return { platform, events, loads };
}

const drillText = (method: string, extra = '') => `name: fake
sampleEvery: 20ms
timeout: 10s
steadyState:
  recoveryTimeout: 2s
  probes:
    - { name: gateways, replicas: { services: [gateway] }, tolerance: { min: 1 } }
    - { name: errors, metric: { service: gateway, name: error_ratio }, tolerance: { max: 0.1 } }
probes:
  - { name: breaker, metric: { service: gateway, name: circuit_breaker_state, labels: { dependency: catalog } }, tolerance: { max: 0 } }
  - { name: kitchens, replicas: { services: [kitchen] }, tolerance: { min: 0 } }
method:
${method}
verifications:
  - { name: the breaker opens at once, probe: breaker, during: fault, expect: { reaches: { min: 2 }, within: 200ms } }
  - { name: the breaker is closed after, probe: breaker, during: recovery, expect: { always: { max: 0 } } }
${extra}`;

const partition = (duration: string) => `  - fault: { kind: network-partition, selector: { service: gateway }, target: { service: catalog }, duration: ${duration} }`;

function recorder() {
  const phases: Phase[] = [];
  const seen: string[] = [];
  const hooks: RunHooks = { phase: (p) => phases.push(p), faultInjected: (f) => seen.push(`injected ${f.kind}`), faultRemoved: (f) => seen.push(`removed ${f.kind}`), skipped: (w) => seen.push(`skipped ${w}`) };
  return { phases, seen, hooks };
}

describe('the drill runner', () => {
  it('runs the phases in order and judges verifications over the windows they make', async () => {
    const { platform, events } = fakePlatform();
    const { phases, seen, hooks } = recorder();
    const journal = await runDrill(parseDrill(drillText(`  - wait: 100ms\n${partition('300ms')}\n  - wait: 200ms`)), platform, { file: 'fake.yaml', hooks });
    expect(journal.verifications.filter((v) => !v.ok)).toEqual([]);
    expect(journal).toMatchObject({ status: 'completed', verdict: 'pass', platform: 'local', where: 'a fake shop', skipped: [] });
    expect(phases).toEqual(['method', 'rollback', 'recovery', 'verification']);
    expect(seen).toEqual(['injected network-partition', 'removed network-partition']);
    expect(events.map((e) => e.what)).toEqual(['inject network-partition gateway-catalog', 'remove gateway-catalog']);
    const { baseline, fault, recovery } = journal.timings.windows;
    // Less 1 ms: libuv's timers count whole milliseconds of loop time, so a 300 ms wait can measure 299.9 ms on
    // performance.now(), which the windows use (seen once in CI).
    expect(fault[0] - baseline[0]).toBeGreaterThanOrEqual(99);
    expect(fault[1] - fault[0]).toBeGreaterThanOrEqual(299);
    expect(fault[1] - fault[0]).toBeLessThan(450);
    expect(recovery[0]).toBe(fault[1]);
    // Samples every 20 ms, all along: enough to judge each window.
    expect(journal.samples.length).toBeGreaterThan(20);
    expect(journal.faults[0]).toMatchObject({ kind: 'network-partition', target: 'gateway-catalog', effective: true });
    expect(journal.faults[0]!.recoveredAt).toBeDefined();
  });

  it('fails a verification that its window does not bear out, naming what it saw', async () => {
    const { platform } = fakePlatform();
    const text = drillText(`${partition('200ms')}\n  - wait: 100ms`).replace('expect: { always: { max: 0 } }', 'expect: { always: { min: 1 } }');
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal.verdict).toBe('fail');
    expect(journal.verifications.find((v) => v.name === 'the breaker is closed after')).toMatchObject({ ok: false, observed: expect.stringMatching(/^0 at \+/) });
  });

  it('measures the time to recover from the end of the last fault to the first steady reading', async () => {
    const { platform } = fakePlatform({ healAfterMs: 400 });
    const journal = await runDrill(parseDrill(drillText(`${partition('200ms')}\n  - wait: 600ms`)), platform, { file: 'f' });
    expect(journal.timings.timeToRecoverMs).toBeGreaterThanOrEqual(380);
    expect(journal.timings.timeToRecoverMs).toBeLessThan(600);
    expect(journal.verifications.find((v) => v.name === 'the steady state returns after the method')).toMatchObject({ ok: true });
  });

  it('stops on an abort condition read out of tolerance twice, rolls back at once and says aborted', async () => {
    const { platform, events } = fakePlatform();
    const text = drillText(partition('5s'), 'abortConditions:\n  - { name: breaker-open, metric: { service: gateway, name: circuit_breaker_state }, tolerance: { max: 0 } }');
    const started = Date.now();
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(journal).toMatchObject({ status: 'aborted', verdict: 'fail', reason: 'abort condition breaker-open out of tolerance (2)' });
    expect(events.at(-1)!.what).toBe('remove gateway-catalog');
  });

  it('rolls back when interrupted (Ctrl-C), runs the drill’s own rollback steps, and says interrupted', async () => {
    const { platform, events } = fakePlatform();
    const interrupt = new AbortController();
    const text = drillText(partition('5s'), 'rollbacks:\n  - fault: { kind: pod-kill, selector: { service: kitchen }, mode: one }');
    const running = runDrill(parseDrill(text), platform, { file: 'f', signal: interrupt.signal });
    await sleep(300);
    interrupt.abort('SIGINT received');
    const journal = await running;
    expect(journal).toMatchObject({ status: 'interrupted', verdict: 'fail', reason: 'SIGINT received' });
    const whats = events.map((e) => e.what);
    expect(whats.indexOf('remove gateway-catalog')).toBeLessThan(whats.findIndex((w) => w.startsWith('kill kitchen')));
    expect(whats).toContain('remove kill marker');
  });

  it("stops at the drill's timeout and rolls back", async () => {
    const { platform, events } = fakePlatform();
    const text = drillText(partition('30s')).replace('timeout: 10s', 'timeout: 400ms');
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal).toMatchObject({ status: 'interrupted', reason: "the drill's timeout of 0.4 s passed" });
    expect(events.map((e) => e.what)).toContain('remove gateway-catalog');
    expect(journal.timings.durationMs).toBeLessThan(3000);
  });

  it('fails, and still removes what it injected, when a step fails', async () => {
    const { platform, events } = fakePlatform({ failInject: true });
    const text = drillText(`  - fault: { kind: pod-kill, selector: { service: kitchen }, mode: one }\n${partition('1s')}`);
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal).toMatchObject({ status: 'failed', reason: 'the method failed: the API server said no' });
    expect(events.map((e) => e.what)).toContain('remove kill marker');
  });

  it('fails a run whose fault could not be undone', async () => {
    const { platform } = fakePlatform({ failRemove: true });
    const journal = await runDrill(parseDrill(drillText(partition('100ms'))), platform, { file: 'f' });
    expect(journal.verdict).toBe('fail');
    expect(journal.verifications.find((v) => v.name === 'every fault was undone')).toMatchObject({ ok: false, observed: 'network-partition gateway-catalog: left after removal: policy-1' });
  });

  it('holds a kill until the platform has replaced what died, and counts that as its recovery', async () => {
    const { platform, events } = fakePlatform({ replaceAfterMs: 300 });
    const text = drillText('  - fault: { kind: pod-kill, selector: { service: kitchen }, mode: one }\n  - wait: 50ms').replace(/verifications:[\s\S]*$/, 'verifications:\n  - { name: a kitchen is down, probe: kitchens, during: fault, expect: { reaches: { max: 1 } } }\n');
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal.verdict).toBe('pass');
    const [kill] = journal.faults;
    expect(kill!.evidence.replacement).toMatchObject({ after: expect.any(Number) });
    const { fault } = journal.timings.windows;
    expect(fault[1] - fault[0]).toBeGreaterThanOrEqual(280);
    expect(events.at(-1)!.what).toBe('remove kill marker');
  });

  it('reads the recovery window long enough to judge it when the kill is replaced after the last step', async () => {
    const { platform } = fakePlatform({ replaceAfterMs: 300 });
    const verifications = 'verifications:\n  - { name: both kitchens back, probe: kitchens, during: recovery, expect: { reaches: { min: 2 }, within: 1s } }\n  - { name: no breaker after, probe: breaker, during: recovery, expect: { always: { max: 0 } } }\n';
    const text = drillText('  - fault: { kind: pod-kill, selector: { service: kitchen }, mode: one }\n  - wait: 50ms').replace(/verifications:[\s\S]*$/, verifications);
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal.verifications.filter((v) => !v.ok)).toEqual([]);
    const [from, to] = journal.timings.windows.recovery;
    expect(journal.samples.filter((s) => s.t >= from && s.t <= to).length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a fault kind the platform cannot do before anything runs', async () => {
    const { platform, events } = fakePlatform();
    const text = drillText(`${partition('1s')}\n  - fault: { kind: latency, selector: { service: gateway }, target: { service: orders }, latency: 10ms, duration: 1s }`);
    await expect(runDrill(parseDrill(text), platform, { file: 'f' })).rejects.toThrow(UsageError);
    await expect(runDrill(parseDrill(text), platform, { file: 'f' })).rejects.toThrow(/the local runtime cannot do latency: not in this fake/);
    expect(events).toEqual([]);
  });

  it('refuses an unknown target before the first fault', async () => {
    const { platform, events } = fakePlatform();
    const text = drillText(`${partition('1s')}\n  - fault: { kind: network-partition, selector: { service: kitchen }, target: { service: catalog }, duration: 1s }`);
    await expect(runDrill(parseDrill(text), platform, { file: 'f' })).rejects.toThrow(/kitchen does not talk to catalog/);
    expect(events).toEqual([]);
  });

  it('on a platform without traffic, runs the faults only and lists what it skipped', async () => {
    const { platform, events } = fakePlatform({ traffic: false });
    const { seen, hooks } = recorder();
    const text = drillText(`  - load: { script: orders.js, rate: 5, duration: 1s }\n${partition('100ms')}`);
    const journal = await runDrill(parseDrill(text), platform, { file: 'f', hooks });
    expect(journal.verdict).toBe('pass');
    expect(events.map((e) => e.what)).toEqual(['inject network-partition gateway-catalog', 'remove gateway-catalog']);
    expect(journal.samples).toEqual([]);
    expect(journal.skipped).toEqual([
      'steady state, probes, abort conditions and verifications over probes: a faults-only run on a fake shop reads no metrics',
      'load orders.js: a faults-only run on a fake shop sends no traffic',
      'verifications "the breaker opens at once", "the breaker is closed after": they read probes',
    ]);
    expect(seen.filter((s) => s.startsWith('skipped'))).toHaveLength(3);
  });

  it('reconciles every acknowledged order with the ledger and fails on a lost one', async () => {
    const acks = ['ord_1', 'ord_2', 'ord_3'];
    const text = drillText(`  - load: { script: orders.js, rate: 5, duration: 200ms }\n${partition('100ms')}\n  - wait: 200ms`, 'ledger: { drainTimeout: 600ms }');
    const clean = await runDrill(parseDrill(text), fakePlatform({ acks }).platform, { file: 'f' });
    expect(clean.ledger).toMatchObject({ accepted: 3, completed: 3, lost: 0, duplicated: 0 });
    expect(clean.verifications.filter((v) => !v.ok)).toEqual([]);
    expect(clean.verdict).toBe('pass');
    expect(clean.loads).toEqual([{ name: 'load-0', script: 'orders.js', label: 'fake load-0', summary: { iterations: 10, droppedIterations: 0, httpReqs: 10, failedRate: 0 } }]);
    const lossy = await runDrill(parseDrill(text), fakePlatform({ acks, completed: ['ord_1', 'ord_3'] }).platform, { file: 'f' });
    expect(lossy.ledger).toMatchObject({ accepted: 3, completed: 2, lost: 1, lostIds: ['ord_2'] });
    expect(lossy.verifications.find((v) => v.name === 'no acknowledged order was lost')).toMatchObject({ ok: false, observed: 'lost = 1 (e.g. ord_2) of 3' });
    expect(lossy.verdict).toBe('fail');
  });

  it("applies the platform's adjustments from the drill file, with their reasons", async () => {
    const { platform } = fakePlatform();
    const text = drillText(`${partition('200ms')}\n  - wait: 100ms`, `platforms:
  local:
    - verification: the breaker opens at once
      expect: { reaches: { min: 2 }, within: 1s }
      reason: this fake's breaker opens at once, but say so anyway
  kubernetes:
    - verification: the breaker opens at once
      expect: { reaches: { min: 5 } }
      reason: never applied on the local platform`);
    const journal = await runDrill(parseDrill(text), platform, { file: 'f' });
    expect(journal.verdict).toBe('pass');
    expect(journal.adjustments).toEqual([{ platform: 'local', target: 'verification "the breaker opens at once"', change: '{"expect":{"reaches":{"min":2},"within":1000}}', reason: "this fake's breaker opens at once, but say so anyway" }]);
    expect(journal.verifications.find((v) => v.name === 'the breaker opens at once')!.expected).toContain('within 1 s');
  });
});
