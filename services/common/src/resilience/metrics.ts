import { Counter, Gauge, type Registry } from 'prom-client';

const perRegistry = new WeakMap<Registry, ReturnType<typeof create>>();

function create(registry: Registry) {
  const registers = [registry];
  return {
    breakerState: new Gauge({ name: 'circuit_breaker_state', help: 'Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open.', labelNames: ['dependency'] as const, registers }),
    breakerTransitions: new Counter({ name: 'circuit_breaker_transitions_total', help: 'Circuit breaker state changes per dependency, by the state entered.', labelNames: ['dependency', 'state'] as const, registers }),
    calls: new Counter({ name: 'dependency_calls_total', help: 'Calls to a dependency by result: ok, failure (counts against the breaker), refused (a live upstream said no), rejected (breaker open).', labelNames: ['dependency', 'result'] as const, registers }),
    retries: new Counter({ name: 'dependency_retries_total', help: 'Retries of idempotent calls per dependency.', labelNames: ['dependency'] as const, registers }),
    budgetExhausted: new Counter({ name: 'retry_budget_exhausted_total', help: 'Retries not made because the retry budget was spent.', labelNames: ['dependency'] as const, registers }),
    shed: new Counter({ name: 'requests_shed_total', help: 'Requests refused before any work, by reason.', labelNames: ['reason'] as const, registers }),
  };
}

/** The resilience metrics of one service, created once per registry. */
export function resilienceMetrics(registry: Registry) {
  let m = perRegistry.get(registry);
  if (!m) perRegistry.set(registry, (m = create(registry)));
  return m;
}
