import {
  BrokenCircuitError,
  CircuitState,
  ExponentialBackoff,
  SamplingBreaker,
  TimeoutStrategy,
  circuitBreaker,
  fullJitterGenerator,
  handleWhen,
  isTaskCancelledError,
  retry,
  timeout,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { Registry } from 'prom-client';
import { ApiError } from '../errors.ts';
import { DeadlineExceeded } from './deadline.ts';
import { resilienceMetrics } from './metrics.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';

/** A dependency that is down, slow or broken: counts against its breaker and may be retried. */
export class DependencyFailure extends ApiError {
  constructor(dependency: string, why: string, cause?: unknown) {
    super(503, 'dependency_unavailable', `${dependency} ${why}`, { retryAfterSeconds: 1 });
    this.cause = cause;
  }
}

export interface BreakerSettings {
  /** Fraction of failed calls in the window that opens the breaker. */
  threshold: number;
  windowMs: number;
  /** Below this rate the window is too thin to judge, and the breaker stays closed. */
  minimumRps: number;
  /** How long it stays open before letting one probe call through. */
  halfOpenAfterMs: number;
}

export interface RetrySettings {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  budget: RetryBudgetOptions;
}

export interface DependencyOptions {
  name: string;
  registry: Registry;
  /** false is the control run: no breaker, no retry, no deadline; only a long safety timeout. */
  enabled: boolean;
  timeoutMs: number;
  breaker: BreakerSettings;
  retry?: RetrySettings;
}

export interface CallOptions {
  /** Only idempotent calls are retried. */
  idempotent?: boolean;
  /** Absolute deadline in epoch ms: no attempt starts after it, and none runs past it. */
  deadline?: number;
}

export type BreakerState = 'closed' | 'half-open' | 'open';

/** Tuned for drills: open within about a second of a dead dependency under load, probe again after a few seconds. */
export const drillBreaker: BreakerSettings = { threshold: 0.5, windowMs: 1000, minimumRps: 5, halfOpenAfterMs: 3000 };
export const drillRetry: RetrySettings = { maxAttempts: 3, initialDelayMs: 25, maxDelayMs: 250, budget: { ratio: 0.1, reserve: 10 } };
/** With resilience off, calls still end eventually so that sockets do not pile up for ever. */
export const passThroughTimeoutMs = 30_000;

const gaugeValue: Record<CircuitState, number> = { [CircuitState.Closed]: 0, [CircuitState.HalfOpen]: 1, [CircuitState.Open]: 2, [CircuitState.Isolated]: 2 };
const stateName: Record<CircuitState, BreakerState> = { [CircuitState.Closed]: 'closed', [CircuitState.HalfOpen]: 'half-open', [CircuitState.Open]: 'open', [CircuitState.Isolated]: 'open' };

const countsAgainstBreaker = (err: unknown) => err instanceof DependencyFailure || isTaskCancelledError(err);

/** Full jitter (AWS Architecture Blog): the n-th retry waits a uniform random time in [0, min(max, initial * 2^n)). */
export const retryBackoff = (settings: Pick<RetrySettings, 'initialDelayMs' | 'maxDelayMs'>) =>
  new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: settings.initialDelayMs, maxDelay: settings.maxDelayMs });

/**
 * One downstream dependency behind a cockatiel breaker, a per-attempt timeout and, for idempotent calls,
 * full-jitter retries under a retry budget. Only this layer retries; callers do not.
 */
export function createDependency(opts: DependencyOptions) {
  const { name, registry, enabled, timeoutMs } = opts;
  const metrics = resilienceMetrics(registry);
  const label = { dependency: name };
  const budget = opts.retry && new RetryBudget(opts.retry.budget);
  // Series that exist from the start (Prometheus's instrumentation guide): a dashboard shows "no retries yet" as 0, not
  // as no data, and a rate over them starts at the first scrape, not at the first retry.
  if (budget && enabled) {
    metrics.retries.inc(label, 0);
    metrics.budgetExhausted.inc(label, 0);
  }

  const breaker: CircuitBreakerPolicy | undefined = enabled
    ? circuitBreaker(handleWhen(countsAgainstBreaker), {
        halfOpenAfter: opts.breaker.halfOpenAfterMs,
        breaker: new SamplingBreaker({ threshold: opts.breaker.threshold, duration: opts.breaker.windowMs, minimumRps: opts.breaker.minimumRps }),
      })
    : undefined;
  if (breaker) {
    metrics.breakerState.set(label, 0);
    breaker.onStateChange((state) => {
      metrics.breakerState.set(label, gaugeValue[state]);
      metrics.breakerTransitions.inc({ ...label, state: stateName[state] });
    });
  }

  const toFailure = (err: unknown, attemptMs: number) => {
    if (isTaskCancelledError(err)) return new DependencyFailure(name, `did not answer within ${attemptMs} ms`, err);
    return err;
  };

  async function passThrough<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      const value = await fn(AbortSignal.timeout(passThroughTimeoutMs));
      metrics.calls.inc({ ...label, result: 'ok' });
      return value;
    } catch (err) {
      metrics.calls.inc({ ...label, result: err instanceof DependencyFailure ? 'failure' : 'refused' });
      throw err instanceof Error && err.name === 'TimeoutError' ? new DependencyFailure(name, `did not answer within ${passThroughTimeoutMs} ms`, err) : err;
    }
  }

  async function call<T>(fn: (signal: AbortSignal) => Promise<T>, { idempotent = false, deadline = Infinity }: CallOptions = {}): Promise<T> {
    if (!breaker) return passThrough(fn);
    const attemptMs = () => Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
    const attempt = async () => {
      if (deadline <= Date.now()) {
        metrics.shed.inc({ reason: 'deadline' });
        throw new DeadlineExceeded(`before calling ${name}`);
      }
      const ms = attemptMs();
      try {
        return await breaker.execute(() => timeout(ms, TimeoutStrategy.Aggressive).execute(({ signal }) => fn(signal)));
      } catch (err) {
        throw toFailure(err, ms);
      }
    };
    budget?.deposit();
    const retrying = idempotent && opts.retry && budget ? retryPolicy(opts.retry, budget) : undefined;
    try {
      const value = retrying ? await retrying.execute(attempt) : await attempt();
      metrics.calls.inc({ ...label, result: 'ok' });
      return value;
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        metrics.calls.inc({ ...label, result: 'rejected' });
        throw new ApiError(503, 'dependency_unavailable', `${name} is failing; its circuit breaker is open`, { retryAfterSeconds: Math.ceil(opts.breaker.halfOpenAfterMs / 1000) });
      }
      metrics.calls.inc({ ...label, result: err instanceof DependencyFailure ? 'failure' : 'refused' });
      throw err;
    }
  }

  /** A fresh retry policy per call: its predicate counts this call's attempts and spends budget only for a retry that will happen. */
  function retryPolicy(settings: RetrySettings, budget: RetryBudget) {
    let failures = 0;
    const shouldRetry = (err: unknown) => {
      if (!(err instanceof DependencyFailure)) return false; // a refusal, an open breaker or a passed deadline is final
      failures++;
      if (failures >= settings.maxAttempts) return false;
      if (!budget.tryWithdraw()) {
        metrics.budgetExhausted.inc(label);
        return false;
      }
      metrics.retries.inc(label);
      return true;
    };
    return retry(handleWhen(shouldRetry), { maxAttempts: settings.maxAttempts - 1, backoff: retryBackoff(settings) });
  }

  return {
    name,
    call,
    get state(): BreakerState | 'disabled' {
      return breaker ? stateName[breaker.state] : 'disabled';
    },
    budget,
  };
}

export type Dependency = ReturnType<typeof createDependency>;
