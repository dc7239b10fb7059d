// Ctrl-C on a command that started its own stack: the stack goes with it. Node exits on a signal without running
// `finally` blocks, and the supervisor is detached, so without a handler the stack would stay up.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, pidAlive, repoRoot, waitFor } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const stateDir = tempDir('interrupt-');
const env = { FAULTLINE_PORT_BASE: '26400', FAULTLINE_STATE_DIR: stateDir };

/** Processes whose command line names the folder. */
const processesNaming = (dir: string) =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false; // it ended while we looked
      }
    });

afterAll(() => {
  cli(['down'], env); // in case the bench left it up
});

describe('an interrupted bench', () => {
  it('stops the stack it started, every process of it, and exits 130', async () => {
    const bench = spawn(process.execPath, [join(repoRoot, 'chaos/bin/faultline.js'), 'bench', 'overload', '--quick', '--report-dir', join(stateDir, 'bench')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [bench.stdout, bench.stderr]) stream.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => bench.once('exit', (code) => resolve(code)));
    // Interrupted under load: the capacity search has started, so k6 runs too.
    await waitFor('the capacity search to start', async () => output.includes('phase 1/6'), 180_000, 250);
    const recorded = JSON.parse(readFileSync(join(stateDir, 'processes.json'), 'utf8')) as { processes: Array<{ pid: number }> };
    const pids = recorded.processes.map((p) => p.pid);
    expect(pids.length).toBeGreaterThan(5);
    bench.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(output).toContain('SIGINT received: stopping the stack this command started');
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(processesNaming(stateDir)).toEqual([]); // k6 too, whose files are in the bench's report folder
    expect(JSON.parse(cli(['status', '--json'], env).stdout)).toEqual({ phase: 'down' });
  }, 300_000);
});
