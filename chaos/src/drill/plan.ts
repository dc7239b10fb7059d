import { UsageError } from '../core/errors.ts';
import { forPlatform } from './adjust.ts';
import { describeLoad, formatDuration } from './fields.ts';
import { describeFault, planFault, requireScript, type Fault, type FaultKindName } from './faults/index.ts';
import type { FaultImplementations, Inventory } from './platform.ts';
import type { Drill, PlatformName, Step } from './schema.ts';

/** The faults of some steps, parallel ones included. */
export function faultsOf(steps: Step[]): Fault[] {
  return steps.flatMap((s) => [...(s.fault ? [s.fault] : []), ...faultsOf(s.parallel ?? []), ...faultsOf(s.sequence ?? [])]);
}

/** The kinds a platform refuses, with its reasons. */
export const unsupportedOf = (faults: FaultImplementations): Partial<Record<FaultKindName, string>> =>
  Object.fromEntries(Object.entries(faults).flatMap(([kind, impl]) => ('unsupported' in impl ? [[kind, impl.unsupported]] : [])));

/** Faults the platform cannot do, refused before anything runs (exit 2) with the platform's reason. */
export function assertSupported(drill: Drill, platform: PlatformName, unsupported: Partial<Record<FaultKindName, string>>) {
  for (const f of faultsOf([...drill.method, ...drill.rollbacks])) {
    const why = unsupported[f.kind];
    if (why) throw new UsageError(`${describeFault(f)}: the ${platform} runtime cannot do ${f.kind}: ${why}`);
  }
}

/** Checks every step against the platform before anything runs, so that a bad target stops the drill before its first fault. */
export function preflight(drill: Drill, inventory: Inventory) {
  const walk = (steps: Step[]) => {
    for (const s of steps) {
      if (s.fault) planFault(s.fault, inventory);
      if (s.load) requireScript(s.load.script);
      if (s.parallel) walk(s.parallel);
      if (s.sequence) walk(s.sequence);
    }
  };
  walk(drill.method);
  walk(drill.rollbacks);
}

/** The plan as text, for --dry-run, with the platform's adjustments and their reasons. */
export function describePlan(file: Drill, platform: PlatformName): string[] {
  const { drill, adjustments } = forPlatform(file, platform);
  const lines: string[] = [];
  const walk = (steps: Step[], indent: string) => {
    for (const s of steps) {
      if (s.wait !== undefined) lines.push(`${indent}wait ${formatDuration(s.wait)}`);
      if (s.load) lines.push(`${indent}load ${describeLoad(s.load)}${s.load.background ? ' (in the background)' : ''}`);
      if (s.parallel) {
        lines.push(`${indent}in parallel:`);
        walk(s.parallel, `${indent}  `);
      }
      if (s.sequence) {
        lines.push(`${indent}one after another:`);
        walk(s.sequence, `${indent}  `);
      }
      if (s.fault) lines.push(`${indent}${describeFault(s.fault)}`);
    }
  };
  lines.push(`drill ${drill.name} on ${platform}: timeout ${formatDuration(drill.timeout)}, probes every ${formatDuration(drill.sampleEvery)}`);
  lines.push(`steady state: ${drill.steadyState.probes.map((p) => p.name).join(', ')}`);
  lines.push('method:');
  walk(drill.method, '  ');
  if (drill.rollbacks.length) {
    lines.push('rollbacks (after every fault is removed):');
    walk(drill.rollbacks, '  ');
  }
  lines.push(`verifications: ${drill.verifications.map((v) => v.name).join('; ') || 'none'}; then ledger reconciliation (drain ${formatDuration(drill.ledger.drainTimeout)})`);
  if (drill.abortConditions.length) lines.push(`abort if: ${drill.abortConditions.map((p) => p.name).join(', ')}`);
  for (const a of adjustments) lines.push(`on ${platform}, ${a.target}: ${a.change} (${a.reason})`);
  return lines;
}
