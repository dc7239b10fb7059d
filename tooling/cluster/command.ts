// `npm run cluster:up` / `npm run cluster:down`: the real node (node.ts) with the chart installed from the images
// built here, for a person to try the Kubernetes path on a machine without Docker.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { main, UsageError } from '../../chaos/src/core/errors.ts';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import { chartToolPaths, helmEnv } from '../toolchain.ts';
import { startNode, stopNode } from './node.ts';

/** Where the node keeps its state, logs and kubeconfigs. */
export const clusterStateDir = process.env.FAULTLINE_CLUSTER_DIR ?? join(projectRoot, '.faultline', 'cluster');
export const localNodeValues = join(projectRoot, 'charts/faultline/ci/local-node-values.yaml');

/** `helm upgrade --install` of the chart on the node, waiting for every pod; returns helm's output or throws with it. */
export function installChart(kubeconfig: string, opts: { release?: string; namespace?: string; values?: string[] } = {}) {
  const release = opts.release ?? 'faultline';
  const namespace = opts.namespace ?? 'faultline';
  const args = ['upgrade', '--install', release, join(projectRoot, 'charts/faultline'), '--namespace', namespace, '--create-namespace', '-f', localNodeValues, ...(opts.values ?? []), '--wait', '--timeout', '10m', '--kubeconfig', kubeconfig];
  const r = spawnSync(chartToolPaths.helm, args, { encoding: 'utf8', env: { ...process.env, ...helmEnv() } });
  if (r.status !== 0) throw new Error(`helm ${args.slice(0, 3).join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

if (process.argv[1] === import.meta.filename) {
  await main('cluster', async () => {
    const [verb, ...rest] = process.argv.slice(2);
    if (rest.length || (verb !== 'up' && verb !== 'down')) throw new UsageError('usage: npm run cluster:up | npm run cluster:down');
    const log = (line: string) => console.log(`  ${line}`);
    if (verb === 'down') {
      if (!existsSync(clusterStateDir)) return console.log('no node was brought up here');
      const left = await stopNode(clusterStateDir, log);
      if (left.length) throw new Error(`the node is down, but not everything could be undone:\n${left.join('\n')}`);
      console.log('the node is down, and the host is as it was');
      return 0;
    }
    console.log('▶ bringing up a one-node cluster (tooling/cluster/node.ts)');
    const node = await startNode({ stateDir: clusterStateDir, log, detached: true });
    console.log('▶ installing the chart (charts/faultline, ci/local-node-values.yaml)');
    const started = Date.now();
    try {
      installChart(node.kubeconfig);
    } catch (err) {
      console.error(`${(err as Error).message}\nthe node stays up to look at; \`npm run cluster:down\` stops it`);
      return 1;
    }
    console.log(`  release faultline Ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    console.log(`\nkubeconfig: ${node.kubeconfig}\n`);
    console.log(`  npx faultline drill run chaos/drills/catalog-outage.yaml --platform kubernetes --kubeconfig ${node.kubeconfig}`);
    console.log(`  ${join(projectRoot, '.tools/control-plane/kubectl')} --kubeconfig ${node.kubeconfig} -n faultline get pods`);
    console.log('  npm run cluster:down     (stops it, and puts the host back as it was)');
    return 0;
  });
}
