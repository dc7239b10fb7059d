// A real one-node Kubernetes cluster on this machine, without Docker, the way kind runs a node in a container: every
// part of it runs inside a network namespace and a mount namespace of its own, so that what kube-proxy, kube-router,
// kubelet and the CNI plugins write (iptables and nft rules, ipsets, bridges, veths, mounts, sockets) stays in them,
// and deleting them cleans it all. The control plane (etcd, kube-apiserver, controller-manager, scheduler) runs there
// too; containerd with runc and a bridge CNI run the pods; CoreDNS serves cluster DNS; kube-router enforces
// NetworkPolicies; a registry on the node's loopback serves the images built by tooling/images. The host reaches the
// API server over a veth (host 10.250.0.1, node 10.250.0.2); nothing in the node can open a connection to the host,
// and nothing can leave the machine (no default route, no masquerade).
//
// What stays outside the namespaces, undone by stopNode: the veth's host end and the netns and mount-namespace pins,
// the node's cgroups (one root of its own in every hierarchy), and the three global sysctls kubelet rewrites.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import { sleep } from '../../chaos/src/core/time.ts';
import { pushImages, registryHost } from '../images/build.ts';
import { shadowKeeping } from '../private-mounts.ts';
import { controlPlanePaths, nodePaths } from '../toolchain.ts';
import { nodeIdentities, writeCredentials, writeKubeconfig, type Identity } from './credentials.ts';
import { ProcessGroup, running } from './processes.ts';

export const nodeNetwork = {
  netns: 'faultline-node',
  nodeName: 'faultline-node',
  hostVeth: 'fl-host',
  nodeVeth: 'fl-node',
  hostIp: '10.250.0.1',
  nodeIp: '10.250.0.2',
  clusterCidr: '10.244.0.0/16',
  podCidr: '10.244.0.0/24',
  serviceCidr: '10.96.0.0/16',
  dnsIp: '10.96.0.10',
  /** The image registry, on the node's own loopback (containerd pulls through a plain-HTTP mirror). */
  registry: registryHost,
} as const;

const cgroupRoot = 'faultline-node';
/** The host values kubelet overwrites; saved before it starts and put back after it stops. */
const kubeletSysctls = ['vm.overcommit_memory', 'kernel.panic', 'kernel.panic_on_oops'];

export interface RunningNode {
  /** An administrator's kubeconfig (group system:masters). */
  kubeconfig: string;
  server: string;
  nodeName: string;
  stateDir: string;
  logsDir: string;
  /** Seconds from kubelet's start to the node Ready. */
  readyAfterS: number;
}

type Log = (line: string) => void;

function sh(cmd: string, args: string[], what = `${cmd} ${args.join(' ')}`) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

const files = (stateDir: string) => ({
  pki: join(stateDir, 'pki'),
  cfg: join(stateDir, 'cfg'),
  logs: join(stateDir, 'logs'),
  nsDir: join(stateDir, 'ns'),
  mountPin: join(stateDir, 'ns', 'mnt'),
  nsRoot: join(stateDir, 'ns-root'),
  containerd: join(stateDir, 'containerd'),
  socket: join(stateDir, 'containerd', 'containerd.sock'),
  cni: join(stateDir, 'cni'),
  registry: join(stateDir, 'registry'),
  sysctls: join(stateDir, 'sysctls.json'),
  /** Present when `ip netns add` made /run/netns (a folder bind-mounted on itself), so that stopping undoes that too. */
  netnsRunDirMade: join(stateDir, 'run-netns-made'),
  certDir: join(stateDir, 'apiserver-certs'),
  ca: join(stateDir, 'apiserver-certs', 'apiserver.crt'),
});

const cgroupHierarchies = () =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([, target, type]) => (type === 'cgroup' || type === 'cgroup2') && target?.startsWith('/sys/fs/cgroup/'))
    .map(([, target]) => target!);

const netnsRunDir = '/run/netns';
const netnsExists = (name: string) => existsSync(`${netnsRunDir}/${name}`);

/** What the machine offers a node, read once (a pure check below decides). */
export interface MachineFacts {
  uid: number | undefined;
  missingFiles: string[];
  filesystems: string;
  cgroupHierarchies: string[];
  missingCommands: string[];
  netnsExists: boolean;
  links: string;
  addresses: string;
}

export function machineFacts(): MachineFacts {
  return {
    uid: process.getuid?.(),
    missingFiles: Object.entries({ ...controlPlanePaths, ...nodePaths }).flatMap(([what, file]) => (existsSync(file) ? [] : [`${what} (${file})`])),
    filesystems: readFileSync('/proc/filesystems', 'utf8'),
    cgroupHierarchies: cgroupHierarchies(),
    missingCommands: ['ip', 'nft', 'iptables', 'ipset', 'nsenter', 'unshare', 'openssl'].filter((cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error),
    netnsExists: netnsExists(nodeNetwork.netns),
    links: sh('ip', ['-o', 'link']),
    addresses: sh('ip', ['-o', 'addr']),
  };
}

/** Why a node cannot start on this machine, each naming what is missing; empty when it can. */
export function nodeProblems(m: MachineFacts): string[] {
  const { netns, hostVeth, hostIp } = nodeNetwork;
  return [
    ...(m.uid !== 0 ? ['a node needs root: network and mount namespaces, cgroups and iptables are root-only'] : []),
    ...(m.missingFiles.length ? [`not installed: ${m.missingFiles.join(', ')}; run \`npm run setup -- --with-node\``] : []),
    ...(!/\boverlay\b/.test(m.filesystems) ? ['the kernel has no overlay filesystem, which containerd needs for images'] : []),
    ...(m.cgroupHierarchies.length === 0 ? ['no cgroup hierarchy is mounted under /sys/fs/cgroup'] : []),
    ...m.missingCommands.map((cmd) => `${cmd} is missing; run \`npm run setup -- --with-node\``),
    ...(m.netnsExists || m.links.includes(`${hostVeth}@`) ? [`a node is already up (network namespace ${netns}); \`npm run cluster:down\` stops it`] : []),
    ...(!m.netnsExists && m.addresses.includes(` ${hostIp}/`) ? [`the host already uses ${hostIp}, the address the node's veth needs`] : []),
  ];
}

/** What a node needs of this machine; anything missing is a UsageError (exit 2) that names it. */
export function nodePreflight() {
  const problems = nodeProblems(machineFacts());
  if (problems.length) throw new UsageError(problems.join('\n'));
}

function writeConfigs(stateDir: string) {
  const f = files(stateDir);
  for (const dir of [f.pki, f.cfg, f.logs, f.nsDir, f.containerd, join(f.cni, 'net.d'), f.registry, join(stateDir, 'static-pods')]) mkdirSync(dir, { recursive: true });
  const { nodeName, nodeIp } = nodeNetwork;
  const creds = writeCredentials(f.pki, nodeName);
  const server = `https://${nodeIp}:6443`;
  const kubeconfigs = Object.fromEntries(Object.entries(nodeIdentities(nodeName)).map(([id, { user }]) => [id, writeKubeconfig(join(f.cfg, `${id}.kubeconfig`), server, f.ca, user, creds.tokens[id as Identity])])) as Record<Identity, string>;

  // kubelet's API: no anonymous access. The API server shows a client certificate from a CA of this node's own.
  const ca = join(f.pki, 'kubelet-client-ca');
  const client = join(f.pki, 'apiserver-kubelet-client');
  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=faultline-kubelet-client-ca', '-keyout', `${ca}.key`, '-out', `${ca}.crt`]);
  sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/O=system:masters/CN=kube-apiserver-kubelet-client', '-keyout', `${client}.key`, '-out', `${client}.csr`]);
  writeFileSync(`${client}.ext`, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n');
  sh('openssl', ['x509', '-req', '-in', `${client}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '30', '-extfile', `${client}.ext`, '-out', `${client}.crt`]);

  // containerd: its defaults, with root, state and socket in the state folder, and the changes this machine needs.
  const defaults = sh(nodePaths.containerd, ['config', 'default']);
  const replacements: Array<[RegExp, string]> = [
    [/^root = .*$/m, `root = "${f.containerd}/root"`],
    [/^state = .*$/m, `state = "${f.containerd}/state"`],
    [/^(\[grpc\]\n(?:.*\n)*?)\s*address = .*$/m, `$1  address = "${f.socket}"`],
    [/netns_mounts_under_state_dir = false/, 'netns_mounts_under_state_dir = true'],
    // No CAP_SYS_RESOURCE here: kubelet's negative oom_score_adj would fail.
    [/restrict_oom_score_adj = false/, 'restrict_oom_score_adj = true'],
    [/sandbox_image = .*/, `sandbox_image = "${nodeImages.pause}"`],
    [/bin_dir = "\/opt\/cni\/bin"/, `bin_dir = "${nodePaths.cniBin}"`],
    [/conf_dir = "\/etc\/cni\/net.d"/, `conf_dir = "${f.cni}/net.d"`],
    [/path = "\/opt\/containerd"/, `path = "${f.containerd}/opt"`],
    [/^(\s*)\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\.mirrors\]$/m, `$&\n$1  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."${nodeNetwork.registry}"]\n$1    endpoint = ["http://127.0.0.1:5000"]`],
  ];
  let config = defaults;
  for (const [pattern, value] of replacements) {
    if (!pattern.test(config)) throw new Error(`containerd's default config has no ${pattern}: the containerd version changed`);
    config = config.replace(pattern, value);
  }
  writeFileSync(join(f.containerd, 'config.toml'), config);

  // A bridge with no masquerade: nothing leaves the machine.
  writeFileSync(
    join(f.cni, 'net.d', '10-faultline.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'k8s-pod-network',
      plugins: [
        { type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: nodeNetwork.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  const yaml = (name: string, doc: object) => writeFileSync(join(f.cfg, name), stringify(doc));
  yaml('scheduler.yaml', { apiVersion: 'kubescheduler.config.k8s.io/v1', kind: 'KubeSchedulerConfiguration', clientConnection: { kubeconfig: kubeconfigs.scheduler }, leaderElection: { leaderElect: false }, enableProfiling: false });
  yaml('kubelet.yaml', {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${cgroupRoot}`,
    failCgroupV1: false, // the machine's cgroups are a v1/v2 hybrid; kubelet 1.35+ refuses v1 by default
    failSwapOn: false,
    containerRuntimeEndpoint: `unix://${f.socket}`,
    address: nodeIp,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: `${ca}.crt` } },
    authorization: { mode: 'Webhook' },
    staticPodPath: join(stateDir, 'static-pods'),
    podLogsDir: '/var/log/pods',
    resolvConf: '/etc/resolv.conf',
    clusterDomain: 'cluster.local',
    clusterDNS: [nodeNetwork.dnsIp],
    oomScoreAdj: 0,
    protectKernelDefaults: false, // with true kubelet refuses to start, since it sets three sysctls (saved and restored here)
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
    imageGCHighThresholdPercent: 95,
    imageGCLowThresholdPercent: 90,
    serializeImagePulls: false,
  });
  yaml('kube-proxy.yaml', {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: kubeconfigs.kubeProxy },
    hostnameOverride: nodeName,
    clusterCIDR: nodeNetwork.clusterCidr,
    bindAddress: nodeIp,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // Zeros leave the host's conntrack sysctls alone (they are global).
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false },
    nodePortAddresses: ['primary'],
  });
  return { creds, kubeconfigs, client, server };
}

/** The images a node needs before any chart: its sandbox (pause) and its DNS. */
export const nodeImages = {
  pause: `${nodeNetwork.registry}/faultline/pause:3.10.2`,
  coredns: `${nodeNetwork.registry}/faultline/coredns:1.14.7`,
};

function createNamespaces(stateDir: string) {
  const f = files(stateDir);
  const { netns, hostVeth, nodeVeth, hostIp, nodeIp } = nodeNetwork;
  writeFileSync(f.sysctls, JSON.stringify(Object.fromEntries(kubeletSysctls.map((k) => [k, sh('sysctl', ['-n', k]).trim()]))));
  if (!existsSync(netnsRunDir)) writeFileSync(f.netnsRunDirMade, '');
  sh('ip', ['netns', 'add', netns]);
  sh('ip', ['link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', nodeVeth]);
  sh('ip', ['link', 'set', nodeVeth, 'netns', netns]);
  sh('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostVeth]);
  sh('ip', ['link', 'set', hostVeth, 'up']);
  sh('ip', ['-n', netns, 'addr', 'add', `${nodeIp}/30`, 'dev', nodeVeth]);
  sh('ip', ['-n', netns, 'link', 'set', nodeVeth, 'up']);
  sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  // Per network namespace: routing between the pods' bridge and the node, bridged traffic through iptables (Services, policies).
  sh('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
  // No default route in the namespace, and a one-way veth: nothing in the node may open a connection to the host.
  sh('nsenter', [`--net=/run/netns/${netns}`, 'nft', '-f', join(import.meta.dirname, 'manifests', 'host-only.nft')]);

  // One mount namespace for every node process, pinned on a file of ours (on a private mount, as the kernel requires).
  sh('mount', ['--bind', f.nsDir, f.nsDir]);
  sh('mount', ['--make-private', f.nsDir]);
  writeFileSync(f.mountPin, '');
  for (const dir of ['run', 'varlib', 'varlog', 'tmp', 'cgmove']) mkdirSync(join(f.nsRoot, dir), { recursive: true });
  // Inside it: the namespace's own sysfs (kubelet and the CNI plugins see its links), the host's cgroups, and folders of
  // ours over /run, /var/lib, /var/log and /tmp, where kubelet, containerd, its shims and the CNI plugins write; the
  // project (its tools) and the state folder stay visible wherever they are. Other users' mounts under the state
  // folder's parents are dropped from the copy, so that this namespace does not pin them.
  const replaced = (['run', 'var/lib', 'var/log', 'tmp'] as const).map((d) => [`/${d}`, join(f.nsRoot, d.replace('/', ''))] as [string, string]);
  const script = `set -eu
mount --rbind /sys/fs/cgroup ${f.nsRoot}/cgmove
mount -t sysfs sysfs /sys
mount --move ${f.nsRoot}/cgmove /sys/fs/cgroup
findmnt -rn -o TARGET | grep -E '^/(work|tmp|home|root)/' | grep -vF '${stateDir}' | sort -r | xargs -r -n1 umount -l
${shadowKeeping(replaced, [projectRoot, stateDir])}
chmod 1777 /tmp
mkdir -p /var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers /run/containerd /run/lock`;
  sh('nsenter', [`--net=/run/netns/${netns}`, 'unshare', `--mount=${f.mountPin}`, '--propagation', 'private', 'sh', '-c', script], 'the node’s mount namespace');
  for (const h of cgroupHierarchies()) {
    mkdirSync(join(h, cgroupRoot), { recursive: true });
    if (existsSync(join(h, 'cpuset.cpus'))) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(h, cgroupRoot, file), readFileSync(join(h, file)));
    }
  }
}

function httpsStatus(url: string, ca?: Buffer, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, rejectUnauthorized: ca !== undefined, headers, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

/** Starts the node. On failure, whatever was started is stopped and the host put back before the error goes up. */
export async function startNode(opts: { stateDir: string; log?: Log; detached?: boolean }): Promise<RunningNode> {
  nodePreflight();
  const log = opts.log ?? (() => undefined);
  const { stateDir } = opts;
  rmSync(stateDir, { recursive: true, force: true });
  const f = files(stateDir);
  const { kubeconfigs, creds, client, server } = writeConfigs(stateDir);
  const group = new ProcessGroup(stateDir, f.logs);
  const { netns, nodeIp, nodeName } = nodeNetwork;
  const inNode = { wrap: ['nsenter', `--net=/run/netns/${netns}`, `--mount=${f.mountPin}`, '--'], detached: opts.detached ?? true };
  const launch = (name: string, bin: string, args: string[]) => log(`${name} pid ${group.launch(name, bin, args, inNode)}`);
  const inNodeRun = (cmd: string, args: string[]) => sh('nsenter', [...inNode.wrap.slice(1, -1), '--', cmd, ...args]);
  try {
    createNamespaces(stateDir);
    log(`network namespace ${netns}: node ${nodeIp}, host ${nodeNetwork.hostIp}`);
    launch('etcd', controlPlanePaths.etcd, [
      '--name=faultline',
      `--data-dir=${join(stateDir, 'etcd')}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=faultline=http://127.0.0.1:2380',
      '--listen-metrics-urls=http://127.0.0.1:2381',
      '--unsafe-no-fsync', // test data: durability is not worth the fsync latency
      '--log-level=warn',
    ]);
    launch('kube-apiserver', controlPlanePaths.kubeApiserver, [
      '--etcd-servers=http://127.0.0.1:2379',
      `--bind-address=${nodeIp}`,
      `--advertise-address=${nodeIp}`,
      '--secure-port=6443',
      `--cert-dir=${f.certDir}`,
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${creds.tokenFile}`,
      `--service-account-key-file=${creds.serviceAccountPub}`,
      `--service-account-signing-key-file=${creds.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${nodeNetwork.serviceCidr}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--kubelet-preferred-address-types=InternalIP,Hostname',
      `--kubelet-client-certificate=${client}.crt`,
      `--kubelet-client-key=${client}.key`,
    ]);
    await group.waitFor('kube-apiserver /readyz', 120_000, async () => existsSync(f.ca) && (await httpsStatus(`${server}/readyz`, readFileSync(f.ca))) === 200);
    launch('kube-controller-manager', controlPlanePaths.kubeControllerManager, [
      `--kubeconfig=${kubeconfigs.controllerManager}`,
      `--bind-address=${nodeIp}`,
      '--secure-port=10257',
      `--cert-dir=${join(stateDir, 'controller-manager-certs')}`,
      '--controllers=*',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${creds.serviceAccountKey}`,
      `--root-ca-file=${f.ca}`,
      '--leader-elect=false',
      '--profiling=false',
      // The node's pod range comes from here; the CNI config and kube-router read it.
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${nodeNetwork.clusterCidr}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${nodeNetwork.serviceCidr}`,
    ]);
    launch('kube-scheduler', controlPlanePaths.kubeScheduler, [`--config=${join(f.cfg, 'scheduler.yaml')}`, `--bind-address=${nodeIp}`, '--secure-port=10259']);
    for (const [name, port] of [['kube-controller-manager', 10257], ['kube-scheduler', 10259]] as const) {
      await group.waitFor(`${name} /healthz`, 60_000, async () => (await httpsStatus(`https://${nodeIp}:${port}/healthz`)) === 200);
    }
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigs.admin);
    await applyManifest(kc, 'kube-router-rbac.yaml');

    launch('containerd', nodePaths.containerd, ['--config', join(f.containerd, 'config.toml')]);
    await group.waitFor('containerd', 30_000, async () => existsSync(f.socket) && inNodeRun(nodePaths.ctr, ['--address', f.socket, 'version']));
    launch('registry', nodePaths.crane, ['registry', 'serve', '--address', '127.0.0.1:5000', '--disk', f.registry]);
    await group.waitFor('the registry', 30_000, async () => inNodeRun(nodePaths.crane, ['catalog', '--insecure', '127.0.0.1:5000']) !== undefined);
    pushImages(['nsenter', `--net=/run/netns/${netns}`, '--'], log);
    // The sandbox image is imported too: a pod must never wait on the registry for its pause container.
    inNodeRun(nodePaths.ctr, ['--address', f.socket, '-n', 'k8s.io', 'images', 'pull', '--plain-http', nodeImages.pause.replace(nodeNetwork.registry, '127.0.0.1:5000')]);
    inNodeRun(nodePaths.ctr, ['--address', f.socket, '-n', 'k8s.io', 'images', 'tag', '--force', nodeImages.pause.replace(nodeNetwork.registry, '127.0.0.1:5000'), nodeImages.pause]);

    const kubeletStarted = Date.now();
    launch('kubelet', nodePaths.kubelet, [`--config=${join(f.cfg, 'kubelet.yaml')}`, `--kubeconfig=${kubeconfigs.kubelet}`, '--root-dir=/var/lib/kubelet', '--cert-dir=/var/lib/kubelet/pki', `--hostname-override=${nodeName}`, `--node-ip=${nodeIp}`, '-v=1']);
    launch('kube-proxy', nodePaths.kubeProxy, [`--config=${join(f.cfg, 'kube-proxy.yaml')}`]);
    const core = kc.makeApiClient(CoreV1Api);
    // kube-router finds its node through the Node object: start it once kubelet has registered the node.
    await group.waitFor('the node registered', 60_000, async () => (await core.readNode({ name: nodeName })).metadata?.name);
    launch('kube-router', nodePaths.kubeRouter, [`--kubeconfig=${kubeconfigs.kubeRouter}`, `--hostname-override=${nodeName}`, '--run-firewall=true', '--run-router=false', '--run-service-proxy=false', `--service-cluster-ip-range=${nodeNetwork.serviceCidr}`, '--health-port=20244', '--metrics-port=0', '-v=1']);
    await group.waitFor('the node Ready', 120_000, async () => (await core.readNode({ name: nodeName })).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    const readyAfterS = (Date.now() - kubeletStarted) / 1000;
    log(`node ${nodeName} Ready ${readyAfterS.toFixed(1)} s after kubelet started`);
    await applyManifest(kc, 'coredns.yaml');
    await group.waitFor('CoreDNS ready', 120_000, async () => {
      const pods = await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' });
      return pods.items.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    });
    log('CoreDNS ready');
    return { kubeconfig: kubeconfigs.admin, server, nodeName, stateDir, logsDir: f.logs, readyAfterS };
  } catch (err) {
    log(`start failed: ${(err as Error).message}; stopping what started`);
    await stopNode(stateDir, log).catch((e: Error) => log(`stop after a failed start: ${e.message}`));
    throw err;
  }
}

async function applyManifest(kc: KubeConfig, file: string) {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const doc of parseAllDocuments(readFileSync(join(import.meta.dirname, 'manifests', file), 'utf8'))) {
    const object = doc.toJS() as KubernetesObject | null;
    if (object) await api.create(object);
  }
}

/**
 * Stops the node and puts the host back as it was: pods deleted while kubelet can still tear down their sandboxes,
 * every process stopped by pid in reverse order, leftover container shims killed by pid, the mount namespace and the
 * network namespace (and with it every rule, bridge and veth) deleted, the cgroups removed, the sysctls restored.
 * Returns what could not be undone (empty when the host is clean).
 */
export async function stopNode(stateDir: string, log: Log = () => undefined): Promise<string[]> {
  const f = files(stateDir);
  const group = new ProcessGroup(stateDir, f.logs);
  const { netns } = nodeNetwork;
  const kubelet = group.records.find((r) => r.name === 'kubelet');
  if (kubelet && running(kubelet.pid) && existsSync(join(f.cfg, 'admin.kubeconfig'))) {
    await deleteAllPods(join(f.cfg, 'admin.kubeconfig'), log).catch((err: Error) => log(`deleting pods: ${err.message}`));
  }
  const left = await group.stop(15_000);
  // Shims outlive containerd by design: ours are the ones serving our socket. Their containers die with them.
  for (const pid of processesMentioning(f.socket)) {
    for (const child of childrenOf(pid)) killQuietly(child);
    killQuietly(pid);
    log(`killed leftover shim ${pid}`);
  }
  await sleep(500);
  const problems = [...left.map((p) => `still running: ${p}`)];
  const attempt = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  if (isMountpoint(f.mountPin)) attempt('unmount the mount namespace', () => sh('umount', [f.mountPin]));
  if (isMountpoint(f.nsDir)) attempt('unmount the namespace folder', () => sh('umount', [f.nsDir]));
  if (netnsExists(netns)) attempt('delete the network namespace', () => sh('ip', ['netns', 'del', netns]));
  // The first namespace on a host makes /run/netns and mounts it on itself; the last one out takes both away again.
  if (existsSync(f.netnsRunDirMade) && existsSync(netnsRunDir) && readdirSync(netnsRunDir).length === 0) {
    attempt('remove /run/netns', () => {
      if (isMountpoint(netnsRunDir)) sh('umount', [netnsRunDir]);
      rmdirSync(netnsRunDir);
    });
  }
  rmSync(f.netnsRunDirMade, { force: true });
  if (sh('ip', ['-o', 'link']).includes(`${nodeNetwork.hostVeth}@`)) attempt('delete the veth', () => sh('ip', ['link', 'del', nodeNetwork.hostVeth]));
  for (const h of cgroupHierarchies()) {
    const root = join(h, cgroupRoot);
    // A killed container's cgroup empties asynchronously: retry for a few seconds, deepest first.
    for (let i = 0; i < 20 && existsSync(root); i++) {
      removeCgroupTree(root);
      if (existsSync(root)) await sleep(250);
    }
    if (existsSync(root)) problems.push(`cgroup ${root} is still there`);
  }
  if (existsSync(f.sysctls)) {
    const saved = JSON.parse(readFileSync(f.sysctls, 'utf8')) as Record<string, string>;
    attempt('restore the sysctls', () => sh('sysctl', ['-qw', ...Object.entries(saved).map(([k, v]) => `${k}=${v}`)]));
    rmSync(f.sysctls);
  }
  for (const p of problems) log(p);
  return problems;
}

async function deleteAllPods(kubeconfig: string, log: Log) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const pods = (await core.listPodForAllNamespaces()).items;
  log(`deleting ${pods.length} pods while kubelet can still tear them down`);
  // Their owners go first, so nothing recreates the pods.
  const namespaces = [...new Set(pods.map((p) => p.metadata!.namespace!))].filter((n) => n !== 'kube-system' && n !== 'default');
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  await KubernetesObjectApi.makeApiClient(kc).delete({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'coredns', namespace: 'kube-system' } }).catch(() => undefined);
  await Promise.all(pods.map((p) => core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: p.metadata!.namespace!, gracePeriodSeconds: 5 }).catch(() => undefined)));
  for (let waited = 0; waited < 90_000; waited += 1000) {
    if ((await core.listPodForAllNamespaces()).items.length === 0) return;
    await sleep(1000);
  }
  log('pods still there after 90 s; stopping anyway');
}

const isMountpoint = (path: string) => spawnSync('mountpoint', ['-q', path]).status === 0;

/** Processes whose command line names `text` (our containerd socket's unique path): found in /proc, never by a broad name. */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    });
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function killQuietly(pid: number) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function removeCgroupTree(dir: string) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  try {
    rmdirSync(dir); // a cgroup's control files go with it
  } catch {
    // not empty yet; the caller retries
  }
}
