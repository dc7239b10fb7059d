// The one drill runner, for every platform: preflight, steady state before, the method while probes and abort
// conditions are read all along, rollback (always: on pass, fail, abort, interruption and timeout), steady state
// after with the time to recover, verifications over the phase windows, and the ledger reconciliation.
import { randomBytes } from 'node:crypto';
import { Stopped } from '../core/errors.ts';
import { sleep } from '../core/time.ts';
import { forPlatform } from './adjust.ts';
import { checkLedger, type LedgerCheck } from './ledger.ts';
import type { Journal, Phase, ProbeReading, RunHooks, RunStatus } from './journal.ts';
import { methodRunner } from './method.ts';
import { assertSupported, preflight, unsupportedOf } from './plan.ts';
import type { Platform } from './platform.ts';
import { probeTolerance } from './probes.ts';
import { startSampler, type Sampler } from './sampler.ts';
import { allProbes, type Drill, type Probe } from './schema.ts';
import { recoveryJudgeable, verify, within, type VerificationResult, type Windows } from './verify.ts';

export type { FaultRecord, Journal, RunHooks } from './journal.ts';

export interface RunOptions {
  /** The drill file's path, for the journal. */
  file: string;
  hooks?: RunHooks;
  /** Aborting it interrupts the run (Ctrl-C): rollback still runs; its reason goes into the journal. */
  signal?: AbortSignal;
}

const uniqueProbes = (list: Probe[]) => [...new Map(list.map((p) => [p.name, p])).values()];

/** Runs a drill on a platform; the caller owns the platform (connect is idempotent; close it after reading what the report needs). */
export async function runDrill(file: Drill, platform: Platform, opts: RunOptions): Promise<Journal> {
  const hooks = opts.hooks ?? {};
  const { drill, adjustments } = forPlatform(file, platform.name);
  assertSupported(drill, platform.name, unsupportedOf(platform.faults));
  const endpoints = await platform.connect();
  preflight(drill, await platform.inventory());
  return run(drill, platform, endpoints, { ...opts, hooks, adjustments });
}

async function run(drill: Drill, platform: Platform, endpoints: Awaited<ReturnType<Platform['connect']>>, opts: RunOptions & { hooks: RunHooks; adjustments: Journal['adjustments'] }): Promise<Journal> {
  const { hooks } = opts;
  const runId = `${drill.name}-${randomBytes(3).toString('hex')}`;
  const t0 = Date.now();
  // Sub-millisecond, so that a reading begun just before a fault's removal never shares its stamp (and its window).
  const started = performance.now();
  const at = () => performance.now() - started;
  const stop = new AbortController();
  let status: RunStatus = 'completed';
  let reason: string | undefined;
  const end = (s: RunStatus, why: string) => {
    if (stop.signal.aborted) return;
    status = s;
    reason = why;
    stop.abort();
  };
  const onExternal = () => end('interrupted', String(opts.signal?.reason ?? 'interrupted'));
  if (opts.signal?.aborted) onExternal();
  opts.signal?.addEventListener('abort', onExternal, { once: true });
  const timeout = setTimeout(() => end('interrupted', `the drill's timeout of ${drill.timeout / 1000} s passed`), drill.timeout);

  let phase: Phase = 'steady state';
  const enter = (p: Phase) => {
    phase = p;
    hooks.phase?.(p, reason);
  };
  const method = methodRunner({ platform, drill: drill.name, run: runId, hooks, at });
  const { state } = method;
  const skip = (what: string) => {
    state.skipped.push(what);
    hooks.skipped?.(what);
  };
  const probes = uniqueProbes(allProbes(drill));
  const sampler: Sampler | undefined = endpoints
    ? startSampler({ platform, endpoints, probes, abortConditions: drill.abortConditions, everyMs: drill.sampleEvery, at, phase: () => phase, onSample: (s) => hooks.sample?.(s, phase, state.faults.filter((f) => !f.recoveredAt && !f.evidence.removed)), abort: (why) => end('aborted', why) })
    : undefined;
  hooks.started?.({ drill: drill.name, platform: platform.name, where: platform.where, run: runId, ...(endpoints ? { prometheus: endpoints.prometheus } : {}), ...(endpoints?.dashboard ? { dashboard: endpoints.dashboard } : {}) });
  if (!sampler) skip(`steady state, probes, abort conditions and verifications over probes: a faults-only run on ${platform.where} reads no metrics`);

  const readSteady = async (): Promise<ProbeReading[]> => {
    const values = await sampler!.read(drill.steadyState.probes);
    return drill.steadyState.probes.map((p) => ({ name: p.name, value: values[p.name], ok: within(values[p.name], probeTolerance(p)) }));
  };

  let before: ProbeReading[] = [];
  let after: ProbeReading[] = [];
  let timeToRecoverMs: number | undefined;
  let methodStart = 0;
  let methodEnd = 0;
  try {
    if (sampler) {
      // A probe may lack data for a moment (a fresh series, a scrape not yet in): give it a few readings.
      for (let tries = 0; tries < 10; tries++) {
        before = await readSteady();
        if (before.every((r) => r.ok)) break;
        await sleep(1000, stop.signal);
      }
      hooks.steadyState?.('before', before);
    }
    if (before.some((r) => !r.ok)) {
      end('failed', `the steady state did not hold before the method: ${before.filter((r) => !r.ok).map((r) => r.name).join(', ')}`);
    } else {
      methodStart = at();
      enter('method');
      await method.execute(drill.method, stop.signal);
      await Promise.race([Promise.all(state.pending), sleep(10 * 60_000, stop.signal)]);
    }
  } catch (err) {
    if (!(err instanceof Stopped)) end('failed', `the method failed: ${(err as Error).message}`);
  } finally {
    methodEnd = at();
    enter('rollback');
    await method.endAll();
    // The drill's own rollback steps, bounded even when the run was stopped.
    const rollbackStop = AbortSignal.timeout(120_000);
    if (drill.rollbacks.length) await method.execute(drill.rollbacks, rollbackStop).catch((err: Error) => err instanceof Stopped || end('failed', `a rollback step failed: ${err.message}`));
    await Promise.race([Promise.allSettled(state.pending), sleep(130_000)]);
    await method.endAll();
    clearTimeout(timeout);
    opts.signal?.removeEventListener('abort', onExternal);
  }

  if (sampler && before.length > 0 && before.every((r) => r.ok)) {
    enter('recovery');
    const recoveryFrom = state.lastRecovery ?? methodEnd;
    // The time to recover: the first reading after the last fault ended in which every steady-state probe held.
    // Sampling goes on until then, and until the recovery window's verifications can be judged.
    const deadline = Date.now() + Math.max(drill.steadyState.recoveryTimeout, ...drill.verifications.map((v) => (v.during === 'recovery' ? (v.expect.within ?? 0) : 0)));
    for (;;) {
      if (timeToRecoverMs === undefined) after = await readSteady();
      if (timeToRecoverMs === undefined && after.every((r) => r.ok)) {
        const steadyAgain = sampler.samples.find((x) => x.t >= recoveryFrom && drill.steadyState.probes.every((p) => within(x.values[p.name], probeTolerance(p))));
        timeToRecoverMs = Math.max(0, (steadyAgain?.t ?? at()) - recoveryFrom);
      }
      if ((timeToRecoverMs !== undefined && recoveryJudgeable(drill, sampler.samples, recoveryFrom, at())) || Date.now() > deadline) break;
      await sleep(timeToRecoverMs === undefined ? 500 : drill.sampleEvery);
    }
    hooks.steadyState?.('after', after, timeToRecoverMs);
  }
  await sampler?.stop();
  enter('verification');

  const windows: Windows = {
    baseline: [methodStart, state.firstInjection ?? methodEnd],
    fault: [state.firstInjection ?? methodEnd, state.lastRecovery ?? methodEnd],
    recovery: [state.lastRecovery ?? methodEnd, at()],
    whole: [methodStart, at()],
  };
  const samples = sampler?.samples ?? [];
  const verifications: VerificationResult[] = [
    ...state.faults.map((f) => ({ name: `${f.kind} ${f.target} took effect`, ok: f.effective, expected: 'evidence that the fault was in force', observed: f.summary })),
    ...(state.faults.length
      ? [{ name: 'every fault was undone', ok: state.faults.every((f) => f.evidence.removeError === undefined), expected: 'each fault removed, with nothing of it left', observed: state.faults.filter((f) => f.evidence.removeError !== undefined).map((f) => `${f.kind} ${f.target}: ${String(f.evidence.removeError)}`).join('; ') || 'all removed' }]
      : []),
    ...(sampler ? verify(drill, samples, windows) : []),
    ...(after.length ? [{ name: 'the steady state returns after the method', ok: timeToRecoverMs !== undefined, expected: `within ${drill.steadyState.recoveryTimeout / 1000} s`, observed: timeToRecoverMs !== undefined ? `${(timeToRecoverMs / 1000).toFixed(1)} s` : after.filter((r) => !r.ok).map((r) => `${r.name}=${r.value ?? 'no reading'}`).join(', ') }] : []),
  ];
  if (!sampler && drill.verifications.length) skip(`verifications ${drill.verifications.map((v) => `"${v.name}"`).join(', ')}: they read probes`);

  let ledger: LedgerCheck | undefined;
  if (endpoints && state.loads.length > 0) {
    const acks = (await Promise.all(state.loads.map((l) => l.run.acks().catch(() => [])))).flat();
    hooks.ledger?.('reconciling', acks.length, drill.ledger.drainTimeout);
    const reader = await platform.ledger();
    try {
      ledger = await checkLedger(reader, acks, { clients: [...new Set(state.loads.map((l) => l.apiKey))], since: t0, drainMs: drill.ledger.drainTimeout });
    } catch (err) {
      verifications.push({ name: 'the ledger can be read', ok: false, expected: 'the shop’s Redis answers', observed: (err as Error).message });
    } finally {
      await reader.close();
    }
    if (ledger) {
      hooks.ledger?.('done', acks.length, drill.ledger.drainTimeout);
      verifications.push(
        { name: 'no acknowledged order was lost', ok: ledger.lost === 0, expected: 'lost = 0', observed: `lost = ${ledger.lost}${ledger.lost ? ` (e.g. ${ledger.lostIds.slice(0, 3).join(', ')}${ledger.unrecorded ? `; ${ledger.unrecorded} with no record left` : ''})` : ''} of ${ledger.accepted}` },
        { name: 'no order was duplicated', ok: ledger.duplicated === 0, expected: 'duplicated = 0', observed: `duplicated = ${ledger.duplicated}` },
      );
    }
  } else if (!endpoints && state.faults.some((f) => f.kind === 'flood')) {
    skip('the ledger: a faults-only run sends no orders');
  }
  const loads = await Promise.all(
    state.loads.map(async (l) => ({ name: l.name, script: l.script, label: l.run.label, ...(await l.run.done().then((summary) => ({ summary }), (err: Error) => ({ error: err.message }))) })),
  );
  const verdict = status === 'completed' && verifications.every((v) => v.ok) ? 'pass' : 'fail';
  return {
    drill: drill.name,
    file: opts.file,
    platform: platform.name,
    where: platform.where,
    run: runId,
    status,
    verdict,
    ...(reason ? { reason } : {}),
    startedAt: new Date(t0).toISOString(),
    endedAt: new Date().toISOString(),
    timings: { durationMs: at(), ...(timeToRecoverMs !== undefined ? { timeToRecoverMs } : {}), windows },
    steadyState: { before, after },
    faults: state.faults,
    loads,
    verifications,
    ...(ledger ? { ledger } : {}),
    samples,
    probes: probes.map((p) => p.name),
    adjustments: opts.adjustments,
    skipped: state.skipped,
  };
}
