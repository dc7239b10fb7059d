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
      const port = this.pick();
      if (port === undefined) return client.destroy(); // no ready endpoint: refuse at once, as a Service with none would
      const upstream = net.connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.once('error', close).once('close', close);
      upstream.once('error', close).once('close', close);
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

  private pick() {
    if (this.endpoints.length === 0) return undefined;
    return this.endpoints[this.next++ % this.endpoints.length];
  }

  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
