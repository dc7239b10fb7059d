import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, toolPaths } from '../local/toolchain.ts';
import { freePort } from '../local/runtime.ts';
import type { Load } from './schema.ts';

export const loadScriptsDir = join(projectRoot, 'chaos/load');

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

/** k6's open-model scenario for a load or flood step: arrivals do not wait for answers. */
export function scenarioOf(load: Omit<Load, 'background'>) {
  const common = { executor: load.executor, preAllocatedVUs: Math.ceil(load.maxVUs / 2), maxVUs: load.maxVUs, timeUnit: '1s' };
  return load.executor === 'constant-arrival-rate'
    ? { ...common, rate: load.rate, duration: `${load.duration}ms` }
    : { ...common, startRate: 0, stages: load.stages!.map((s) => ({ target: s.target, duration: `${s.duration}ms` })) };
}

/** Runs one k6 process; its own duration bounds it, so it ends even if the controller dies. */
export async function startK6(load: Omit<Load, 'background'>, opts: { name: string; gateway: string; apiKey: string; run: string; dir: string }) {
  const script = join(loadScriptsDir, load.script);
  if (!existsSync(script)) throw new Error(`no load script ${load.script} in chaos/load`);
  mkdirSync(opts.dir, { recursive: true });
  const port = await freePort();
  const consoleFile = join(opts.dir, `${opts.name}.console.log`);
  const summaryFile = join(opts.dir, `${opts.name}.summary.json`);
  const child = spawn(
    toolPaths.k6,
    ['run', '--quiet', '--no-color', '--no-usage-report', '--address', `127.0.0.1:${port}`, '--console-output', consoleFile, '--summary-export', summaryFile, script],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, FAULTLINE_GATEWAY: opts.gateway, FAULTLINE_API_KEY: opts.apiKey, FAULTLINE_RUN: `${opts.run}-${opts.name}`, FAULTLINE_SCENARIO: JSON.stringify(scenarioOf(load)), K6_NO_USAGE_REPORT: 'true' },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const api = `http://127.0.0.1:${port}/v1/metrics`;
  const counter = async (metric: string) => {
    const res = await fetch(`${api}/${metric}`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    if (!res?.ok) return undefined;
    const body = (await res.json()) as { data: { attributes: { sample: { count?: number } } } };
    return body.data.attributes.sample.count ?? 0;
  };

  return {
    pid: child.pid,
    /** Evidence that k6 runs at the asked rate: iterations started over one second, read from k6's REST API. */
    async observedRate(): Promise<number | undefined> {
      await new Promise((r) => setTimeout(r, 1500)); // past k6's start-up, when it allocates VUs
      for (let tries = 0; tries < 10; tries++) {
        const a = await counter('iterations');
        if (a !== undefined && a > 0) {
          await new Promise((r) => setTimeout(r, 2000));
          const b = await counter('iterations');
          if (b !== undefined) return Math.round((b - a) / 2);
        }
        await new Promise((r) => setTimeout(r, 300)); // k6's API comes up a moment after the process
      }
      return undefined;
    },
    async done(): Promise<K6Summary> {
      const code = await exited;
      if (!existsSync(summaryFile)) throw new Error(`k6 ${load.script} ended (exit ${code}) without a summary:\n${stderr.trim()}`);
      const m = (JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: Record<string, Record<string, number>> }).metrics;
      return {
        iterations: m.iterations?.count ?? 0,
        droppedIterations: m.dropped_iterations?.count ?? 0,
        httpReqs: m.http_reqs?.count ?? 0,
        failedRate: m.http_req_failed?.value ?? 0,
        p99Ms: m.http_req_duration?.['p(99)'],
      };
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGINT'); // k6 ends gracefully and still writes its summary
    },
    acks(): Ack[] {
      if (!existsSync(consoleFile)) return [];
      return [...readFileSync(consoleFile, 'utf8').matchAll(/msg="ack (\S+) (\S+) (\d+)"/g)].map((m) => ({ key: m[1]!, id: m[2]!, attempt: Number(m[3]) }));
    },
  };
}
export type K6Run = Awaited<ReturnType<typeof startK6>>;
