// A real Kubernetes control plane on loopback, for tests. Like controller-runtime's envtest it runs a real etcd and a real
// kube-apiserver; unlike envtest it adds the kube-controller-manager (Deployments get ReplicaSets, ReplicaSets get pods,
// namespaces and service-account tokens work), the kube-scheduler (pods get nodes) and KWOK, which fakes the kubelets of
// a few Node objects so that scheduled pods turn Running and Ready without any container runtime.
// The binaries come from `npm run setup -- --with-cluster` (tooling/toolchain.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { freePort, isAlive } from '../../chaos/src/core/host.ts';
import { controlPlanePaths } from '../toolchain.ts';
import { identities, writeCredentials, writeKubeconfig } from './credentials.ts';

export interface ControlPlaneOptions {
  /** Data, keys, kubeconfigs and logs (logs/<component>.log) go here; it should be fresh. */
  dir: string;
  /** Five consecutive ports from here; without it, ports the OS reports free. */
  portBase?: number;
  /** How many fake nodes KWOK runs (default 2). */
  nodes?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface ControlPlane {
  /** An administrator's kubeconfig (group system:masters). */
  kubeconfig: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** The API server's self-signed serving certificate, for clients that verify it. */
  caFile: string;
  nodes: string[];
  processes: ReadonlyArray<{ name: string; pid: number }>;
  logsDir: string;
  /** SIGTERM to each process (clients first, etcd last), SIGKILL after a grace period; throws if any pid is still alive. */
  stop(): Promise<void>;
}

/** Marks the Node objects this harness creates; KWOK manages only nodes carrying it, as its docs suggest. */
export const fakeNodeAnnotation = { key: 'kwok.x-k8s.io/node', value: 'fake' };

// Clear of the fake pod IPs below and of a developer's own networks.
const serviceCidr = '10.96.0.0/16';
const podCidr = '10.244.0.0/16';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
}

const hasExited = (p: Proc) => p.child.exitCode !== null || p.child.signalCode !== null;

function tailOf(file: string, lines = 20) {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** GET over TLS. `ca` verifies the server; without it the certificate is not checked (a component's own self-signed health port). */
function httpsGet(url: string, ca?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const req = https.get(url, { ca, rejectUnauthorized: ca !== undefined, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

export function fakeNode(name: string): V1Node {
  const resources = { cpu: '32', memory: '256Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [fakeNodeAnnotation.key]: fakeNodeAnnotation.value, 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    status: { allocatable: resources, capacity: resources },
  };
}

const isReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  for (const [what, file] of Object.entries(controlPlanePaths)) {
    if (!existsSync(file)) throw new Error(`${what} is not installed at ${file}: run \`npm run setup -- --with-cluster\``);
  }
  const log = opts.log ?? (() => undefined);
  const dir = resolve(opts.dir);
  const logsDir = join(dir, 'logs');
  mkdirSync(logsDir, { recursive: true });
  const names = ['etcd', 'etcdPeer', 'apiserver', 'controllerManager', 'scheduler'] as const;
  const ports = Object.fromEntries(await Promise.all(names.map(async (n, i) => [n, opts.portBase === undefined ? await freePort() : opts.portBase + i]))) as Record<(typeof names)[number], number>;
  const server = `https://127.0.0.1:${ports.apiserver}`;
  const certDir = join(dir, 'apiserver-certs');
  // The API server writes its self-signed certificate here, with the CA that signed it appended.
  const caFile = join(certDir, 'apiserver.crt');
  const creds = writeCredentials(join(dir, 'pki'));
  const kubeconfigs = Object.fromEntries(
    Object.entries(identities).map(([id, { user }]) => [id, writeKubeconfig(join(dir, `${id}.kubeconfig`), server, caFile, user, creds.tokens[id as keyof typeof identities])]),
  ) as Record<keyof typeof identities, string>;

  const procs: Proc[] = [];
  const killAll = () => procs.forEach((p) => hasExited(p) || p.child.kill('SIGKILL'));
  // If the test process itself exits without stop(), take the control plane with it.
  process.once('exit', killAll);

  const launch = (name: string, bin: string, args: string[]) => {
    const logFile = join(logsDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<void>((done) => {
      child.once('exit', () => done());
      child.once('error', () => done());
    });
    procs.push({ name, child, logFile, exited });
    log(`${name} pid ${child.pid}`);
  };

  /** Polls `probe` until it returns something truthy, failing at once if a process died. */
  const waitFor = async <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = procs.find(hasExited);
      if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}:\n${tailOf(dead.logFile)}`);
      const value = await probe().catch(() => undefined);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs / 1000} s; logs in ${logsDir}`);
      await sleep(250);
    }
  };

  const stop = async () => {
    // Clients first, so they do not spend their last seconds retrying a gone API server; etcd last.
    for (const group of [['kwok', 'kube-scheduler', 'kube-controller-manager'], ['kube-apiserver'], ['etcd']]) {
      await Promise.all(procs.filter((p) => group.includes(p.name)).map((p) => terminate(p, 10_000)));
    }
    process.off('exit', killAll);
    // 'exit' fires after the child is reaped, so a pid still alive now is not ours any more, or never died.
    const left = procs.filter((p) => p.child.pid !== undefined && (!hasExited(p) || isAlive(p.child.pid)));
    if (left.length > 0) throw new Error(`still running after stop: ${left.map((p) => `${p.name} (pid ${p.child.pid})`).join(', ')}`);
    // The logs stay to be read; etcd's data (a 64 MB preallocated WAL) does not.
    rmSync(join(dir, 'etcd'), { recursive: true, force: true });
  };

  try {
    const etcdUrl = `http://127.0.0.1:${ports.etcd}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    launch('etcd', controlPlanePaths.etcd, [
      '--name=faultline',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=faultline=${peerUrl}`,
      // Test data: durability is not worth the fsync latency, as envtest decides too.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd /health', 60_000, async () => ((await (await fetch(`${etcdUrl}/health`)).json()) as { health?: string }).health === 'true');

    launch('kube-apiserver', controlPlanePaths.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${ports.apiserver}`,
      `--cert-dir=${certDir}`,
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${creds.tokenFile}`,
      `--service-account-key-file=${creds.serviceAccountPub}`,
      `--service-account-signing-key-file=${creds.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${serviceCidr}`,
      '--allow-privileged=true',
      '--profiling=false',
      // The default Service "kubernetes" would list the advertise address as its endpoint, and Endpoints refuse a
      // loopback address: keep the Service, skip the endpoints nothing here would use.
      '--endpoint-reconciler-type=none',
    ]);
    await waitFor('kube-apiserver /readyz', 120_000, async () => existsSync(caFile) && (await httpsGet(`${server}/readyz`, readFileSync(caFile))).status === 200);

    launch('kube-controller-manager', controlPlanePaths.kubeControllerManager, [
      `--kubeconfig=${kubeconfigs.controllerManager}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.controllerManager}`,
      `--cert-dir=${join(dir, 'controller-manager-certs')}`,
      // Every controller, each with its own service account, as in a real cluster.
      '--controllers=*',
      '--use-service-account-credentials=true',
      // As kubeadm: legacy token Secrets still get a token; kube-root-ca.crt ConfigMaps carry the API server's CA.
      `--service-account-private-key-file=${creds.serviceAccountKey}`,
      `--root-ca-file=${caFile}`,
      '--leader-elect=false',
      '--profiling=false',
    ]);
    // The scheduler's --kubeconfig, --leader-elect and --profiling flags are deprecated in favour of this file.
    const schedulerConfig = join(dir, 'scheduler.yaml');
    writeFileSync(
      schedulerConfig,
      stringify({
        apiVersion: 'kubescheduler.config.k8s.io/v1',
        kind: 'KubeSchedulerConfiguration',
        clientConnection: { kubeconfig: kubeconfigs.scheduler },
        leaderElection: { leaderElect: false },
        enableProfiling: false,
      }),
    );
    launch('kube-scheduler', controlPlanePaths.kubeScheduler, [`--config=${schedulerConfig}`, '--bind-address=127.0.0.1', `--secure-port=${ports.scheduler}`]);
    launch('kwok', controlPlanePaths.kwok, [
      `--kubeconfig=${kubeconfigs.kwok}`,
      `--config=${controlPlanePaths.kwokStages}`,
      '--manage-all-nodes=false',
      `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation.key}=${fakeNodeAnnotation.value}`,
      // Renews each node's Lease, the heartbeat the node-lifecycle controller watches.
      '--node-lease-duration-seconds=40',
      `--cidr=${podCidr}`,
    ]);
    for (const [name, port] of [['kube-controller-manager', ports.controllerManager], ['kube-scheduler', ports.scheduler]] as const) {
      await waitFor(`${name} /healthz`, 60_000, async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`)).status === 200);
    }

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigs.admin);
    const core = kc.makeApiClient(CoreV1Api);
    const nodes = Array.from({ length: opts.nodes ?? 2 }, (_, i) => `kwok-node-${i}`);
    for (const name of nodes) await core.createNode({ body: fakeNode(name) });
    await waitFor('fake nodes Ready', 60_000, async () => {
      const ready = new Set((await core.listNode()).items.filter(isReady).map((n) => n.metadata?.name));
      return nodes.every((n) => ready.has(n));
    });
    // Pods are refused until their namespace's default service account exists: the controller-manager's first visible work.
    await waitFor('service account default/default', 60_000, async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' })).metadata?.name);
    log(`control plane ready at ${server} with ${nodes.length} fake nodes; logs in ${logsDir}`);

    return {
      kubeconfig: kubeconfigs.admin,
      server,
      caFile,
      nodes,
      processes: procs.map((p) => ({ name: p.name, pid: p.child.pid! })),
      logsDir,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

async function terminate(p: Proc, graceMs: number) {
  if (hasExited(p)) return;
  p.child.kill('SIGTERM');
  const stopped = await Promise.race([p.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!stopped) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}
