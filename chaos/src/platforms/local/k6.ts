// Loads and floods on the local runtime: a k6 process on loopback. It dies with the process that started it (the
// kernel's parent-death signal, set by util-linux's setpriv), so a SIGKILLed drill leaves no load running; its own
// duration bounds it besides.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../core/host.ts';
import { loadScriptsDir } from '../../core/paths.ts';
import type { LoadSpec } from '../../drill/fields.ts';
import { k6Api, parseAcks, scenarioOf, summaryOf } from '../../drill/k6.ts';
import type { LoadRun } from '../../drill/platform.ts';
import { toolPaths } from './tools.ts';

export interface K6Options {
  name: string;
  gateway: string;
  apiKey: string;
  /** Prefix of every Idempotency-Key this run sends, unique per run. */
  run: string;
  /** Where k6 writes its console output (the acknowledgements) and summary; emptied first. */
  dir: string;
  /** Set before k6 starts, so that every thread it makes has it; a niceness set later reaches only its main thread. */
  niceness?: number;
}

export async function startK6(load: LoadSpec, opts: K6Options): Promise<LoadRun & { pid: number | undefined; started(): Promise<boolean | undefined> }> {
  const script = join(loadScriptsDir, load.script);
  if (!existsSync(script)) throw new Error(`no load script ${load.script} in chaos/load`);
  mkdirSync(opts.dir, { recursive: true });
  const port = await freePort();
  const consoleFile = join(opts.dir, `${opts.name}.console.log`);
  const summaryFile = join(opts.dir, `${opts.name}.summary.json`);
  for (const f of [consoleFile, summaryFile]) rmSync(f, { force: true }); // a previous run's acknowledgements are not this run's
  // nice and setpriv exec in place, so the pid is k6's own.
  const niced = opts.niceness === undefined ? [] : [toolPaths.nice, '-n', String(opts.niceness)];
  const k6Args = ['run', '--quiet', '--no-color', '--no-usage-report', '--address', `127.0.0.1:${port}`, '--console-output', consoleFile, '--summary-export', summaryFile, script];
  const [command, ...args] = [...niced, toolPaths.setpriv, '--pdeathsig', 'KILL', '--', toolPaths.k6, ...k6Args];
  const child = spawn(command!, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FAULTLINE_GATEWAY: opts.gateway, FAULTLINE_API_KEY: opts.apiKey, FAULTLINE_RUN: `${opts.run}-${opts.name}`, FAULTLINE_SCENARIO: JSON.stringify(scenarioOf(load)), K6_NO_USAGE_REPORT: 'true' },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const api = k6Api(`http://127.0.0.1:${port}`);

  return {
    pid: child.pid,
    label: `pid ${child.pid}`,
    observedRate: () => api.observedRate(),
    started: () => api.started(),
    async done() {
      const code = await exited;
      if (!existsSync(summaryFile)) throw new Error(`k6 ${load.script} ended (exit ${code}) without a summary:\n${stderr.trim()}`);
      return summaryOf((JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: Record<string, Record<string, number>> }).metrics);
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT'); // k6 ends gracefully and still writes its summary
    },
    async acks() {
      return existsSync(consoleFile) ? parseAcks(readFileSync(consoleFile, 'utf8')) : [];
    },
  };
}
