// The CLI's Kubernetes side: where chaos may act (namespace, release, allowlist), the platform a drill runs on,
// `drill run --platform kubernetes --dry-run`, and `cleanup --platform kubernetes`, the manual counterpart of the
// controller's sweep.
import { UsageError } from '../../core/errors.ts';
import type { Drill } from '../../drill/schema.ts';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { describeApiError, isForbidden, isNotFound, loadKubeConfig } from './client.ts';
import { dnsLabel, dnsLabelMessage, grafanaFromEnv, namespaceList } from './config.ts';
import { faultDriver } from './driver.ts';
import { describeKubernetesPlan } from './dry-run.ts';
import { assertNamespaceAllowed } from './guardrails.ts';
import { apiProxy } from './access.ts';
import { chartNames, kubernetesPlatform, requireService } from './platform.ts';

export interface KubernetesFlags {
  namespace?: string;
  release?: string;
  kubeconfig?: string;
}

/** Where chaos may act: flags over environment (FAULTLINE_NAMESPACE, FAULTLINE_ALLOWED_NAMESPACES) over the chart's default namespace. */
export function kubernetesScope(flags: { namespace?: string }, env: NodeJS.ProcessEnv = process.env) {
  const namespace = flags.namespace ?? (env.FAULTLINE_NAMESPACE || 'faultline');
  if (!dnsLabel.test(namespace)) throw new UsageError(`--namespace ${JSON.stringify(namespace)}: ${dnsLabelMessage}`);
  const allowed = env.FAULTLINE_ALLOWED_NAMESPACES ? namespaceList.safeParse(env.FAULTLINE_ALLOWED_NAMESPACES) : undefined;
  if (allowed && !allowed.success) throw new UsageError(`FAULTLINE_ALLOWED_NAMESPACES=${JSON.stringify(env.FAULTLINE_ALLOWED_NAMESPACES)}: ${allowed.error.issues[0]!.message}`);
  return { namespace, allowedNamespaces: allowed?.data ?? [namespace] };
}

export function releaseOf(flags: { release?: string }, env: NodeJS.ProcessEnv) {
  const release = flags.release ?? (env.FAULTLINE_RELEASE || 'faultline');
  if (!dnsLabel.test(release)) throw new UsageError(`--release ${JSON.stringify(release)}: ${dnsLabelMessage}`);
  if (release.length > 53) throw new UsageError(`--release ${JSON.stringify(release)}: a Helm release name has at most 53 characters`);
  return release;
}

/** The objects a drill's faults would create in the cluster; nothing is touched, and no cluster is needed. */
export function kubernetesDryRun(drill: Drill, flags: KubernetesFlags, env: NodeJS.ProcessEnv = process.env): string[] {
  return describeKubernetesPlan(drill, { ...kubernetesScope(flags, env), release: releaseOf(flags, env) });
}

/** The release a drill runs against, from the flags; `faultsOnly` to act on the API alone. */
export async function kubernetesPlatformFor(flags: KubernetesFlags & { faultsOnly?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  // Every flag is checked before the kubeconfig is read: a typo is named even where no cluster is configured.
  const scope = kubernetesScope(flags, env);
  assertNamespaceAllowed(scope.namespace, scope.allowedNamespaces);
  const release = releaseOf(flags, env);
  const grafana = grafanaFromEnv(env);
  const kc = loadKubeConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}, env);
  const settings = await releaseSettings(kc, scope.namespace, release);
  const k6Image = env.FAULTLINE_K6_IMAGE || settings.k6Image;
  const { apiKeySecret } = settings;
  return kubernetesPlatform({ kc, ...scope, release, traffic: !flags.faultsOnly, ...(k6Image ? { k6Image } : {}), ...(apiKeySecret ? { apiKeySecret } : {}), ...(grafana ? { grafana } : {}) });
}

/** What the chart tells a drill run from outside the cluster (its drill-settings ConfigMap); nothing from an older chart. */
async function releaseSettings(kc: KubeConfig, namespace: string, release: string): Promise<{ k6Image?: string; apiKeySecret?: string }> {
  try {
    return (await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: `${release}-drill-settings`, namespace })).data ?? {};
  } catch (err) {
    if (isNotFound(err)) return {};
    // The drill-runner Role may read this ConfigMap by name only: a wrong --release shows up here as forbidden.
    const hint = isForbidden(err) ? `; is release ${release} installed there? (--release, --namespace)` : '';
    throw new UsageError(`${describeApiError(`read ConfigMap ${release}-drill-settings in namespace ${namespace}`, err)}${hint}`);
  }
}

export async function kubernetesCleanupCommand(flags: { namespace?: string; kubeconfig?: string; all?: boolean }, env: NodeJS.ProcessEnv = process.env) {
  const scope = kubernetesScope(flags, env);
  const grafana = grafanaFromEnv(env);
  const driver = faultDriver({
    kc: loadKubeConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}, env),
    ...scope,
    release: env.FAULTLINE_RELEASE || 'faultline', // cleanup finds faults by their labels, whatever the release
    ...(grafana ? { grafana } : {}),
  });
  const { removed, kept } = await driver.cleanup({ all: Boolean(flags.all) });
  const describe = (f: (typeof removed)[number]) => `${f.kind} ${f.target} (${f.id}, drill ${f.drill})`;
  console.log(removed.length ? `removed from namespace ${driver.namespace}: ${removed.map(describe).join(', ')}` : `nothing to clean up in namespace ${driver.namespace}`);
  if (kept.length) console.log(`still within their deadline: ${kept.map((f) => `${describe(f)} until ${new Date(f.expiresAt).toISOString()}`).join(', ')} (--all removes them now)`);
}

/** The release's Prometheus, reached through the API server's service proxy on a loopback proxy, for the live page. */
export async function kubernetesPrometheus(flags: KubernetesFlags, env: NodeJS.ProcessEnv = process.env) {
  const { namespace } = kubernetesScope(flags, env);
  const release = releaseOf(flags, env);
  const kc = loadKubeConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}, env);
  const service = chartNames(release).prometheus;
  await requireService(kc.makeApiClient(CoreV1Api), service, namespace, release);
  const proxy = await apiProxy(kc);
  return {
    url: `${proxy.address}/api/v1/namespaces/${namespace}/services/http:${service}:http/proxy`,
    name: `Prometheus of release ${release} in namespace ${namespace} (${kc.getCurrentCluster()?.server})`,
    close: () => proxy.close(),
  };
}
