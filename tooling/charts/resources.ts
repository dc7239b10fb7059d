import type { Manifest } from './manifests.ts';

/**
 * What a rendered chart asks the scheduler for: CPU and memory requests per workload, as Kubernetes computes
 * them. Pure, so it is unit-tested; the quantity grammar is small and fixed, so it is parsed here rather than
 * pulling in a client library for one function.
 */

const binary = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 } as const;
const decimal = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 } as const;
const quantityPattern = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$/;

/** A Kubernetes resource.Quantity ("128Mi", "1Gi", "500M", "250m", "0.5", 2, "1e3") in base units: bytes or cores. */
export function parseQuantity(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`invalid quantity ${value}`);
    return value;
  }
  const m = typeof value === 'string' ? quantityPattern.exec(value.trim()) : null;
  if (!m) throw new RangeError(`invalid quantity ${JSON.stringify(value)}`);
  const number = Number(m[1]);
  const suffix = m[2] ?? '';
  const scale = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : suffix in binary ? binary[suffix as keyof typeof binary] : decimal[suffix as keyof typeof decimal];
  if (number < 0) throw new RangeError(`negative quantity ${JSON.stringify(value)}`);
  return number * scale;
}

export interface Requests {
  /** cores */
  cpu: number;
  /** bytes */
  memory: number;
}

const zero = (): Requests => ({ cpu: 0, memory: 0 });
const add = (a: Requests, b: Requests): Requests => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory });
const max = (a: Requests, b: Requests): Requests => ({ cpu: Math.max(a.cpu, b.cpu), memory: Math.max(a.memory, b.memory) });
const times = (a: Requests, n: number): Requests => ({ cpu: a.cpu * n, memory: a.memory * n });

interface Container {
  name?: string;
  restartPolicy?: string;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  overhead?: Record<string, unknown>;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

/** One container's requests; a limit without a request is also the request, as the API server defaults it. */
function containerRequests(c: Container): Requests & { unset: string[] } {
  const pick = (resource: 'cpu' | 'memory') => c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource];
  const cpu = pick('cpu');
  const memory = pick('memory');
  return {
    cpu: cpu === undefined ? 0 : parseQuantity(cpu),
    memory: memory === undefined ? 0 : parseQuantity(memory),
    unset: [...(cpu === undefined ? ['cpu'] : []), ...(memory === undefined ? ['memory'] : [])],
  };
}

/**
 * A pod's effective request, as the scheduler sees it (k8s.io/component-helpers resource.PodRequests):
 * max(the largest init step, the app containers plus sidecars), plus the pod overhead. A regular init container
 * runs alongside the sidecars (init containers with restartPolicy Always) started before it; pod-level
 * requests, where set, replace the container sum for that resource.
 */
export function podRequests(spec: PodSpec): Requests & { unset: string[] } {
  const unset: string[] = [];
  const note = (c: Container, r: { unset: string[] }) => r.unset.length && unset.push(`${c.name ?? '?'} (${r.unset.join(', ')})`);
  let app = zero();
  for (const c of spec.containers ?? []) {
    const r = containerRequests(c);
    note(c, r);
    app = add(app, r);
  }
  let sidecars = zero();
  let init = zero();
  for (const c of spec.initContainers ?? []) {
    const r = containerRequests(c);
    if (c.restartPolicy === 'Always') {
      note(c, r);
      sidecars = add(sidecars, r);
      init = max(init, sidecars);
    } else {
      init = max(init, add(r, sidecars));
    }
  }
  let total = max(add(app, sidecars), init);
  const podLevel = spec.resources?.requests ?? spec.resources?.limits;
  if (podLevel?.cpu !== undefined) total.cpu = parseQuantity(podLevel.cpu);
  if (podLevel?.memory !== undefined) total.memory = parseQuantity(podLevel.memory);
  if (spec.overhead) total = add(total, { cpu: spec.overhead.cpu === undefined ? 0 : parseQuantity(spec.overhead.cpu), memory: spec.overhead.memory === undefined ? 0 : parseQuantity(spec.overhead.memory) });
  return { ...total, unset: podLevel ? [] : unset };
}

/** steady: runs all the time (× replicas); per-node: a DaemonSet, once per node; job and hook: run to completion, counted apart. */
export type WorkloadCategory = 'steady' | 'per-node' | 'job' | 'hook';

export interface WorkloadRequests {
  kind: string;
  name: string;
  category: WorkloadCategory;
  /** Pods counted: replicas (steady), parallelism (jobs), 1 per node (DaemonSets). */
  pods: number;
  perPod: Requests;
  total: Requests;
  notes: string[];
}

interface Workload {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: {
    replicas?: number;
    parallelism?: number;
    template?: { spec?: PodSpec };
    jobTemplate?: { spec?: { parallelism?: number; template?: { spec?: PodSpec } } };
  } & PodSpec;
}

interface Autoscaler {
  spec?: { scaleTargetRef?: { kind?: string; name?: string }; minReplicas?: number; maxReplicas?: number };
}

/** Requests per workload in rendered manifests, in manifest order. Objects that run no pods are left out. */
export function workloadRequests(manifests: Pick<Manifest, 'kind' | 'name' | 'object'>[]): WorkloadRequests[] {
  const autoscalers = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler').map((m) => m.object as Autoscaler);
  const rows: WorkloadRequests[] = [];
  for (const m of manifests) {
    const w = m.object as Workload;
    const hook = w.metadata?.annotations?.['helm.sh/hook'];
    let category: WorkloadCategory;
    let pods = 1;
    let spec: PodSpec | undefined;
    const notes: string[] = [];
    switch (m.kind) {
      case 'Deployment':
      case 'StatefulSet':
      case 'ReplicaSet':
      case 'ReplicationController': {
        category = 'steady';
        pods = w.spec?.replicas ?? 1;
        spec = w.spec?.template?.spec;
        const hpa = autoscalers.find((a) => a.spec?.scaleTargetRef?.kind === m.kind && a.spec.scaleTargetRef.name === m.name);
        if (hpa) {
          // The autoscaler owns the count: take at least its floor, and say how far it may go.
          pods = Math.max(pods, hpa.spec?.minReplicas ?? 1);
          notes.push(`autoscaled ${hpa.spec?.minReplicas ?? 1}–${hpa.spec?.maxReplicas ?? '?'}`);
        }
        break;
      }
      case 'DaemonSet':
        category = 'per-node';
        spec = w.spec?.template?.spec;
        break;
      case 'Job':
        category = 'job';
        pods = w.spec?.parallelism ?? 1;
        spec = w.spec?.template?.spec;
        break;
      case 'CronJob':
        category = 'job';
        pods = w.spec?.jobTemplate?.spec?.parallelism ?? 1;
        spec = w.spec?.jobTemplate?.spec?.template?.spec;
        break;
      case 'Pod':
        category = 'steady';
        spec = w.spec;
        break;
      default:
        continue;
    }
    if (hook) {
      category = 'hook';
      notes.push(`helm hook: ${hook}`);
    }
    const perPod = podRequests(spec ?? {});
    if (perPod.unset.length) notes.push(`no request: ${perPod.unset.join('; ')}`);
    rows.push({ kind: m.kind, name: m.name, category, pods, perPod: { cpu: perPod.cpu, memory: perPod.memory }, total: times(perPod, pods), notes });
  }
  return rows;
}

export function sumRequests(rows: WorkloadRequests[], category: WorkloadCategory): Requests {
  return rows.filter((r) => r.category === category).reduce((sum, r) => add(sum, r.total), zero());
}

/** Memory in MiB below 1 GiB, else GiB. */
export function formatMemory(bytes: number) {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** CPU in millicores below one core, else cores. */
export function formatCpu(cores: number) {
  return cores >= 1 ? `${Number(cores.toFixed(3))} cores` : `${Math.round(cores * 1000)}m`;
}

/** The per-workload table `charts:check` prints, with totals for steady state, per node, and jobs/hooks. */
export function requestsTable(rows: WorkloadRequests[]): string {
  const order: WorkloadCategory[] = ['steady', 'per-node', 'job', 'hook'];
  const sorted = [...rows].sort((a, b) => order.indexOf(a.category) - order.indexOf(b.category));
  const header = ['workload', 'runs', 'pods', 'cpu/pod', 'mem/pod', 'cpu', 'memory', 'notes'];
  const cells = sorted.map((r) => [`${r.kind}/${r.name}`, r.category, r.category === 'per-node' ? '1/node' : String(r.pods), formatCpu(r.perPod.cpu), formatMemory(r.perPod.memory), formatCpu(r.total.cpu), formatMemory(r.total.memory), r.notes.join('; ')]);
  const total = (label: string, category: WorkloadCategory) => {
    const s = sumRequests(rows, category);
    return [label, '', '', '', '', formatCpu(s.cpu), formatMemory(s.memory), ''];
  };
  const totals = [total('TOTAL steady state (excludes jobs and hooks)', 'steady')];
  if (rows.some((r) => r.category === 'per-node')) totals.push(total('TOTAL per node (DaemonSets)', 'per-node'));
  if (rows.some((r) => r.category === 'job')) totals.push(total('TOTAL jobs at once (not in steady state)', 'job'));
  if (rows.some((r) => r.category === 'hook')) totals.push(total('TOTAL hooks (not in steady state)', 'hook'));
  const all = [header, ...cells, ...totals];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 2 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...cells.map(line), rule, ...totals.map(line)].join('\n');
}
