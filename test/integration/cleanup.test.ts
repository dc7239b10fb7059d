// `faultline cleanup` when the supervisor is gone: the recorded faults come off Toxiproxy by themselves.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupRecordedFaults, type AgentFault } from '../../chaos/src/platforms/local/agent.ts';
import { createToxiproxy } from '../../chaos/src/platforms/local/toxiproxy.ts';
import { toolPaths } from '../../tooling/toolchain.ts';
import { freePort } from '../../chaos/src/core/host.ts';
import { waitFor } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

const port = await freePort();
const server = spawn(toolPaths.toxiproxy, ['-host', '127.0.0.1', '-port', String(port)], { stdio: 'ignore' });
const toxiproxy = createToxiproxy(`http://127.0.0.1:${port}`);
afterAll(() => {
  server.kill('SIGTERM');
});

describe('cleanup without a supervisor', () => {
  it('removes the toxics of expired faults from Toxiproxy, keeps live ones unless --all, and records the removal', async () => {
    await waitFor('toxiproxy to start', async () => (await toxiproxy.list()) && true, 10_000, 100);
    await toxiproxy.populate([{ name: 'orders-redis', listen: `127.0.0.1:${await freePort()}`, upstream: '127.0.0.1:9', enabled: true }]);
    for (const name of ['old-upstream', 'live-upstream']) await toxiproxy.addToxic('orders-redis', { name, type: 'timeout', stream: 'upstream', attributes: { timeout: 0 } });
    const fault = (id: string, expiresAt: number): AgentFault => ({ id, drill: 'd', kind: 'network-partition', edge: 'orders-redis', direction: 'to', durationMs: 1000, jitterMs: 0, toxics: [`${id}-upstream`], injectedAt: new Date(expiresAt - 1000).toISOString(), expiresAt: new Date(expiresAt).toISOString(), evidence: {} });
    const file = join(tempDir('cleanup-'), 'faults.json');
    writeFileSync(file, JSON.stringify([fault('old', Date.now() - 5000), fault('live', Date.now() + 60_000)]));

    const removed = await cleanupRecordedFaults(file, toxiproxy, false);
    expect(removed.map((f) => f.id)).toEqual(['old']);
    expect((await toxiproxy.list())[0]!.toxics!.map((t) => t.name)).toEqual(['live-upstream']);
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as AgentFault[];
    expect(recorded.find((f) => f.id === 'old')).toMatchObject({ removedBy: 'cleanup' });
    expect(recorded.find((f) => f.id === 'live')!.recoveredAt).toBeUndefined();

    expect((await cleanupRecordedFaults(file, toxiproxy, true)).map((f) => f.id)).toEqual(['live']);
    expect((await toxiproxy.list())[0]!.toxics).toEqual([]);
  });
});
