// The gateway's HTTP contract, fuzzed against the live stack by Schemathesis (pinned, installed by set-up): every
// check, every phase (examples, coverage, fuzzing, and stateful along the document's links), a fixed seed and a
// bounded number of cases, so that a run is repeatable and a failure can be replayed.
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { schemathesisPath } from '../../tooling/toolchain.ts';
import { repoRoot } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stack = inject('stack');
const seed = '20261201';

function schemathesis(args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // In its own folder: Schemathesis keeps a cache (.schemathesis/) where it runs.
    const child = spawn(schemathesisPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_TELEMETRY: 'false' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

describe('the OpenAPI document against the running gateway', () => {
  it('passes every Schemathesis check, the stateful phase included', async () => {
    const dir = tempDir('schemathesis-');
    // The config beside a dictionary of the menu's skus, read from the catalog's own menu file.
    copyFileSync(join(import.meta.dirname, 'schemathesis.toml'), join(dir, 'schemathesis.toml'));
    const menu = JSON.parse(readFileSync(join(repoRoot, 'services/catalog/menu.json'), 'utf8')) as Array<{ sku: string }>;
    writeFileSync(join(dir, 'menu.dict'), menu.map((item) => `"${item.sku}"\n`).join(''));
    const { code, out } = await schemathesis([
      '--config-file', join(dir, 'schemathesis.toml'),
      'run', `${stack.urls.gateway}/api/openapi.json`,
      '--checks', 'all',
      '--phases', 'examples,coverage,fuzzing,stateful',
      '--seed', seed,
      '--max-examples', '30',
      '--workers', '1',
      // Under the test stack's per-key limit (50/s), so that placed orders get their answers and the links are followed.
      '--rate-limit', '30/s',
      '--request-timeout', '10',
      '--header', `X-API-Key: ${stack.apiKeys.local}`,
      '--report', 'junit', '--report-dir', join(dir, 'reports'),
    ], dir);
    console.info(out.split('\n').slice(-40).join('\n'));
    expect(code, out).toBe(0);
    // The stateful phase followed both links from a placed order to reading it: orders were placed, not only refused.
    expect(out).toMatch(/API Links:\s+2 covered \/ 2 selected/);
  }, 300_000);
});
