// The CLI's Kubernetes commands: `cleanup --platform kubernetes`, the manual counterpart of the controller's sweep,
// and `drill run --platform kubernetes --dry-run`.
import type { Drill } from '../drill/schema.ts';
import { UsageError } from '../local/runtime.ts';
import { dnsLabel, dnsLabelMessage, grafanaFromEnv, namespaceList } from './config.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writableReportDir } from '../report-dir.ts';
import { describeKubernetesPlan } from './dry-run.ts';
import { kubernetesPlatform } from './driver.ts';
import { runDrillEffects } from './effects.ts';

export interface KubernetesCleanupOptions {
  namespace: string;
  allowedNamespaces: string[];
  kubeconfig?: string;
  all: boolean;
}

/** Where chaos may act: flags over environment (FAULTLINE_NAMESPACE, FAULTLINE_ALLOWED_NAMESPACES) over the chart's default namespace. */
export function kubernetesScope(flags: { namespace?: string }, env: NodeJS.ProcessEnv = process.env) {
  const namespace = flags.namespace ?? (env.FAULTLINE_NAMESPACE || 'faultline');
  if (!dnsLabel.test(namespace)) throw new UsageError(`--namespace ${JSON.stringify(namespace)}: ${dnsLabelMessage}`);
  const allowed = env.FAULTLINE_ALLOWED_NAMESPACES ? namespaceList.safeParse(env.FAULTLINE_ALLOWED_NAMESPACES) : undefined;
  if (allowed && !allowed.success) throw new UsageError(`FAULTLINE_ALLOWED_NAMESPACES=${JSON.stringify(env.FAULTLINE_ALLOWED_NAMESPACES)}: ${allowed.error.issues[0]!.message}`);
  return { namespace, allowedNamespaces: allowed?.data ?? [namespace] };
}

export function kubernetesCleanupOptions(flags: { namespace?: string; kubeconfig?: string; all?: boolean }, env: NodeJS.ProcessEnv = process.env): KubernetesCleanupOptions {
  return { ...kubernetesScope(flags, env), ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}), all: Boolean(flags.all) };
}

/** The objects a drill's faults would create in the cluster; nothing is touched, and no cluster is needed. */
export function kubernetesDryRun(drill: Drill, flags: { namespace?: string; release?: string }, env: NodeJS.ProcessEnv = process.env): string[] {
  return describeKubernetesPlan(drill, { ...kubernetesScope(flags, env), release: releaseOf(flags, env) });
}

function releaseOf(flags: { release?: string }, env: NodeJS.ProcessEnv) {
  const release = flags.release ?? (env.FAULTLINE_RELEASE || 'faultline');
  if (!dnsLabel.test(release)) throw new UsageError(`--release ${JSON.stringify(release)}: ${dnsLabelMessage}`);
  return release;
}

/** Runs a drill's faults against the cluster and checks their API effects; writes journal.json; returns the exit code. */
export async function kubernetesEffectsCommand(drill: Drill, flags: { namespace?: string; release?: string; kubeconfig?: string; reportDir?: string }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dir = writableReportDir(join(flags.reportDir ?? '.faultline/reports', drill.name));
  const grafana = grafanaFromEnv(env);
  const platform = kubernetesPlatform({
    ...kubernetesScope(flags, env),
    release: releaseOf(flags, env),
    ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
    ...(grafana ? { grafana } : {}),
  });
  const journal = await runDrillEffects(drill, platform, { print: (line) => console.log(line) });
  writeFileSync(join(dir, 'journal.json'), `${JSON.stringify(journal, null, 2)}\n`);
  console.log(`\n${journal.verdict === 'pass' ? 'PASS' : 'FAIL'}: drill ${drill.name} ${journal.status} on Kubernetes, API effects only${journal.reason ? ` (${journal.reason})` : ''}`);
  for (const line of journal.skipped) console.log(`  skipped: ${line}`);
  console.log(`  journal: ${join(dir, 'journal.json')}`);
  return journal.verdict === 'pass' ? 0 : 1;
}

export async function kubernetesCleanupCommand(opts: KubernetesCleanupOptions, env: NodeJS.ProcessEnv = process.env) {
  const { all, ...where } = opts;
  const grafana = grafanaFromEnv(env);
  const platform = kubernetesPlatform({
    ...where,
    release: env.FAULTLINE_RELEASE || 'faultline', // cleanup finds faults by their labels, whatever the release
    ...(grafana ? { grafana } : {}),
  });
  const { removed, kept } = await platform.cleanup({ all });
  const describe = (f: (typeof removed)[number]) => `${f.kind} ${f.target} (${f.id}, drill ${f.drill})`;
  console.log(removed.length ? `removed from namespace ${opts.namespace}: ${removed.map(describe).join(', ')}` : `nothing to clean up in namespace ${opts.namespace}`);
  if (kept.length) console.log(`still within their deadline: ${kept.map((f) => `${describe(f)} until ${new Date(f.expiresAt).toISOString()}`).join(', ')} (--all removes them now)`);
}
