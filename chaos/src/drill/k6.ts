// What every platform's k6 runs share: the open-model scenario a load asks for, k6's REST API, and the
// acknowledgements the load scripts log ("ack <idempotency key> <order id> <attempt>") for the ledger.
import type { LoadSpec } from './fields.ts';

export interface Ack {
  key: string;
  id: string;
  attempt: number;
}

export interface K6Summary {
  iterations: number;
  droppedIterations: number;
  httpReqs: number;
  failedRate: number;
  p99Ms?: number;
}

/**
 * k6's open-model scenario for a load or flood step: arrivals do not wait for answers. k6 makes a VU it lacks one at a
 * time, dropping arrivals meanwhile, so it makes half of maxVUs up front, and at least one second of the peak rate.
 */
export function scenarioOf(load: LoadSpec) {
  const peakRate = load.rate ?? Math.max(...load.stages!.map((s) => s.target));
  const preAllocatedVUs = load.preAllocatedVUs ?? Math.min(load.maxVUs, Math.max(Math.ceil(load.maxVUs / 2), peakRate));
  const common = { executor: load.executor, preAllocatedVUs, maxVUs: load.maxVUs, timeUnit: '1s' };
  return load.executor === 'constant-arrival-rate'
    ? { ...common, rate: load.rate, duration: `${load.duration}ms` }
    : { ...common, startRate: 0, stages: load.stages!.map((s) => ({ target: s.target, duration: `${s.duration}ms` })) };
}

/** The acknowledgements in k6's console output (its logfmt lines). */
export const parseAcks = (text: string): Ack[] => [...text.matchAll(/msg="ack (\S+) (\S+) (\d+)"/g)].map((m) => ({ key: m[1]!, id: m[2]!, attempt: Number(m[3]) }));

/** The summary from k6's end-of-test export (--summary-export) or its REST API's /v1/metrics, which share metric names. */
export function summaryOf(metrics: Record<string, Record<string, number> | undefined>): K6Summary {
  return {
    iterations: metrics.iterations?.count ?? 0,
    droppedIterations: metrics.dropped_iterations?.count ?? 0,
    httpReqs: metrics.http_reqs?.count ?? 0,
    failedRate: metrics.http_req_failed?.value ?? metrics.http_req_failed?.rate ?? 0,
    ...(metrics.http_req_duration?.['p(99)'] !== undefined ? { p99Ms: metrics.http_req_duration['p(99)'] } : {}),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** k6's REST API (`k6 run --address`), wherever it is reachable from: loopback, or a pod proxy through the API server. */
export function k6Api(base: string) {
  const get = async <T>(path: string): Promise<T | undefined> => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.ok ? ((await res.json()) as T) : undefined;
  };
  const status = async () => (await get<{ data: { attributes: { status: number } } }>('/v1/status'))?.data.attributes.status;
  const iterations = async () => (await get<{ data: { attributes: { sample: { count?: number } } } }>('/v1/metrics/iterations'))?.data.attributes.sample.count;
  return {
    /** Iterations started over two seconds, once k6 has allocated its VUs and started. */
    async observedRate(): Promise<number | undefined> {
      await sleep(1500);
      for (let tries = 0; tries < 20; tries++) {
        const a = await iterations();
        if (a !== undefined && a > 0) {
          await sleep(2000);
          const b = await iterations();
          if (b !== undefined) return Math.round((b - a) / 2);
        }
        await sleep(300); // the API comes up a moment after the process
      }
      return undefined;
    },
    /**
     * Whether the test has ended, by its duration (k6's execution status 9) or stopped (10): `running` stays true while
     * k6 lingers after a stop. Undefined when the API does not answer.
     */
    async ended(): Promise<boolean | undefined> {
      const s = await status();
      return s === undefined ? undefined : s >= 9;
    },
    /** Whether the load has started (k6's execution status 7, running, or later): its VUs are made by then. */
    async started(): Promise<boolean | undefined> {
      const s = await status();
      return s === undefined ? undefined : s >= 7;
    },
    /** Every metric's current values, in --summary-export's shape. */
    async metrics(): Promise<Record<string, Record<string, number>> | undefined> {
      const body = await get<{ data: Array<{ id: string; attributes: { sample: Record<string, number> } }> }>('/v1/metrics');
      return body && Object.fromEntries(body.data.map((m) => [m.id, m.attributes.sample]));
    },
    /** Stops the test: k6 ends its iterations and exits (or, with --linger, keeps its API up). */
    async stop(): Promise<boolean> {
      const res = await fetch(`${base}/v1/status`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: { type: 'status', id: 'default', attributes: { stopped: true } } }),
        signal: AbortSignal.timeout(2000),
      }).catch(() => undefined);
      return Boolean(res?.ok);
    },
  };
}
