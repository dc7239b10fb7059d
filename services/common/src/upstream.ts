import { ApiError } from './errors.ts';
import { apiError } from './contracts.ts';

export interface UpstreamResponse<T = unknown> {
  status: number;
  body: T;
}

/**
 * Calls another service with a deadline. A 4xx comes back as an ApiError carrying the upstream's own code;
 * an unreachable, slow or failing upstream becomes 503 dependency_unavailable.
 */
export async function callUpstream<T>(dependency: string, url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutMs: number }): Promise<UpstreamResponse<T>> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs),
  }).catch((err: Error) => {
    const why = err.name === 'TimeoutError' ? `did not answer within ${init.timeoutMs} ms` : 'is unreachable';
    throw apiError('dependency_unavailable', `${dependency} ${why}`, { retryAfterSeconds: 1 });
  });
  const body = (await res.json().catch(() => undefined)) as T & { error?: { code?: string; message?: string; details?: unknown } };
  if (res.status >= 400 && res.status < 500 && body?.error?.code) {
    throw new ApiError(res.status, body.error.code, body.error.message ?? '', { details: body.error.details, retryAfterSeconds: retryAfter(res) });
  }
  if (res.status >= 500 || body === undefined) {
    const code = body?.error?.code;
    if (code === 'dependency_unavailable') throw apiError('dependency_unavailable', body.error?.message, { retryAfterSeconds: retryAfter(res) ?? 1 });
    throw apiError('dependency_unavailable', `${dependency} answered ${res.status}`, { retryAfterSeconds: 1 });
  }
  return { status: res.status, body };
}

function retryAfter(res: Response) {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
