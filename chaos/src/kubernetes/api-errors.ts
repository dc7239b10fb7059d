// Errors from the Kubernetes API as client-node 2.x throws them (ApiException: code, and the Status as a JSON string),
// read by shape rather than by class so that this module stays free of the client at run time.

interface ApiFailure {
  code: number;
  body?: unknown;
}

const isApiFailure = (err: unknown): err is ApiFailure => typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';

export const isNotFound = (err: unknown) => isApiFailure(err) && err.code === 404;

/** One line for a person: the HTTP code and the API server's own message, not the client's dump of headers. */
export function describeApiError(action: string, err: unknown): string {
  if (!isApiFailure(err)) return `${action}: ${(err as Error).message ?? String(err)}`;
  let message: unknown;
  try {
    message = (typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: unknown }) : (err.body as { message?: unknown } | undefined))?.message;
  } catch {
    message = undefined; // not JSON: the code alone says enough
  }
  const hint = err.code === 403 ? ' (the Role does not allow it; see chaos/src/kubernetes/rbac.ts)' : err.code === 401 ? ' (the credentials were refused)' : '';
  return `${action}: HTTP ${err.code}${typeof message === 'string' ? ` ${message}` : ''}${hint}`;
}
