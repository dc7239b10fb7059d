// One control plane per test file: started before its tests, stopped after them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../tooling/cluster/harness.ts';
import { waitFor as sharedWaitFor } from '../support/shop.ts';


/** The suites' waitFor, with a control plane's longer default patience. */
export const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000) => sharedWaitFor(what, probe, timeoutMs);

export function clients(kubeconfig: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api) };
}

/** Starts a control plane in a fresh temporary folder for this file; the getter is valid inside tests. */
export function useControlPlane(opts: Partial<ControlPlaneOptions> = {}) {
  let plane: ControlPlane | undefined;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-cluster-'));
    plane = await startControlPlane({ dir, log: (line) => process.stderr.write(`[cluster] ${line}\n`), ...opts });
  });
  afterAll(async () => {
    await plane?.stop();
  });
  return () => {
    if (!plane) throw new Error('the control plane did not start');
    return plane;
  };
}
