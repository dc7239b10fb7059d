// A run's progress on a terminal: phases, each fault and load as it starts and ends, and once a second a line of live
// figures (the shop's vital signs from Prometheus, and every probe's latest reading).
import { formatDuration } from './fields.ts';
import type { FaultRecord, Phase, RunHooks } from './journal.ts';
import { vitalSigns } from './probes.ts';

export function consoleHooks(print: (line: string) => void = console.log): RunHooks {
  let prometheus: string | undefined;
  let lastPrint = 0;
  let printing = false;
  const readings = (values: Record<string, number | undefined>) =>
    Object.entries(values)
      .map(([k, v]) => `${k}=${v === undefined ? '?' : Math.round(v * 1000) / 1000}`)
      .join(' ');
  return {
    started: (info) => {
      prometheus = info.prometheus;
      print(`drill ${info.drill} on ${info.where} (run ${info.run})${info.dashboard ? `; watch it live at ${info.dashboard}` : ''}`);
    },
    phase: (phase: Phase, reason) => phase !== 'verification' && print(phase === 'rollback' && reason ? `rollback (${reason})` : phase),
    steadyState: (when, list, ttr) =>
      print(
        `steady state ${when}: ${list.map((r) => `${r.name}=${r.value ?? '?'}${r.ok ? '' : ' (out of tolerance)'}`).join(', ')}${when === 'after' ? (ttr !== undefined ? `; recovered ${(ttr / 1000).toFixed(1)} s after the last fault ended` : ' — NOT recovered') : ''}`,
      ),
    sample: (sample, phase, active: FaultRecord[]) => {
      if (printing || Date.now() - lastPrint < 1000) return;
      lastPrint = Date.now();
      printing = true;
      void (prometheus ? vitalSigns(prometheus) : Promise.resolve('')).then((vitals) => {
        printing = false;
        const faults = active.map((f) => `${f.kind} ${f.target}`);
        print(`  [${phase.padEnd(12)} ${(sample.t / 1000).toFixed(1).padStart(6)} s] ${vitals} | ${readings(sample.values)}${faults.length ? ` | active: ${faults.join(', ')}` : ''}`);
      });
    },
    faultInjected: (f) => print(`  ${f.kind} ${f.target}: ${f.summary}`),
    faultRemoved: (f) => print(`  ${f.kind} ${f.target} removed${f.evidence.removeError ? ` with an error: ${String(f.evidence.removeError)}` : ''}`),
    loadStarted: (l) => print(`  load ${l.name}: k6 ${l.label}, ${l.script}${l.rate ? ` at ${l.rate}/s` : ''}`),
    skipped: (what) => print(`  skipped: ${what}`),
    ledger: (stage, acks, drainMs) => stage === 'reconciling' && print(`ledger: reconciling ${acks} acknowledged orders (drain up to ${formatDuration(drainMs)})`),
  };
}
