// The pair of gauges every fault is while it lasts, on both runtimes: the local fault agent and the Kubernetes
// controller export the same names, so dashboards and the FaultPastDeadline alert read either.
import { Gauge, type Registry } from 'prom-client';

export function faultGauges(registry: Registry) {
  const labelNames = ['drill', 'kind', 'target'] as const;
  return {
    active: new Gauge({ name: 'faultline_fault_active', help: 'Faults in effect now, by drill, kind and target (1 while active).', labelNames, registers: [registry] }),
    // The deadline beside each active fault, so an alert can catch one that outlives it.
    expiry: new Gauge({ name: 'faultline_fault_expiry_timestamp_seconds', help: 'When each active fault must be gone, as a Unix time in seconds.', labelNames, registers: [registry] }),
  };
}
