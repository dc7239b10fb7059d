// The showcase drills, unchanged, on the real node, through the one runner: each gives a full verdict with a clean
// ledger, run as the drill runner's ServiceAccount (its Role alone is enough); and catalog-outage fails on the same
// release with resilience off, naming the verifications it missed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { showcaseDrills } from '../../chaos/src/commands/demo.ts';
import { drillsDir } from '../../chaos/src/core/paths.ts';
import type { Journal } from '../../chaos/src/drill/journal.ts';
import { localNodeValues } from '../../tooling/cluster/command.ts';
import { cluster, faultline, helm, waitFor, clients } from './support.ts';

const reports = join(cluster().caFile, '..', '..', 'reports');
const journalOf = (name: string) => JSON.parse(readFileSync(join(reports, name, 'journal.json'), 'utf8')) as Journal;
const run = (name: string) => faultline(['drill', 'run', '--platform', 'kubernetes', '--kubeconfig', cluster().runnerKubeconfig, '--report-dir', reports, join(drillsDir, `${name}.yaml`)]);

/** Every shop Deployment rolled out and available again, after an upgrade or a drill. */
async function shopSettled() {
  const { apps } = clients();
  await waitFor('the shop available', async () => {
    const list = (await apps.listNamespacedDeployment({ namespace: cluster().namespace })).items;
    return list.every((d) => d.status?.updatedReplicas === d.spec?.replicas && d.status?.availableReplicas === d.spec?.replicas && (d.status?.unavailableReplicas ?? 0) === 0) || undefined;
  }, 180_000, 1000);
}

describe('the showcase drills on Kubernetes', () => {
  it.each([...showcaseDrills])('%s: a full verdict, PASS, with no order lost or duplicated', async (name) => {
    await shopSettled();
    const r = run(name);
    const journal = journalOf(name);
    expect(journal.verifications.filter((v) => !v.ok).map((v) => `${v.name}: expected ${v.expected}; observed ${v.observed}`)).toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    expect(journal).toMatchObject({ platform: 'kubernetes', status: 'completed', verdict: 'pass', skipped: [], ledger: { lost: 0, duplicated: 0 } });
    expect(journal.ledger!.accepted).toBeGreaterThan(100);
    expect(journal.samples.length).toBeGreaterThan(50); // probes read all along, through the API server
    expect(journal.faults.every((f) => f.effective && f.recoveredAt)).toBe(true);
    expect(readFileSync(join(reports, name, 'junit.xml'), 'utf8')).toContain('failures="0"');
    expect(readFileSync(join(reports, name, 'report.html'), 'utf8')).toContain('on the kubernetes platform');
  });

  it('catalog-outage fails on the release with resilience off, naming the verifications it missed', async () => {
    const { release, namespace } = cluster();
    const off = helm(['upgrade', release, join(import.meta.dirname, '../../charts/faultline'), '--namespace', namespace, '--reuse-values', '-f', localNodeValues, '--set', 'resilience=off', '--wait', '--timeout', '10m']);
    expect(off.code, off.out).toBe(0);
    try {
      await shopSettled();
      const r = run('catalog-outage');
      expect(r.code).toBe(1);
      expect(journalOf('catalog-outage').verdict).toBe('fail');
      expect(r.stdout).toMatch(/✘ the gateway's catalog breaker opens soon after the cut: expected .*; observed/);
      expect(r.stdout).toMatch(/✘ the menu is served degraded while the catalog is away/);
    } finally {
      const on = helm(['upgrade', release, join(import.meta.dirname, '../../charts/faultline'), '--namespace', namespace, '--reuse-values', '-f', localNodeValues, '--set', 'resilience=on', '--wait', '--timeout', '10m']);
      expect(on.code, on.out).toBe(0);
      await shopSettled();
    }
  });

  it('OOM-killed no container of the release during the drills: its memory limits hold the load', async () => {
    const { namespace } = cluster();
    const pods = (await clients().core.listNamespacedPod({ namespace })).items;
    const oomKilled = pods.flatMap((p) => (p.status?.containerStatuses ?? []).filter((c) => c.lastState?.terminated?.reason === 'OOMKilled').map((c) => `${p.metadata!.name}/${c.name}`));
    expect(pods.length).toBeGreaterThan(5);
    expect(oomKilled).toEqual([]);
  });
});
