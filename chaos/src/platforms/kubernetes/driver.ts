// The fault driver: faults as API objects in one namespace. A pod kill deletes pods, a partition is NetworkPolicies, a
// flood (and a drill's load) is a k6 Job. Every object carries its fault's labels and expiry (labels.ts), so that
// removeFault, cleanup and the controller find it again without any state of their own.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BatchV1Api, CoreV1Api, NetworkingV1Api, type KubeConfig } from '@kubernetes/client-node';
import { loadScriptsDir } from '../../core/paths.ts';
import type { LoadSpec } from '../../drill/fields.ts';
import type { Inventory } from '../../drill/platform.ts';
import { describeApiError, isNotFound } from './client.ts';
import { faultIdentity, faultObjects, type Buildable, type FaultBody } from './faults/index.ts';
import { partitionExclusions } from './faults/network-partition.ts';
import { podKillOptions } from './faults/pod-kill.ts';
import { grafanaAnnotations, type GrafanaOptions } from './grafana.ts';
import { assertNamespaceAllowed } from './guardrails.ts';
import { inventoryFromPods } from './inventory.ts';
import { defaultGatewayUrl, defaultK6Image, jobFinished, k6DeadlineSeconds, k6Objects } from './k6-job.ts';
import { faultSelector, groupFaults, kindSelector, managedSelector, releasePodSelector, type FaultIdentity, type FaultObject, type FaultObjectKind, type LiveFault } from './labels.ts';

export interface FaultDriverOptions {
  kc: KubeConfig;
  namespace: string;
  release: string;
  allowedNamespaces: readonly string[];
  /** Where a flood's k6 sends its traffic; default the release's gateway Service. */
  gatewayUrl?: string;
  k6Image?: string;
  /** The Secret with the clients' API keys (keys `local` and `load`); default `<release>-api-keys`. */
  apiKeySecret?: string;
  grafana?: GrafanaOptions;
  warn?: (message: string) => void;
}

export interface KilledPod {
  name: string;
  killedAt: string;
  /** False when the pod was already gone. */
  found: boolean;
}

export type InjectedFault = LiveFault & { killed?: KilledPod[] };

/** Deleting what is already gone is success (false): a drill's rollback, cleanup and the controller may race each other. */
async function deleted(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export function faultDriver(opts: FaultDriverOptions) {
  assertNamespaceAllowed(opts.namespace, opts.allowedNamespaces);
  const { namespace, release, kc } = opts;
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const warn = opts.warn ?? ((m: string) => console.warn(m));
  const annotations = grafanaAnnotations(opts.grafana, warn);

  const api = async <T>(action: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw new Error(describeApiError(`${action} in namespace ${namespace}`, err), { cause: err });
    }
  };

  const listBodies = async (labelSelector: string) => {
    const [policies, jobs, configMaps] = await Promise.all([
      api('list NetworkPolicies', () => networking.listNamespacedNetworkPolicy({ namespace, labelSelector })),
      api('list Jobs', () => batch.listNamespacedJob({ namespace, labelSelector })),
      api('list ConfigMaps', () => core.listNamespacedConfigMap({ namespace, labelSelector })),
    ]);
    return { policies: policies.items, jobs: jobs.items, configMaps: configMaps.items };
  };

  const listFaultObjects = async (labelSelector: string): Promise<FaultObject[]> => {
    const { policies, jobs, configMaps } = await listBodies(labelSelector);
    return [
      ...policies.map((p) => ({ kind: 'NetworkPolicy' as const, metadata: p.metadata })),
      ...jobs.map((j) => ({ kind: 'Job' as const, metadata: j.metadata, finished: jobFinished(j) })),
      ...configMaps.map((c) => ({ kind: 'ConfigMap' as const, metadata: c.metadata })),
    ];
  };

  const create = (o: FaultBody) => {
    const action = `create ${o.kind} ${o.body.metadata?.name}`;
    switch (o.kind) {
      case 'NetworkPolicy':
        return api(action, () => networking.createNamespacedNetworkPolicy({ namespace, body: o.body }));
      case 'Job':
        return api(action, () => batch.createNamespacedJob({ namespace, body: o.body }));
      case 'ConfigMap':
        return api(action, () => core.createNamespacedConfigMap({ namespace, body: o.body }));
    }
  };

  /** Deletes one object; already gone is fine. A Job's pods go with it (Background: the garbage collector removes them). */
  const remove = ({ kind, name }: { kind: FaultObjectKind; name: string }) => {
    const call = {
      NetworkPolicy: () => networking.deleteNamespacedNetworkPolicy({ name, namespace }),
      Job: () => batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }),
      ConfigMap: () => core.deleteNamespacedConfigMap({ name, namespace }),
    }[kind];
    return api(`delete ${kind} ${name}`, () => deleted(call));
  };

  /** All or nothing: if one object cannot be created, the ones already created are deleted before the error goes up. */
  const createAll = async (objects: FaultBody[]) => {
    const created: FaultBody[] = [];
    try {
      for (const o of objects) {
        await create(o);
        created.push(o);
      }
    } catch (err) {
      for (const o of created.reverse()) await remove({ kind: o.kind, name: o.body.metadata!.name! }).catch((e: Error) => warn(`rollback: ${e.message}`));
      throw err;
    }
  };

  // Partition policies on one initiator exclude the union of its live partitions' peers (objects.ts, partitionExclusions),
  // so adding or removing one rewrites the others. In this process those changes run one at a time, each ending with a
  // fresh list, so that parallel faults of one drill never miss each other; a change by another process (the
  // controller's cleanup) since the list fails the replace on its resourceVersion (409), or on the policy being gone
  // (404), and the list is taken again.
  let partitionChanges: Promise<unknown> = Promise.resolve();
  const serially = <T>(change: () => Promise<T>): Promise<T> => {
    const next = partitionChanges.then(change, change);
    partitionChanges = next.catch(() => undefined);
    return next;
  };

  const listPartitionPolicies = async () => (await api('list NetworkPolicies', () => networking.listNamespacedNetworkPolicy({ namespace, labelSelector: kindSelector('network-partition') }))).items;

  /** Rewrites every partition policy whose exclusions are not its initiator's union; call inside serially. */
  const reconcilePartitions = async (now: number) => {
    for (let attempt = 1; ; attempt++) {
      const { replace } = partitionExclusions(await listPartitionPolicies(), { now });
      try {
        for (const body of replace) {
          const name = body.metadata!.name!;
          await api(`update NetworkPolicy ${name}`, () => networking.replaceNamespacedNetworkPolicy({ name, namespace, body }));
        }
        return;
      } catch (err) {
        const code = ((err as Error).cause as { code?: unknown } | undefined)?.code;
        if (attempt >= 5 || (code !== 409 && code !== 404)) throw err;
      }
    }
  };

  /** A partition's policies, created excluding their initiators' unions, then the other policies rewritten; all or nothing. */
  const createPartition = (bodies: FaultBody[], now: number) =>
    serially(async () => {
      const adding = bodies.flatMap((b) => (b.kind === 'NetworkPolicy' ? [b.body] : []));
      const created = partitionExclusions(await listPartitionPolicies(), { now, adding }).create.map((body) => ({ kind: 'NetworkPolicy' as const, body }));
      await createAll(created);
      try {
        await reconcilePartitions(now);
      } catch (err) {
        for (const o of created) await remove({ kind: o.kind, name: o.body.metadata!.name! }).catch((e: Error) => warn(`rollback: ${e.message}`));
        await reconcilePartitions(now).catch((e: Error) => warn(`rollback: ${e.message}`));
        throw err;
      }
    });

  /**
   * Deletes the faults' objects, then (when a partition went, or when asked) rewrites the remaining partition policies,
   * so that a peer no longer partitioned is reachable again; the rewrite is tried even when a delete failed.
   */
  const removeAll = async (faults: LiveFault[], now: number, reconcile = faults.some((f) => f.kind === 'network-partition')) => {
    let failure: unknown;
    try {
      for (const fault of faults) {
        for (const o of fault.objects) await remove(o);
        await annotations.end(fault.grafanaAnnotationId, now);
      }
    } catch (err) {
      failure = err;
    }
    if (reconcile) {
      await serially(() => reconcilePartitions(now)).catch((err: Error) => {
        if (failure === undefined) failure = err;
        else warn(`partitions: ${err.message}`);
      });
    }
    if (failure !== undefined) throw failure;
  };

  const context = { namespace, release, k6Image: opts.k6Image ?? defaultK6Image, gatewayUrl: opts.gatewayUrl ?? defaultGatewayUrl(release, namespace), apiKeySecret: opts.apiKeySecret ?? `${release}-api-keys` };
  const bodiesFor = (planned: Buildable, fault: FaultIdentity) => faultObjects(planned, fault, context);
  const newId = () => `flt-${randomBytes(4).toString('hex')}`;

  const driver = {
    namespace,
    release,
    core,

    /** Ready pods per component of the release, and the shop's edges. */
    async inventory(): Promise<Inventory> {
      const pods = await api('list pods', () => core.listNamespacedPod({ namespace, labelSelector: releasePodSelector(release) }));
      return inventoryFromPods(pods.items);
    },

    /** Deletes pods at once (grace period 0), as a crash would. */
    async kill(pods: string[]): Promise<KilledPod[]> {
      return Promise.all(
        pods.map(async (name) => {
          const killedAt = new Date().toISOString();
          const found = await api(`delete pod ${name}`, () => deleted(() => core.deleteNamespacedPod({ name, namespace, ...podKillOptions })));
          return { name, killedAt, found };
        }),
      );
    },

    /**
     * Creates a planned fault's objects (latency is refused before any fault). All or nothing: for a pod kill the
     * marker comes first, so that a kill never happens unrecorded; partitions and floods last until removed or expired.
     */
    async injectFault(planned: Buildable, drill: string, now = Date.now()): Promise<InjectedFault> {
      const fault = faultIdentity(planned, drill, newId(), now);
      const grafanaAnnotationId = await annotations.start({ ...fault, startedAt: now });
      const bodies = bodiesFor(planned, { ...fault, ...(grafanaAnnotationId === undefined ? {} : { grafanaAnnotationId }) });
      try {
        await (planned.kind === 'network-partition' ? createPartition(bodies, now) : createAll(bodies));
      } catch (err) {
        await annotations.end(grafanaAnnotationId, Date.now());
        throw err;
      }
      const [live] = groupFaults(
        namespace,
        bodies.map((b) => ({ kind: b.kind, metadata: b.body.metadata })),
      );
      if (planned.kind !== 'pod-kill') return live!;
      try {
        return { ...live!, killed: await driver.kill(planned.replicas) };
      } catch (err) {
        await removeAll([live!], Date.now());
        throw err;
      }
    },

    /** One fault's objects as the API server holds them: the evidence that a fault took effect, or is gone. */
    async faultBodies(id: string) {
      const { policies, jobs, configMaps } = await listBodies(faultSelector(id));
      const live = <T extends { metadata?: { deletionTimestamp?: Date } }>(items: T[]) => items.filter((o) => !o.metadata?.deletionTimestamp);
      return { policies: live(policies), jobs: live(jobs), configMaps: live(configMaps) };
    },

    /** Every live fault in the namespace, from its objects. */
    async faults(): Promise<LiveFault[]> {
      return groupFaults(namespace, await listFaultObjects(managedSelector));
    },

    /** Deletes every object of one fault now (rollback); undefined when nothing of it was left. */
    async removeFault(id: string, now = Date.now()): Promise<LiveFault | undefined> {
      const [fault] = groupFaults(namespace, await listFaultObjects(faultSelector(id)));
      if (fault) await removeAll([fault], now);
      return fault;
    },

    /**
     * Removes the faults past their expiry (or all of them): what a dead drill or controller left behind. The partition
     * policies left are rewritten every pass, even when nothing expired, which also mends what a drill that died
     * halfway through a partition change left (a removed peer still excluded by the others).
     */
    async cleanup({ all = false, now = Date.now() }: { all?: boolean; now?: number } = {}): Promise<{ removed: LiveFault[]; kept: LiveFault[] }> {
      const faults = await driver.faults();
      const removed = faults.filter((f) => all || f.expiresAt <= now);
      await removeAll(removed, now, true);
      return { removed, kept: faults.filter((f) => !removed.includes(f)) };
    },

    /** Removes a fault and checks that the API server holds none of its objects any more; throws if one is left. */
    async removeAndCheck(id: string) {
      await driver.removeFault(id);
      const left = await driver.faultBodies(id);
      const names = [...left.policies, ...left.jobs, ...left.configMaps].map((o) => o.metadata?.name);
      if (names.length) throw new Error(`left after removal: ${names.join(', ')}`);
      return { id, leftAfterRemoval: names };
    },

    /** A drill's load as a k6 Job, labelled and expiring like a fault (kind load), so cleanup ends it if the drill dies. */
    async createLoad(load: LoadSpec, drill: string, now = Date.now()) {
      const owner: FaultIdentity = { id: newId(), drill, kind: 'load', target: load.script, expiresAt: now + k6DeadlineSeconds(load) * 1000 };
      const scriptText = readFileSync(join(loadScriptsDir, load.script), 'utf8');
      const { configMap, job } = k6Objects({ owner, load, scriptText, ...context, image: context.k6Image });
      await createAll([
        { kind: 'ConfigMap', body: configMap },
        { kind: 'Job', body: job },
      ]);
      return owner;
    },
  };
  return driver;
}
export type FaultDriver = ReturnType<typeof faultDriver>;
