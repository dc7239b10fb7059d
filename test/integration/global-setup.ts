// One real stack for the integration files: up before, down after, on ports clear of a developer's own stack.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { defaultOptions } from '../../chaos/src/platforms/local/layout.ts';
import { down, up } from '../../chaos/src/platforms/local/runtime.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: Awaited<ReturnType<typeof up>>;
    stateDir: string;
  }
}

export default async function setup(project: TestProject) {
  const stateDir = mkdtempSync(join(tmpdir(), 'faultline-it-'));
  // Limits low enough that a test can reach them with a few hundred requests. Admission leaves room above the
  // 50/s rate limit, so that traffic-flood's flood reaches the limiter rather than being shed before it.
  const settings = {
    gateway: { RATE_LIMIT_RPS: '50', RATE_LIMIT_BURST: '50', ADMISSION_CONCURRENCY: '12', ADMISSION_QUEUE: '4' },
    orders: { MAX_KITCHEN_LAG: '100' },
  };
  const opts = { ...defaultOptions(), portBase: 27400, stateDir, settings };
  const stack = await up(opts, (line) => process.stderr.write(`[stack] ${line}\n`));
  project.provide('stack', stack);
  project.provide('stateDir', stateDir);
  return async () => {
    await down(opts, (line) => process.stderr.write(`[stack] ${line}\n`));
    rmSync(stateDir, { recursive: true, force: true });
  };
}
