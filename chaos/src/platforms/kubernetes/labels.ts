// The metadata on every object the Kubernetes driver creates, and how it is read back: the labels find a fault's
// objects, the annotations say until when it may live. This is what lets a cleanup pass remove chaos that a dead
// drill or controller left behind.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export const labelKeys = {
  managedBy: 'app.kubernetes.io/managed-by',
  drill: 'faultline.dev/drill',
  fault: 'faultline.dev/fault',
  kind: 'faultline.dev/kind',
  /** On a partition's NetworkPolicy: the component whose pods it selects (the side that initiates)... */
  initiator: 'faultline.dev/initiator',
  /** ...and the one it keeps them from reaching, whatever its NotIn says now (objects.ts, partitionExclusions). */
  peer: 'faultline.dev/peer',
} as const;

export const annotationKeys = {
  expiresAt: 'faultline.dev/expires-at',
  /** Free text (an edge, a script, pod names), so an annotation rather than a label. */
  target: 'faultline.dev/target',
  grafanaAnnotation: 'faultline.dev/grafana-annotation-id',
} as const;

export const managedBy = 'faultline-chaos';

/** Every object the driver created, whatever its fault. */
export const managedSelector = `${labelKeys.managedBy}=${managedBy}`;

/** Every object of one kind of fault, whatever the fault. */
export const kindSelector = (kind: FaultKind) => `${managedSelector},${labelKeys.kind}=${kind}`;

/** The objects of one fault. */
export const faultSelector = (id: string) => `${managedSelector},${labelKeys.fault}=${id}`;

/** The chart's contract: every shop pod carries its component's name and the release. */
export const shopPodLabels = (release: string, service: string) => ({ 'app.kubernetes.io/name': service, 'app.kubernetes.io/instance': release });

export const shopPodSelector = (release: string, service: string) =>
  Object.entries(shopPodLabels(release, service))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** Every pod of the release, to count replicas per component. */
export const releasePodSelector = (release: string) => `app.kubernetes.io/instance=${release},app.kubernetes.io/part-of=faultline`;

/** What a set of objects is: a fault of one of these kinds, or a drill's load (k6 traffic that is not a fault). */
export type FaultKind = 'network-partition' | 'flood' | 'pod-kill' | 'load';

/** A fault as its objects describe it. */
export interface FaultIdentity {
  id: string;
  drill: string;
  kind: FaultKind;
  target: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  grafanaAnnotationId?: number;
}

/**
 * A Kubernetes label value: at most 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit.
 * Drill names already are; anything else is made one rather than refused, since a label only has to find the object.
 */
export function labelValue(text: string): string {
  const trim = (s: string) => s.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return trim(trim(text.replace(/[^A-Za-z0-9_.-]+/g, '-')).slice(0, 63)) || 'unnamed';
}

export function faultMetadata(name: string, fault: FaultIdentity, extraLabels: Record<string, string> = {}): V1ObjectMeta {
  return {
    name,
    labels: {
      ...extraLabels,
      [labelKeys.managedBy]: managedBy,
      [labelKeys.drill]: labelValue(fault.drill),
      [labelKeys.fault]: fault.id,
      [labelKeys.kind]: fault.kind,
    },
    annotations: {
      [annotationKeys.expiresAt]: new Date(fault.expiresAt).toISOString(),
      [annotationKeys.target]: fault.target,
      ...(fault.grafanaAnnotationId === undefined ? {} : { [annotationKeys.grafanaAnnotation]: String(fault.grafanaAnnotationId) }),
    },
  };
}

/** No fault lives past this after its object was created, whatever its annotation says: the longest drill is an hour. */
export const maxFaultLifetimeMs = 3_600_000;

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * When the object's chaos must end. A missing or garbled expiry counts as already expired, and any expiry is capped
 * at creation + maxFaultLifetimeMs: a typo in an annotation must never keep a partition alive for ever.
 */
export function expiryOf(meta: Pick<V1ObjectMeta, 'annotations' | 'creationTimestamp'>): { expiresAt: number; problem?: string } {
  const text = meta.annotations?.[annotationKeys.expiresAt];
  if (text === undefined) return { expiresAt: 0, problem: `no ${annotationKeys.expiresAt} annotation` };
  const parsed = rfc3339.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(parsed)) return { expiresAt: 0, problem: `${annotationKeys.expiresAt} is not an RFC 3339 time: ${JSON.stringify(text)}` };
  const created = meta.creationTimestamp ? new Date(meta.creationTimestamp).getTime() : NaN;
  if (!Number.isNaN(created) && parsed > created + maxFaultLifetimeMs) return { expiresAt: created + maxFaultLifetimeMs, problem: `${annotationKeys.expiresAt} ${text} is past the longest drill; capped` };
  return { expiresAt: parsed };
}

export type FaultObjectKind = 'NetworkPolicy' | 'Job' | 'ConfigMap';

export interface FaultObject {
  kind: FaultObjectKind;
  metadata?: V1ObjectMeta;
  /** For a Job: whether it has run to its end (its load is over). */
  finished?: boolean;
}

/** A live fault, from its objects. Its kind is whatever the label says, known or not. */
export interface LiveFault extends Omit<FaultIdentity, 'kind'> {
  kind: string;
  namespace: string;
  objects: Array<{ kind: FaultObjectKind; name: string }>;
  /** A flood whose Job has ended: no longer in effect, though its objects wait for their expiry (k6's logs hold the acknowledgements). */
  finished: boolean;
  problems: string[];
}

/** Groups listed objects by their fault label; objects already being deleted are gone for this purpose. The earliest expiry wins. */
export function groupFaults(namespace: string, objects: FaultObject[]): LiveFault[] {
  const faults = new Map<string, LiveFault>();
  for (const object of objects) {
    const meta = object.metadata;
    const id = meta?.labels?.[labelKeys.fault];
    if (!meta?.name || !id || meta.deletionTimestamp) continue;
    const expiry = expiryOf(meta);
    const annotationId = Number(meta.annotations?.[annotationKeys.grafanaAnnotation]);
    const fault = faults.get(id) ?? {
      id,
      namespace,
      drill: meta.labels?.[labelKeys.drill] ?? 'unknown',
      kind: meta.labels?.[labelKeys.kind] ?? 'unknown',
      target: meta.annotations?.[annotationKeys.target] ?? 'unknown',
      expiresAt: expiry.expiresAt,
      objects: [],
      finished: false,
      problems: [],
      ...(Number.isInteger(annotationId) && annotationId > 0 ? { grafanaAnnotationId: annotationId } : {}),
    };
    fault.objects.push({ kind: object.kind, name: meta.name });
    fault.expiresAt = Math.min(fault.expiresAt, expiry.expiresAt);
    if (expiry.problem) fault.problems.push(`${object.kind}/${meta.name}: ${expiry.problem}`);
    if (object.kind === 'Job') fault.finished = Boolean(object.finished);
    faults.set(id, fault);
  }
  return [...faults.values()].sort((a, b) => a.expiresAt - b.expiresAt || a.id.localeCompare(b.id));
}
