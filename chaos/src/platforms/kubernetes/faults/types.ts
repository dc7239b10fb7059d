import type { V1ConfigMap, V1Job, V1NetworkPolicy } from '@kubernetes/client-node';
import type { LoadRun } from '../../../drill/platform.ts';
import type { FaultDriver } from '../driver.ts';

/** An object a fault creates, typed by its kind. */
export type FaultBody = { kind: 'NetworkPolicy'; body: V1NetworkPolicy } | { kind: 'Job'; body: V1Job } | { kind: 'ConfigMap'; body: V1ConfigMap };

/** What building a fault's objects needs to know of the release. */
export interface FaultContext {
  namespace: string;
  release: string;
  k6Image: string;
  gatewayUrl: string;
  apiKeySecret: string;
}

export interface KubernetesFaultDeps {
  driver: FaultDriver;
  /** Whether traffic reaches the shop: when not, a flood's evidence is its objects, not k6's rate. */
  traffic: boolean;
  /** k6 in a Job this driver created, as a load run (read through the API server). */
  k6Run(id: string, durationMs: number): LoadRun;
}
