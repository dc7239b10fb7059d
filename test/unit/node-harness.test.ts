// The real node's harness, where it is pure: what it refuses to start on, and how it tells a host left changed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostDiff } from '../../tooling/cluster/host.ts';
import { shadowKeeping } from '../../tooling/private-mounts.ts';
import { nodeProblems, type MachineFacts } from '../../tooling/cluster/node.ts';
import { repoRoot } from '../support/shop.ts';

const ready: MachineFacts = { uid: 0, missingFiles: [], filesystems: 'nodev\tproc\nnodev\toverlay\n', cgroupHierarchies: ['/sys/fs/cgroup/memory'], missingCommands: [], netnsExists: false, links: '1: lo: <LOOPBACK>\n', addresses: '1: lo    inet 127.0.0.1/8 scope host lo\n' };

describe('a node refuses to start, naming what is missing', () => {
  it('starts on a machine that has everything', () => expect(nodeProblems(ready)).toEqual([]));

  it.each([
    [{ uid: 1000 }, 'a node needs root'],
    [{ missingFiles: ['kubelet (/x/kubelet)'] }, 'not installed: kubelet (/x/kubelet); run `npm run setup -- --with-node`'],
    [{ filesystems: 'nodev\tproc\n' }, 'the kernel has no overlay filesystem'],
    [{ cgroupHierarchies: [] }, 'no cgroup hierarchy is mounted'],
    [{ missingCommands: ['nft'] }, 'nft is missing'],
    [{ netnsExists: true }, 'a node is already up (network namespace faultline-node)'],
    [{ links: '7: fl-host@if6: <BROADCAST>\n' }, 'a node is already up'],
    [{ addresses: '3: eth1    inet 10.250.0.1/24 scope global eth1\n' }, 'the host already uses 10.250.0.1'],
  ] as Array<[Partial<MachineFacts>, string]>)('%j', (facts, problem) => {
    expect(nodeProblems({ ...ready, ...facts }).join('\n')).toContain(problem);
  });

  it('`npm run cluster:up` without root exits 2 with the reason, before touching anything', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(repoRoot, 'tooling/cluster/command.ts'), 'up'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('a node needs root');
  });

  it('`npm run setup -- --with-node` without root exits 2 with the reason, before installing anything', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(repoRoot, 'tooling/setup.ts'), '--with-node'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--with-node needs root');
    expect(r.stdout).not.toContain('✓');
  });

  it('refuses an unknown verb with exit 2', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'tooling/cluster/command.ts'), 'sideways'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: npm run cluster:up | npm run cluster:down');
  });
});

describe('the host check', () => {
  it('names what a node left behind, part by part', () => {
    const before = { links: 'eth0\nlo', sysctls: 'kernel.panic=1', processes: '' };
    expect(hostDiff(before, before)).toEqual([]);
    expect(hostDiff(before, { links: 'eth0\nfl-host@if2\nlo', sysctls: 'kernel.panic=10', processes: '' })).toEqual(['links: + fl-host@if2', 'sysctls: + kernel.panic=10', 'sysctls: - kernel.panic=1']);
  });
});

describe('folders of its own in a private mount namespace, keeping what it needs', () => {
  const replaced: Array<[string, string]> = [['/var/lib', '/srv/p/state/varlib'], ['/tmp', '/srv/p/state/tmp']];

  it('binds the replacements alone when nothing kept lies under them', () => {
    expect(shadowKeeping(replaced, ['/srv/p', '/srv/p/state'])).toBe("mount --bind '/srv/p/state/varlib' '/var/lib'\nmount --bind '/srv/p/state/tmp' '/tmp'");
  });

  it('keeps a project cloned under /tmp at its path, binding replacements from its copy at /mnt', () => {
    expect(shadowKeeping([['/var/lib', '/tmp/p/state/varlib'], ['/tmp', '/tmp/p/state/tmp']], ['/tmp/p', '/tmp/p/state', '/root/.cache']).split('\n')).toEqual([
      'mount -t tmpfs -o size=64k,mode=0700 faultline-keep /mnt',
      'mkdir /mnt/0',
      "mount --rbind '/tmp/p' /mnt/0",
      "mount --bind '/mnt/0/state/varlib' '/var/lib'",
      "mount --bind '/mnt/0/state/tmp' '/tmp'",
      "mkdir -p '/tmp/p'",
      "mount --move /mnt/0 '/tmp/p'",
      'umount /mnt',
    ]);
  });

  it('quotes paths for the shell', () => {
    expect(shadowKeeping([['/tmp', "/x/it's"]], [])).toBe(`mount --bind '/x/it'\\''s' '/tmp'`);
  });
});
