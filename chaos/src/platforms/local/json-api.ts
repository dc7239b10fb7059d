/** A typed call to one of the stack's JSON control APIs (Toxiproxy, the supervisor); a non-2xx answer throws with its status and message. */
export function jsonApi(base: string, what: string, timeoutMs: number, headers: () => Record<string, string> = () => ({})) {
  return async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers() : { ...headers(), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as T & { error?: { message?: string } }) : undefined;
    if (!res.ok) throw new Error(`${what} ${method} ${path}: ${res.status} ${json?.error?.message ?? text}`);
    return json as T;
  };
}
