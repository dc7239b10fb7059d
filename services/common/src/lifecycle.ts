import type { Express } from 'express';
import type { Server } from 'node:http';
import type { Logger } from 'pino';

export interface ServeOptions {
  port: number;
  host: string;
  logger: Logger;
  /** Run in order on SIGTERM after the server stops accepting: drain consumers, commit, close clients. */
  closers?: Array<() => Promise<unknown>>;
  /** Answers on a connection older than this carry `Connection: close`, so the client opens a new one (0: never). */
  connectionMaxAgeMs?: number;
}

const drainTimeoutMs = 10_000;
/**
 * Connections the kernel holds for a busy event loop to accept. Past it, Linux drops a client's handshake, which it
 * retries only after a second (TCP's first retransmission timeout): a flood of new connections would slow every
 * client's. Node's default is 511; the kernel caps it at net.core.somaxconn (4096 since Linux 5.4).
 */
export const listenBacklog = 4096;

/** Listens, and shuts down gracefully on SIGTERM or SIGINT: unready, stop accepting, drain, close clients, flush traces. */
export async function serve(app: Express, { port, host, logger, closers = [], connectionMaxAgeMs = 0 }: ServeOptions): Promise<Server> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen({ port, host, backlog: listenBacklog }, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
  if (connectionMaxAgeMs > 0) limitConnectionAge(server, connectionMaxAgeMs);
  logger.info({ port, host }, 'listening');

  const shutdown = async (signal: string) => {
    if (app.locals.draining) return;
    app.locals.draining = true;
    logger.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      logger.error('drain timed out; exiting');
      process.exit(1);
    }, drainTimeoutMs);
    hardStop.unref();
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    await closed;
    for (const close of closers) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err }, 'closer failed');
      }
    }
    await flushTelemetry();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return server;
}

/**
 * Connections live at most `maxAgeMs`, as gRPC's MAX_CONNECTION_AGE and Envoy's max_connection_duration do: clients'
 * keep-alive pools otherwise pin traffic to the replicas they met first (after a scale-out or a rolling restart), and
 * a path that stops being allowed (a NetworkPolicy, which most CNIs apply to new connections only) would stay open.
 * Hand-written: Node's server has a per-connection request cap but no age.
 */
function limitConnectionAge(server: Server, maxAgeMs: number) {
  const born = new WeakMap<object, number>();
  server.on('connection', (socket) => born.set(socket, Date.now()));
  // Before the app's own listener, so that the header is set before any answer is written.
  server.prependListener('request', (req, res) => {
    if (Date.now() - (born.get(req.socket) ?? Date.now()) > maxAgeMs) res.setHeader('connection', 'close');
  });
}

async function flushTelemetry() {
  const sdk = (globalThis as Record<symbol, { shutdown(): Promise<void> } | undefined>)[Symbol.for('faultline.telemetry')];
  await sdk?.shutdown().catch(() => undefined);
}
