// The host's state that a node could change, as text: taken before a node starts and after it stops, the two must be
// equal. Everything the node writes should stay in its namespaces; this is the check that it did.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

const out = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.error ? `(${cmd} unavailable)` : `${r.stdout}${r.stderr}`;
};

/** Rule sets without their packet counters, which change on their own. */
const rules = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');

const sysctls = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops', 'net.ipv4.ip_forward', 'net.ipv4.conf.all.route_localnet', 'net.bridge.bridge-nf-call-iptables', 'net.netfilter.nf_conntrack_max'];

function cgroupTops(): string[] {
  const hierarchies = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([, target, type]) => (type === 'cgroup' || type === 'cgroup2') && target?.startsWith('/sys/fs/cgroup/'))
    .map(([, target]) => target!);
  return hierarchies.flatMap((h) => readdirSync(h, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${h}/${e.name}`));
}

/** Processes whose command line names `marker` (a state folder): a stopped node leaves none. */
function processesNaming(marker: string): string[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
        return cmd.includes(marker) ? [`${pid} ${cmd.slice(0, 200)}`] : [];
      } catch {
        return [];
      }
    });
}

export type HostState = Record<string, string>;

export function hostState(stateDir: string): HostState {
  return {
    iptables: rules(out('iptables-save', [])),
    ip6tables: rules(out('ip6tables-save', [])),
    'iptables-legacy': rules(out('iptables-legacy-save', [])),
    nftables: out('nft', ['list', 'ruleset']),
    ipsets: out('ipset', ['list', '-n']),
    links: out('ip', ['-o', 'link', 'show']).split('\n').map((l) => l.split(':')[1]?.trim() ?? '').sort().join('\n'),
    routes: out('ip', ['route']),
    netns: out('ip', ['netns', 'list']),
    mounts: readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').sort().join('\n'),
    sysctls: sysctls.map((k) => `${k}=${out('sysctl', ['-n', k]).trim()}`).join('\n'),
    cgroups: cgroupTops().sort().join('\n'),
    files: ['/var/lib/kubelet', '/var/log/containers', '/var/log/pods', '/var/lib/cni', '/etc/cni/net.d', '/run/containerd', '/var/lib/containerd', '/run/netns'].map((p) => `${p} ${existsSync(p) ? readdirSync(p).sort().join(',') : '-'}`).join('\n'),
    processes: processesNaming(stateDir).join('\n'),
  };
}

/** What differs, as readable lines: a part's lines added (+) or gone (-). */
export function hostDiff(before: HostState, after: HostState): string[] {
  return Object.keys(before).flatMap((part) => {
    const [a, b] = [new Set(before[part]!.split('\n')), new Set(after[part]!.split('\n'))];
    return [...[...b].filter((l) => !a.has(l)).map((l) => `${part}: + ${l}`), ...[...a].filter((l) => !b.has(l)).map((l) => `${part}: - ${l}`)];
  });
}
