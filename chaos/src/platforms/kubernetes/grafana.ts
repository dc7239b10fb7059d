// Each fault as a Grafana annotation, so dashboards shade its window. Best effort: Grafana being down or absent never
// fails a drill or a cleanup; it costs a warning. Hand-written over fetch: two calls do not need a client library.
import type { FaultIdentity } from './labels.ts';

export interface GrafanaOptions {
  url: string;
  /** A service account token; or user and password for basic auth. */
  token?: string;
  user?: string;
  password?: string;
}

export type AnnotatedFault = Pick<FaultIdentity, 'id' | 'drill' | 'kind' | 'target' | 'expiresAt'> & { startedAt: number };

/** POST /api/annotations: a region from the injection to the deadline, corrected by endAnnotation on removal. */
export function startAnnotation(fault: AnnotatedFault) {
  return {
    time: fault.startedAt,
    timeEnd: fault.expiresAt,
    tags: ['faultline', fault.drill, fault.kind],
    text: `${fault.kind} ${fault.target} (drill ${fault.drill}, fault ${fault.id})`,
  };
}

/** PATCH /api/annotations/:id: the fault ended now, whatever its deadline was. */
export const endAnnotation = (endedAt: number) => ({ timeEnd: endedAt });

export function authorization(opts: GrafanaOptions): string | undefined {
  if (opts.token) return `Bearer ${opts.token}`;
  if (opts.user !== undefined) return `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`;
  return undefined;
}

const timeoutMs = 3000;

export interface Annotations {
  /** The annotation's id, or undefined when Grafana is not configured or did not answer. */
  start(fault: AnnotatedFault): Promise<number | undefined>;
  end(annotationId: number | undefined, endedAt: number): Promise<void>;
}

export function grafanaAnnotations(opts: GrafanaOptions | undefined, warn: (message: string) => void = console.warn): Annotations {
  if (!opts) return { start: async () => undefined, end: async () => undefined };
  const auth = authorization(opts);
  const call = async (method: 'POST' | 'PATCH', path: string, body: object): Promise<unknown> => {
    const res = await fetch(`${opts.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return res.json();
  };
  return {
    async start(fault) {
      try {
        const { id } = (await call('POST', '/api/annotations', startAnnotation(fault))) as { id?: unknown };
        return typeof id === 'number' ? id : undefined;
      } catch (err) {
        warn(`grafana: no annotation for ${fault.kind} ${fault.target}: ${(err as Error).message}`);
        return undefined;
      }
    },
    async end(annotationId, endedAt) {
      if (annotationId === undefined) return;
      await call('PATCH', `/api/annotations/${annotationId}`, endAnnotation(endedAt)).catch((err: Error) => warn(`grafana: annotation ${annotationId} not closed: ${err.message}`));
    },
  };
}
