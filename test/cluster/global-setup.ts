// One real node for the whole cluster suite (tooling/cluster/node.ts), with the chart installed from the images built
// here; stopped after the last file, when the host must be exactly as it was before it started.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import { installChart } from '../../tooling/cluster/command.ts';
import { hostDiff, hostState } from '../../tooling/cluster/host.ts';
import { nodePreflight, startNode, stopNode } from '../../tooling/cluster/node.ts';
import { writeKubeconfig } from '../../tooling/cluster/credentials.ts';

export interface ClusterContext {
  /** An administrator's kubeconfig. */
  kubeconfig: string;
  /** As the chart's drill-runner Role's subject (ServiceAccount faultline/drill-runner). */
  runnerKubeconfig: string;
  /** As the chaos controller's own ServiceAccount. */
  controllerKubeconfig: string;
  server: string;
  caFile: string;
  namespace: string;
  release: string;
  /** Measured: kubelet started to node Ready, and an empty cluster to every pod of the release Ready. */
  nodeReadyS: number;
  releaseReadyS: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterContext;
  }
}

const log = (line: string) => process.stderr.write(`[node] ${line}\n`);
export const runnerAccount = 'drill-runner';

/** A kubeconfig acting as a ServiceAccount, with a token from the TokenRequest API. */
async function serviceAccountKubeconfig(kc: KubeConfig, file: string, namespace: string, name: string, server: string, caFile: string) {
  const token = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({ name, namespace, body: { spec: { expirationSeconds: 7200 } } });
  return writeKubeconfig(file, server, caFile, `system:serviceaccount:${namespace}:${name}`, token.status!.token!);
}

export default async function setup(project: TestProject) {
  nodePreflight(); // before the snapshot: a missing tool or a node already up stops here, naming it
  const stateDir = join(projectRoot, '.faultline', 'cluster-test');
  const before = hostState(stateDir);
  const node = await startNode({ stateDir, log, detached: false });
  const namespace = 'faultline';
  const release = 'faultline';
  const kc = new KubeConfig();
  kc.loadFromFile(node.kubeconfig);
  try {
    const started = Date.now();
    // The drill runner's Role bound to a ServiceAccount the tests act as; the controller sweeps every 2 s.
    log(installChart(node.kubeconfig, { release, namespace, values: ['--set-json', `drillRunner.subjects=[{"kind":"ServiceAccount","name":"${runnerAccount}","namespace":"${namespace}"}]`, '--set', 'chaos.reconcileInterval=2s'] }).split('\n')[0]!);
    const releaseReadyS = (Date.now() - started) / 1000;
    log(`release ${release} installed, every pod Ready, ${releaseReadyS.toFixed(0)} s after helm started`);
    await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name: runnerAccount } } });
    const caFile = join(stateDir, 'apiserver-certs', 'apiserver.crt');
    const context: ClusterContext = {
      kubeconfig: node.kubeconfig,
      runnerKubeconfig: await serviceAccountKubeconfig(kc, join(stateDir, 'runner.kubeconfig'), namespace, runnerAccount, node.server, caFile),
      controllerKubeconfig: await serviceAccountKubeconfig(kc, join(stateDir, 'controller.kubeconfig'), namespace, `${release}-chaos-controller`, node.server, caFile),
      server: node.server,
      caFile,
      namespace,
      release,
      nodeReadyS: node.readyAfterS,
      releaseReadyS,
    };
    writeFileSync(join(stateDir, 'context.json'), JSON.stringify(context, null, 2));
    project.provide('cluster', context);
  } catch (err) {
    await stopNode(stateDir, log);
    throw err;
  }
  return async () => {
    const left = await stopNode(stateDir, log);
    const diff = hostDiff(before, hostState(stateDir));
    if (left.length || diff.length) throw new Error(`the host is not as it was before the node:\n${[...left, ...diff].join('\n')}`);
    log('the node is down; the host is as it was before it (iptables, nft, ipsets, links, routes, namespaces, mounts, sysctls, cgroups, files, processes)');
  };
}
