// What the Kubernetes runtime refuses before it touches anything: each refusal is a UsageError, so exit 2. (Fault
// kinds it cannot do are refused by the runner, from faults/; greedy pod kills by the pod-kill kind's plan.)
import { UsageError } from '../../core/errors.ts';

/** Chaos only where the operator allowed it. */
export function assertNamespaceAllowed(namespace: string, allowed: readonly string[]) {
  if (!allowed.includes(namespace)) {
    throw new UsageError(`namespace ${namespace} is not allowed for chaos; the allowed namespaces are ${allowed.join(', ') || 'none'} (FAULTLINE_ALLOWED_NAMESPACES)`);
  }
}
