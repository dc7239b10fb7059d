// What the Kubernetes runtime refuses before it touches anything: each refusal is a UsageError, so exit 2.
import { planFault, preflight, type Inventory, type PlannedFault } from '../drill/plan.ts';
import type { Drill, Fault, Step } from '../drill/schema.ts';
import { UsageError } from '../local/runtime.ts';

/** Chaos only where the operator allowed it. */
export function assertNamespaceAllowed(namespace: string, allowed: readonly string[]) {
  if (!allowed.includes(namespace)) {
    throw new UsageError(`namespace ${namespace} is not allowed for chaos; the allowed namespaces are ${allowed.join(', ') || 'none'} (FAULTLINE_ALLOWED_NAMESPACES)`);
  }
}

/** A NetworkPolicy can drop connections but not delay packets, so latency has no honest Kubernetes form here. */
export function assertSupported(fault: Fault) {
  if (fault.kind !== 'latency') return;
  throw new UsageError(
    `latency ${fault.selector.service} -> ${fault.target.service}: the Kubernetes runtime cannot add latency (a NetworkPolicy can only allow or refuse traffic). ` +
      'Run this drill on the local runtime (--platform local), or add the delay with Chaos Mesh (NetworkChaos, action: delay).',
  );
}

/** The faults of some steps, parallel ones included. */
export function faultsOf(steps: Step[]): Fault[] {
  return steps.flatMap((s) => [...(s.fault ? [s.fault] : []), ...faultsOf(s.parallel ?? [])]);
}

/** planFault with the Kubernetes runtime's refusals first. */
export function planKubernetesFault(fault: Fault, inventory: Inventory): PlannedFault {
  assertSupported(fault);
  return planFault(fault, inventory);
}

/** The whole drill, before its first fault: unsupported kinds, then every target (as the local preflight does). */
export function preflightKubernetes(drill: Drill, inventory: Inventory) {
  for (const fault of faultsOf([...drill.method, ...drill.rollbacks])) assertSupported(fault);
  preflight(drill, inventory);
}
