import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { UsageError } from '../local/runtime.ts';
import { startK6, type K6Run, type K6Summary } from './k6.ts';
import { checkLedger, type LedgerCheck } from './ledger.ts';
import { planFault, preflight } from './plan.ts';
import { localPlatform } from './platform-local.ts';
import { probeTolerance, readProbe, sharedScrape, vitalSigns } from './probes.ts';
import type { Drill, Fault, Probe, Step } from './schema.ts';
import { verify, within, type Sample, type VerificationResult, type Windows } from './verify.ts';

export interface FaultRecord {
  kind: Fault['kind'];
  target: string;
  injectedAt: string;
  recoveredAt?: string;
  /** What shows that the fault took effect, and that it was undone. */
  evidence: Record<string, unknown>;
  effective: boolean;
}

export interface Journal {
  drill: string;
  file: string;
  platform: 'local';
  status: 'completed' | 'failed' | 'aborted' | 'interrupted';
  verdict: 'pass' | 'fail';
  reason?: string;
  startedAt: string;
  endedAt: string;
  timings: { durationMs: number; timeToRecoverMs?: number; windows: Windows };
  steadyState: { before: ProbeReading[]; after: ProbeReading[] };
  faults: FaultRecord[];
  loads: Array<{ script: string; summary?: K6Summary; error?: string }>;
  verifications: VerificationResult[];
  ledger?: LedgerCheck;
  samples: Sample[];
  probes: string[];
}

interface ProbeReading {
  name: string;
  value: number | undefined;
  ok: boolean;
}

export interface RunOptions {
  portBase: number;
  /** Where this drill's files go (k6 output here; the journal and reports are written by the caller). */
  reportDir: string;
  print: (line: string) => void;
}

class Stop extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new Stop());
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(new Stop())), { once: true });
  });

/**
 * Runs a drill on the local platform: preflight, steady state before, the method while probes and abort
 * conditions are read all along, rollback (always), steady state after with the time to recover,
 * verifications, and the ledger reconciliation.
 */
export async function runDrill(drill: Drill, file: string, opts: RunOptions): Promise<Journal> {
  const { print } = opts;
  const platform = localPlatform(opts.portBase);
  const stack = await platform.status().catch((err: Error) => {
    throw new UsageError(err.message);
  });
  preflight(drill, await platform.inventory());

  const run = `${drill.name}-${randomBytes(3).toString('hex')}`;
  rmSync(join(opts.reportDir, 'k6'), { recursive: true, force: true }); // a previous run's acknowledgements are not this run's
  const t0 = Date.now();
  const at = () => Date.now() - t0;
  const stop = new AbortController();
  let status: Journal['status'] = 'completed';
  let reason: string | undefined;
  const end = (s: Journal['status'], why: string) => {
    if (stop.signal.aborted) return;
    status = s;
    reason = why;
    stop.abort();
  };
  const onSignal = (signal: NodeJS.Signals) => end('interrupted', `${signal} received`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timeout = setTimeout(() => end('interrupted', `the drill's timeout of ${drill.timeout / 1000} s passed`), drill.timeout);

  const faults: FaultRecord[] = [];
  const edgeFaults = new Map<string, FaultRecord>();
  const k6Runs: Array<{ script: string; run: K6Run }> = [];
  const pending: Promise<unknown>[] = [];
  const probes = uniqueProbes([...drill.steadyState.probes, ...drill.probes, ...drill.abortConditions]);
  const samples: Sample[] = [];
  let phase = 'steady state';
  let firstInjection: number | undefined;
  let lastRecovery: number | undefined;
  const markInjected = () => (firstInjection ??= at());
  const markRecovered = () => (lastRecovery = Math.max(lastRecovery ?? 0, at()));
  const faultTarget = (record: FaultRecord) => `${record.kind} ${record.target}`;

  const read = async (list: Probe[]) => {
    const values: Record<string, number | undefined> = {};
    const scrape = sharedScrape();
    await Promise.all(list.map(async (p) => (values[p.name] = await readProbe(p, stack, scrape))));
    return values;
  };

  // The sampler: every probe, all along; two bad readings in a row of an abort condition stop the drill.
  let sampling = true;
  const misses = new Map<string, number>();
  const sampler = (async () => {
    let lastPrint = 0;
    while (sampling) {
      const started = Date.now();
      const values = await read(probes);
      samples.push({ t: at(), values });
      if (phase === 'method') {
        for (const p of drill.abortConditions) {
          const bad = !within(values[p.name], probeTolerance(p));
          misses.set(p.name, bad ? (misses.get(p.name) ?? 0) + 1 : 0);
          if ((misses.get(p.name) ?? 0) >= 2) end('aborted', `abort condition ${p.name} out of tolerance (${values[p.name] ?? 'no reading'})`);
        }
      }
      if (Date.now() - lastPrint >= 1000) {
        lastPrint = Date.now();
        print(progressLine(phase, at(), await vitalSigns(stack.urls.prometheus), values, faults));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, drill.sampleEvery - (Date.now() - started))));
    }
  })();

  const readSteady = async (): Promise<ProbeReading[]> => {
    const values = await read(drill.steadyState.probes);
    return drill.steadyState.probes.map((p) => ({ name: p.name, value: values[p.name], ok: within(values[p.name], probeTolerance(p)) }));
  };

  const startLoad = async (load: NonNullable<Step['load']> | Extract<Fault, { kind: 'flood' }>, name: string) => {
    const k6 = await startK6(load, { name, gateway: stack.urls.gateway, apiKey: stack.apiKeys[load.apiKey]!, run, dir: join(opts.reportDir, 'k6') });
    k6Runs.push({ script: load.script, run: k6 });
    return k6;
  };

  const inject = async (fault: Fault, signal: AbortSignal) => {
    const planned = planFault(fault, await platform.inventory());
    if (planned.kind === 'pod-kill') {
      const killed = await platform.kill(planned.replicas);
      const record: FaultRecord = { kind: 'pod-kill', target: planned.replicas.join(','), injectedAt: new Date().toISOString(), evidence: { killed }, effective: killed.every((k) => k.exited && k.signal === 'SIGKILL') };
      faults.push(record);
      markInjected();
      const marker = await platform.trackFault({ drill: drill.name, kind: 'pod-kill', target: record.target, durationMs: 60_000 }).catch(() => undefined);
      print(`  pod-kill ${record.target}: ${killed.map((k) => `pid ${k.pid} ${k.exited ? `gone (${k.signal})` : 'still running'}`).join(', ')}`);
      // Recovered when every killed replica runs again under a new pid and is ready.
      pending.push(
        (async () => {
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline) {
            const s = await platform.status().catch(() => undefined);
            const back = s?.components.filter((c) => planned.replicas.includes(c.name) && c.health === 'ready' && !killed.some((k) => k.pid === c.pid));
            if (back && back.length === planned.replicas.length) {
              record.recoveredAt = new Date().toISOString();
              record.evidence.restarted = back.map((c) => ({ name: c.name, pid: c.pid }));
              markRecovered();
              if (marker) await platform.removeFault(marker.id).catch(() => undefined);
              return;
            }
            await new Promise((r) => setTimeout(r, 250));
          }
        })(),
      );
      return;
    }
    if (planned.kind === 'flood') {
      const k6 = await startLoad(planned.fault, `flood-${faults.length}`);
      const f = planned.fault;
      const record: FaultRecord = { kind: 'flood', target: `gateway via ${f.script}`, injectedAt: new Date().toISOString(), evidence: { pid: k6.pid }, effective: false };
      faults.push(record);
      markInjected();
      const floodMs = f.duration ?? f.stages!.reduce((sum, st) => sum + st.duration, 0);
      const marker = await platform.trackFault({ drill: drill.name, kind: 'flood', target: f.script, durationMs: floodMs + 5000 }).catch(() => undefined);
      const observed = await k6.observedRate();
      const asked = f.executor === 'constant-arrival-rate' ? f.rate! : undefined;
      record.evidence.askedRate = asked ?? 'ramping';
      record.evidence.observedRate = observed;
      record.effective = observed !== undefined && (asked === undefined ? observed > 0 : observed >= 0.8 * asked);
      print(`  flood: k6 pid ${k6.pid} running at ${observed ?? '?'} iterations/s${asked ? ` (asked ${asked}/s)` : ''}`);
      try {
        await Promise.race([k6.done(), sleep(10 * 60_000, signal)]);
      } finally {
        k6.stop();
        record.recoveredAt = new Date().toISOString();
        markRecovered();
        if (marker) await platform.removeFault(marker.id).catch(() => undefined);
      }
      return;
    }
    const injected = await platform.injectEdgeFault({ drill: drill.name, kind: planned.kind, edge: planned.edge as never, direction: planned.direction, durationMs: planned.durationMs, latencyMs: planned.latencyMs, jitterMs: planned.jitterMs ?? 0 });
    const probe = injected.evidence.injected;
    const effective = planned.kind === 'network-partition' ? probe?.answered === false : probe?.answered === true && probe.ms >= 0.8 * (planned.latencyMs ?? 0);
    const record: FaultRecord = { kind: planned.kind, target: planned.edge, injectedAt: injected.injectedAt, evidence: { id: injected.id, toxics: injected.toxics, expiresAt: injected.expiresAt, probe }, effective };
    faults.push(record);
    edgeFaults.set(injected.id, record);
    markInjected();
    print(`  ${planned.kind} ${planned.edge} (${planned.direction}) until ${injected.expiresAt.slice(11, 23)}: a request through it ${probe?.answered ? `answered in ${probe.ms} ms` : `got no answer (${probe?.failure})`}`);
    try {
      await sleep(planned.durationMs, signal);
    } finally {
      await removeFault(injected.id);
    }
  };

  const removeFault = async (id: string) => {
    const record = edgeFaults.get(id);
    if (!record || record.recoveredAt) return;
    const removed = await platform.removeFault(id).catch((err: Error) => ({ error: err.message }) as const);
    if ('error' in removed) {
      record.evidence.removeError = removed.error;
      return;
    }
    record.recoveredAt = removed.recoveredAt;
    record.evidence.recovered = removed.evidence.recovered;
    record.evidence.removedBy = removed.removedBy;
    markRecovered();
  };

  const execute = async (steps: Step[], signal: AbortSignal): Promise<void> => {
    for (const s of steps) {
      if (signal.aborted) throw new Stop();
      if (s.wait !== undefined) await sleep(s.wait, signal);
      if (s.fault) await inject(s.fault, signal);
      if (s.parallel) await Promise.all(s.parallel.map((p) => execute([p], signal)));
      if (s.load) {
        const k6 = await startLoad(s.load, `load-${k6Runs.length}`);
        print(`  load: k6 pid ${k6.pid}, ${s.load.script}${s.load.rate ? ` at ${s.load.rate}/s` : ''}`);
        const finished = k6.done();
        if (s.load.background) pending.push(finished.catch(() => undefined));
        else await Promise.race([finished, sleep(10 * 60_000, signal)]);
      }
    }
  };

  let before: ProbeReading[] = [];
  let after: ProbeReading[] = [];
  let timeToRecoverMs: number | undefined;
  let methodStart = 0;
  let methodEnd = 0;
  try {
    print(`drill ${drill.name} on the local stack (run ${run})`);
    // A probe may lack data for a moment (a fresh series, a scrape not yet in): give it a few readings.
    for (let tries = 0; tries < 10; tries++) {
      before = await readSteady();
      if (before.every((r) => r.ok)) break;
      await sleep(1000, stop.signal);
    }
    print(`steady state before: ${before.map((r) => `${r.name}=${r.value ?? '?'}${r.ok ? '' : ' (out of tolerance)'}`).join(', ')}`);
    if (before.some((r) => !r.ok)) {
      end('failed', `the steady state did not hold before the method: ${before.filter((r) => !r.ok).map((r) => r.name).join(', ')}`);
    } else {
      phase = 'method';
      methodStart = at();
      print('method');
      await execute(drill.method, stop.signal);
      print('method done; waiting for background load');
      await Promise.race([Promise.all(pending), sleep(10 * 60_000, stop.signal)]);
    }
  } catch (err) {
    if (!(err instanceof Stop)) end('failed', `the method failed: ${(err as Error).message}`);
  } finally {
    methodEnd = at();
    phase = 'rollback';
    print(`rollback${reason ? ` (${reason})` : ''}`);
    for (const k of k6Runs) k.run.stop();
    await Promise.all([...edgeFaults.keys()].map(removeFault));
    if (drill.rollbacks.length) await execute(drill.rollbacks, new AbortController().signal).catch((err: Error) => print(`  a rollback step failed: ${err.message}`));
    clearTimeout(timeout);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  if (before.length > 0 && before.every((r) => r.ok)) {
    phase = 'recovery';
    const recoveryFrom = lastRecovery ?? methodEnd;
    // The time to recover: the first reading after the last fault ended in which every steady-state probe held.
    const steadyAgain = samples.find((x) => x.t >= recoveryFrom && drill.steadyState.probes.every((p) => within(x.values[p.name], probeTolerance(p))));
    const deadline = Date.now() + drill.steadyState.recoveryTimeout;
    while (true) {
      after = await readSteady();
      if (after.every((r) => r.ok)) {
        timeToRecoverMs = Math.max(0, (steadyAgain?.t ?? at()) - recoveryFrom);
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    print(`steady state after: ${after.map((r) => `${r.name}=${r.value ?? '?'}`).join(', ')}${timeToRecoverMs !== undefined ? `; recovered ${(timeToRecoverMs / 1000).toFixed(1)} s after the last fault ended` : ' — NOT recovered'}`);
  }
  await Promise.allSettled(pending);
  sampling = false;
  await sampler;

  const whole: [number, number] = [methodStart, at()];
  const windows: Windows = {
    baseline: [methodStart, firstInjection ?? methodEnd],
    fault: [firstInjection ?? methodEnd, lastRecovery ?? methodEnd],
    recovery: [lastRecovery ?? methodEnd, at()],
    whole,
  };
  const verifications = [
    ...faults.map((f) => ({ name: `${faultTarget(f)} took effect`, ok: f.effective, expected: 'evidence that the fault was in force', observed: JSON.stringify(f.evidence.probe ?? f.evidence.killed ?? { observedRate: f.evidence.observedRate }) })),
    ...verify(drill, samples, windows),
    ...(after.length ? [{ name: 'the steady state returns after the method', ok: timeToRecoverMs !== undefined, expected: `within ${drill.steadyState.recoveryTimeout / 1000} s`, observed: timeToRecoverMs !== undefined ? `${(timeToRecoverMs / 1000).toFixed(1)} s` : after.filter((r) => !r.ok).map((r) => `${r.name}=${r.value ?? 'no reading'}`).join(', ') }] : []),
  ];

  let ledger: LedgerCheck | undefined;
  const acks = k6Runs.flatMap((k) => k.run.acks());
  if (k6Runs.length > 0) {
    print(`ledger: reconciling ${acks.length} acknowledged orders (drain up to ${drill.ledger.drainTimeout / 1000} s)`);
    const redis = new Redis(stack.urls.redis, { lazyConnect: true, maxRetriesPerRequest: 2 });
    try {
      await redis.connect();
      ledger = await checkLedger(redis, acks, { client: 'load', since: t0, drainMs: drill.ledger.drainTimeout });
    } finally {
      redis.disconnect();
    }
    verifications.push(
      { name: 'no acknowledged order was lost', ok: ledger.lost === 0, expected: 'lost = 0', observed: `lost = ${ledger.lost}${ledger.lost ? ` (e.g. ${ledger.lostIds.slice(0, 3).join(', ')})` : ''} of ${ledger.accepted}` },
      { name: 'no order was duplicated', ok: ledger.duplicated === 0, expected: 'duplicated = 0', observed: `duplicated = ${ledger.duplicated}` },
    );
  }
  const loads = await Promise.all(k6Runs.map(async (k) => ({ script: k.script, ...(await k.run.done().then((summary) => ({ summary }), (err: Error) => ({ error: err.message }))) })));
  const verdict = status === 'completed' && verifications.every((v) => v.ok) ? 'pass' : 'fail';
  return {
    drill: drill.name,
    file,
    platform: 'local',
    status,
    verdict,
    ...(reason ? { reason } : {}),
    startedAt: new Date(t0).toISOString(),
    endedAt: new Date().toISOString(),
    timings: { durationMs: at(), ...(timeToRecoverMs !== undefined ? { timeToRecoverMs } : {}), windows },
    steadyState: { before, after },
    faults,
    loads,
    verifications,
    ...(ledger ? { ledger } : {}),
    samples,
    probes: probes.map((p) => p.name),
  };
}

function uniqueProbes(list: Probe[]) {
  return [...new Map(list.map((p) => [p.name, p])).values()];
}

function progressLine(phase: string, ms: number, vitals: string, values: Record<string, number | undefined>, faults: FaultRecord[]) {
  const readings = Object.entries(values)
    .map(([k, v]) => `${k}=${v === undefined ? '?' : Math.round(v * 1000) / 1000}`)
    .join(' ');
  const active = faults.filter((f) => !f.recoveredAt).map((f) => `${f.kind} ${f.target}`);
  return `  [${phase.padEnd(12)} ${(ms / 1000).toFixed(1).padStart(6)} s] ${vitals} | ${readings}${active.length ? ` | active: ${active.join(', ')}` : ''}`;
}
