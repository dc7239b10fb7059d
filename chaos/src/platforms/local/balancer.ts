import net from 'node:net';

// A kube-proxy-like Service: round-robin TCP over the ready replicas. Hand-written: no maintained npm package does plain L4 balancing.
export class ServiceBalancer {
  private endpoints: number[] = [];
  private next = 0;
  private readonly server: net.Server;
  readonly name: string;

  constructor(name: string) {
    this.name = name;
    this.server = net.createServer((client) => {
      client.pause();
      client.once('error', () => client.destroy());
      this.connect(client, new Set());
    });
  }

  /** Tries the ready endpoints in turn: a replica that died since the last probe costs a retry, not a failed request. */
  private connect(client: net.Socket, tried: Set<number>) {
    const port = this.pick(tried);
    if (port === undefined) return client.destroy(); // no ready endpoint: refuse at once, as a Service with none would
    tried.add(port);
    const upstream = net.connect(port, '127.0.0.1');
    upstream.once('error', () => {
      upstream.destroy();
      if (!client.destroyed) this.connect(client, tried);
    });
    upstream.once('connect', () => {
      upstream.removeAllListeners('error');
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      upstream.once('error', close).once('close', close);
      client.once('close', close);
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  }

  listen(port: number) {
    return new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
  }

  setEndpoints(ports: number[]) {
    this.endpoints = ports;
  }

  private pick(exclude: Set<number>) {
    const candidates = this.endpoints.filter((p) => !exclude.has(p));
    if (candidates.length === 0) return undefined;
    return candidates[this.next++ % candidates.length];
  }

  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
