import type { Express } from 'express';
import type { Server } from 'node:http';
import type { Logger } from 'pino';

export interface ServeOptions {
  port: number;
  host: string;
  logger: Logger;
  /** Run in order on SIGTERM after the server stops accepting: drain consumers, commit, close clients. */
  closers?: Array<() => Promise<unknown>>;
}

const drainTimeoutMs = 10_000;

/** Listens, and shuts down gracefully on SIGTERM or SIGINT: unready, stop accepting, drain, close clients, flush traces. */
export async function serve(app: Express, { port, host, logger, closers = [] }: ServeOptions): Promise<Server> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
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

async function flushTelemetry() {
  const sdk = (globalThis as Record<symbol, { shutdown(): Promise<void> } | undefined>)[Symbol.for('faultline.telemetry')];
  await sdk?.shutdown().catch(() => undefined);
}
