// Upgrades of the installed release that Kubernetes would refuse halfway through: the chart refuses them first, at
// render, naming the value, so that nothing is applied.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localNodeValues } from '../../tooling/cluster/command.ts';
import { cluster, helm } from './support.ts';

const { namespace, release } = cluster();
const chart = join(import.meta.dirname, '../../charts/faultline');
const upgrade = (set: string, ...extra: string[]) => helm(['upgrade', release, chart, '--namespace', namespace, '--reuse-values', '-f', localNodeValues, '--set', set, ...extra]);
const revision = () => (JSON.parse(helm(['status', release, '--namespace', namespace, '-o', 'json']).out) as { version: number }).version;

describe('upgrades that cannot be applied', () => {
  it.each([
    ['redis.persistence.enabled=true', 'redis.persistence', 'persistence off'],
    ['kafka.persistence.enabled=true', 'kafka.persistence', 'persistence off'],
  ])('--set %s fails at render, naming %s (installed with %s), and applies nothing', (set, named, installed) => {
    const before = revision();
    const r = upgrade(set);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${named} cannot change on an installed release`);
    expect(r.out).toContain(installed.replace('persistence ', 'has persistence '));
    expect(revision()).toBe(before);
  });

  it('lets a value that can change through (a server-side dry run of the same upgrade)', () => {
    const r = upgrade('jaeger.maxTraces=5000', '--dry-run=server');
    expect(r.out).not.toContain('cannot change');
    expect(r.code).toBe(0);
  });
});
