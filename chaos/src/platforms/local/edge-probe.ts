import net from 'node:net';

export type EdgeProtocol = 'http' | 'redis' | 'kafka';

// The smallest request each protocol answers: an HTTP health check, a Redis PING, a Kafka ApiVersions v0.
const requests: Record<EdgeProtocol, Buffer> = {
  http: Buffer.from('GET /healthz HTTP/1.1\r\nHost: faultline\r\nConnection: close\r\n\r\n'),
  redis: Buffer.from('PING\r\n'),
  kafka: Buffer.from([0, 0, 0, 14, 0, 18, 0, 0, 0, 0, 0, 1, 0, 4, 0x66, 0x6c, 0x74, 0x6e]),
};

export interface EdgeProbeResult {
  /** Whether any answer came back through the edge within the wait. */
  answered: boolean;
  /** Round trip of the first answer, or how long the probe waited. */
  ms: number;
  /** Why there was no answer: refused, reset, silent. */
  failure?: string;
}

/** Sends one real request through an edge (a Toxiproxy listener) and times the first byte of the answer. */
export function probeEdge(port: number, protocol: EdgeProtocol, waitMs: number): Promise<EdgeProbeResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (r: Omit<EdgeProbeResult, 'ms'>) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: Math.round(performance.now() - start) });
    };
    const timer = setTimeout(() => finish({ answered: false, failure: 'silent' }), waitMs);
    socket.once('connect', () => socket.write(requests[protocol]));
    socket.once('data', () => finish({ answered: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ answered: false, failure: err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message) }));
    socket.once('end', () => finish({ answered: false, failure: 'closed' }));
  });
}
