// The method: steps in order (or in parallel), each fault injected through the platform and held the way its kind
// lasts, each load started on the platform. Everything it starts is tracked, so that rollback can end it all.
import { Stopped } from '../core/errors.ts';
import { pause, sleep } from '../core/time.ts';
import { lastsOf, planFault } from './faults/index.ts';
import type { FaultRecord, RunHooks } from './journal.ts';
import type { InjectedFault, LoadRun, Platform } from './platform.ts';
import type { LoadSpec, Step } from './schema.ts';

export interface RunningLoad {
  name: string;
  script: string;
  apiKey: LoadSpec['apiKey'];
  run: LoadRun;
}

export interface MethodState {
  faults: FaultRecord[];
  loads: RunningLoad[];
  /** Background work: loads that run on, kills awaiting their replacement. */
  pending: Promise<unknown>[];
  skipped: string[];
  firstInjection?: number;
  lastRecovery?: number;
}

/** How long a killed replica may take to come back before the kill counts as not recovered. */
const recoveryLimitMs = 120_000;

export function methodRunner(opts: { platform: Platform; drill: string; run: string; hooks: RunHooks; at: () => number }) {
  const { platform, hooks } = opts;
  const state: MethodState = { faults: [], loads: [], pending: [], skipped: [] };
  const live = new Map<FaultRecord, InjectedFault>();
  const markRecovered = (record: FaultRecord) => {
    record.recoveredAt ??= new Date().toISOString();
    state.lastRecovery = Math.max(state.lastRecovery ?? 0, opts.at());
  };

  /** Ends a fault and records its removal; safe to call twice, and never throws (a failed removal is evidence too). */
  const remove = async (record: FaultRecord, recovered = true) => {
    const injected = live.get(record);
    if (!injected) return;
    live.delete(record);
    try {
      record.evidence.removed = await injected.remove();
      if (recovered) markRecovered(record);
    } catch (err) {
      record.evidence.removeError = (err as Error).message;
    }
    hooks.faultRemoved?.(record);
  };

  const startLoad = async (load: LoadSpec, name: string) => {
    const run = await platform.startLoad(load, { name, run: opts.run, drill: opts.drill });
    state.loads.push({ name, script: load.script, apiKey: load.apiKey, run });
    hooks.loadStarted?.({ name, script: load.script, label: run.label, ...(load.rate ? { rate: load.rate } : {}) });
    return run;
  };

  const inject = async (step: NonNullable<Step['fault']>, signal: AbortSignal) => {
    const impl = platform.faults[step.kind];
    if ('unsupported' in impl) throw new Error(`${step.kind} is not supported here: ${impl.unsupported}`); // preflight refuses this first
    const planned = planFault(step, await platform.inventory());
    const injected = await (impl.inject as (p: typeof planned, c: { drill: string; run: string }) => Promise<InjectedFault>)(planned, { drill: opts.drill, run: opts.run });
    const record: FaultRecord = { kind: step.kind, target: injected.target, injectedAt: injected.injectedAt, evidence: injected.evidence, effective: injected.effective, summary: injected.summary };
    state.faults.push(record);
    live.set(record, injected);
    state.firstInjection ??= opts.at();
    if (injected.load) state.loads.push({ name: `flood-${state.faults.length}`, script: planned.kind === 'flood' ? planned.load.script : '', apiKey: planned.kind === 'flood' ? planned.load.apiKey : 'load', run: injected.load });
    hooks.faultInjected?.(record);

    switch (lastsOf(step.kind)) {
      case 'recovery': {
        // Recovered when the platform has replaced what died and it is ready; the fault's marker goes then.
        state.pending.push(
          (async () => {
            const deadline = Date.now() + recoveryLimitMs;
            while (Date.now() < deadline && live.has(record)) {
              const back = await injected.recovered!().catch(() => undefined);
              if (back) {
                record.evidence.replacement = back;
                markRecovered(record);
                return remove(record);
              }
              await pause(250);
            }
            if (live.has(record)) record.evidence.notRecovered = `not replaced and ready within ${recoveryLimitMs / 1000} s`;
            await remove(record, false);
          })(),
        );
        return;
      }
      case 'load':
        try {
          if (injected.load) await Promise.race([injected.load.done().catch(() => undefined), sleep(10 * 60_000, signal)]);
          else if (planned.kind === 'flood') await sleep(planned.durationMs, signal);
        } finally {
          await remove(record);
        }
        return;
      case 'duration':
        try {
          await sleep((planned as { durationMs: number }).durationMs, signal);
        } finally {
          await remove(record);
        }
    }
  };

  const execute = async (steps: Step[], signal: AbortSignal): Promise<void> => {
    for (const s of steps) {
      if (signal.aborted) throw new Stopped('stopped');
      if (s.wait !== undefined) await sleep(s.wait, signal);
      if (s.fault) await inject(s.fault, signal);
      if (s.parallel) await Promise.all(s.parallel.map((p) => execute([p], signal)));
      if (s.sequence) await execute(s.sequence, signal);
      if (s.load) {
        if (!platform.traffic) {
          const what = `load ${s.load.script}: a faults-only run on ${platform.where} sends no traffic`;
          state.skipped.push(what);
          hooks.skipped?.(what);
          continue;
        }
        const run = await startLoad(s.load, `load-${state.loads.length}`);
        const finished = run.done();
        if (s.load.background) state.pending.push(finished.catch(() => undefined));
        else await Promise.race([finished, sleep(10 * 60_000, signal)]);
      }
    }
  };

  return {
    state,
    execute,
    /** Rollback: every load stopped and every fault still live removed, whatever happened before. */
    async endAll() {
      await Promise.all(state.loads.map((l) => l.run.stop().catch(() => undefined)));
      await Promise.all([...live.keys()].map((r) => remove(r)));
    },
  };
}
