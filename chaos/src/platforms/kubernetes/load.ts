// A k6 Job as a drill's load run: started when k6's REST API answers through the pod proxy, done when its test has
// ended, with the figures read from that API and the acknowledgements from the pod's log before the Job goes.
import type { CoreV1Api } from '@kubernetes/client-node';
import { waitFor } from '../../core/time.ts';
import { k6Api, parseAcks, summaryOf, type Ack, type K6Summary } from '../../drill/k6.ts';
import type { LoadRun } from '../../drill/platform.ts';
import { k6ApiPort, k6ObjectNames } from './k6-job.ts';

export interface K6JobAccess {
  core: CoreV1Api;
  namespace: string;
  /** The API server's base URL on loopback (access.ts's proxy). */
  apiBase: string;
  /** Deletes the Job's objects, for a load that owns them (a flood's go with the fault). */
  removeObjects?: () => Promise<unknown>;
}

/** How long a k6 pod may take to start: scheduling, pulling the image, starting k6. */
const startLimitMs = 120_000;

export function k6JobRun(access: K6JobAccess, id: string, opts: { durationMs: number }): LoadRun & { started(): Promise<void> } {
  const job = k6ObjectNames(id).job;
  const podOf = async () => {
    const pods = await access.core.listNamespacedPod({ namespace: access.namespace, labelSelector: `batch.kubernetes.io/job-name=${job}` });
    return pods.items.find((p) => p.status?.phase === 'Running')?.metadata?.name;
  };
  const started = waitFor(
    `k6 of Job ${job} to answer`,
    async () => {
      const pod = await podOf();
      if (!pod) return undefined;
      const api = k6Api(`${access.apiBase}/api/v1/namespaces/${access.namespace}/pods/${pod}:${k6ApiPort}/proxy`);
      return (await api.ended()) === undefined ? undefined : { pod, api };
    },
    { timeoutMs: startLimitMs, everyMs: 500 },
  );
  started.catch(() => undefined);
  let stopping = false;
  let collected: Promise<{ summary: K6Summary; acks: Ack[] }> | undefined;
  const collect = () =>
    (collected ??= (async () => {
      try {
        const { pod, api } = await started;
        // k6 lingers after its test, so its API stays up to be read; the Job's deadline bounds the wait.
        await waitFor(`k6 of Job ${job} to finish`, async () => (await api.ended()) === true, { timeoutMs: opts.durationMs + startLimitMs, everyMs: 500 });
        const metrics = await api.metrics();
        const log = await access.core.readNamespacedPodLog({ name: pod, namespace: access.namespace, container: 'k6' });
        return { summary: summaryOf(metrics ?? {}), acks: parseAcks(log) };
      } finally {
        await access.removeObjects?.();
      }
    })());
  return {
    label: `Job ${job}`,
    started: async () => void (await started),
    observedRate: async () => (await started).api.observedRate(),
    done: async () => (await collect()).summary,
    async stop() {
      if (stopping) return;
      stopping = true;
      const ready = await started.catch(() => undefined);
      if (ready && (await ready.api.ended()) === false) await ready.api.stop();
    },
    acks: async () => (await collect().catch(() => ({ acks: [] }))).acks,
  };
}
