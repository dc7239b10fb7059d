import { ApiError } from './errors.ts';
import { DependencyFailure, deadlineHeader } from './resilience/index.ts';

export interface UpstreamResponse<T = unknown> {
  status: number;
  body: T;
}

export interface UpstreamRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Aborts the request: the dependency's timeout or the caller's deadline. */
  signal: AbortSignal;
  /** Passed on, so that the upstream drops the work if it arrives too late. */
  deadline?: number;
}

/**
 * Calls another service. An error answer with a code (4xx, or a 503 refusal such as back pressure) comes back
 * as an ApiError carrying the upstream's own code and Retry-After: a live upstream said no. An unreachable,
 * aborted or broken upstream becomes a DependencyFailure, which counts against the breaker.
 */
export async function callUpstream<T>(dependency: string, url: string, init: UpstreamRequest): Promise<UpstreamResponse<T>> {
  const headers: Record<string, string> = { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers };
  if (init.deadline !== undefined && Number.isFinite(init.deadline)) headers[deadlineHeader] = String(init.deadline);
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  }).catch((err: Error) => {
    throw new DependencyFailure(dependency, init.signal.aborted ? 'was abandoned at its deadline' : 'is unreachable', err);
  });
  const body = (await res.json().catch(() => undefined)) as T & { error?: { code?: string; message?: string; details?: unknown } };
  const code = body?.error?.code;
  const relayable = (res.status >= 400 && res.status < 500) || res.status === 503;
  if (relayable && code) {
    throw new ApiError(res.status, code, body.error?.message ?? '', { details: body.error?.details, retryAfterSeconds: retryAfter(res) });
  }
  if (res.status >= 400 || body === undefined) throw new DependencyFailure(dependency, `answered ${res.status}`);
  return { status: res.status, body };
}

function retryAfter(res: Response) {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
