// What the cluster files share: the node the global setup brought up, clients, the CLI, helm.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, NetworkingV1Api } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import { chartToolPaths, helmEnv, nodePaths } from '../../tooling/toolchain.ts';
import { waitFor as sharedWaitFor } from '../support/shop.ts';

export const cluster = () => inject('cluster');

/** The suites' waitFor, with a cluster's longer default patience. */
export const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250) => sharedWaitFor(what, probe, timeoutMs, everyMs);

export function clients(kubeconfig = cluster().kubeconfig) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), networking: kc.makeApiClient(NetworkingV1Api) };
}

const cliPath = join(projectRoot, 'chaos/bin/faultline.js');

/** The faultline CLI as a user would run it, with the chaos scope pinned to the release's namespace. */
export function faultline(args: string[], env: NodeJS.ProcessEnv = {}) {
  const { namespace } = cluster();
  const r = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 420_000, env: { ...process.env, FAULTLINE_NAMESPACE: namespace, FAULTLINE_ALLOWED_NAMESPACES: namespace, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
export { cliPath };

export function helm(args: string[]) {
  const r = spawnSync(chartToolPaths.helm, [...args, '--kubeconfig', cluster().kubeconfig], { encoding: 'utf8', timeout: 900_000, env: { ...process.env, ...helmEnv() } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** kubectl as the administrator (the one built with the cluster; the machine's may be out of version skew). */
export function kubectl(args: string[]) {
  const r = spawnSync(nodePaths.kubectl, ['--kubeconfig', cluster().kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
