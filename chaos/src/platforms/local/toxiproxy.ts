import { jsonApi } from './json-api.ts';

export interface Toxic {
  name: string;
  type: 'latency' | 'timeout' | 'bandwidth' | 'slow_close' | 'reset_peer' | 'limit_data' | 'slicer';
  /** upstream: client to server; downstream: server to client. */
  stream: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export interface Proxy {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics?: Array<{ name: string; type: string; stream: string; toxicity: number; attributes: Record<string, number> }>;
}

// Toxiproxy's HTTP API is small and stable; a typed fetch wrapper beats the untyped npm client.
export function createToxiproxy(base: string) {
  const call = jsonApi(base, 'toxiproxy', 3000);
  return {
    populate: (proxies: Proxy[]) => call<unknown>('POST', '/populate', proxies),
    list: async () => Object.values(await call<Record<string, Proxy>>('GET', '/proxies')).sort((a, b) => a.name.localeCompare(b.name)),
    setEnabled: (name: string, enabled: boolean) => call<Proxy>('POST', `/proxies/${name}`, { enabled }),
    reset: () => call<unknown>('POST', '/reset'),
    addToxic: (proxy: string, toxic: Toxic) => call<Toxic>('POST', `/proxies/${proxy}/toxics`, { toxicity: 1, ...toxic }),
    removeToxic: (proxy: string, name: string) => call<unknown>('DELETE', `/proxies/${proxy}/toxics/${name}`),
  };
}
