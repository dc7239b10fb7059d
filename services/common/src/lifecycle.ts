import type { Express } from 'express';
import type { Server } from 'node:http';
import type { Logger } from 'pino';

export type Check = () => Promise<unknown>;

export interface ServeOptions {
  port: number;
  host: string;
  logger: Logger;
  /** Readiness checks by name: each must resolve within the probe timeout. */
  readiness?: Record<string, Check>;
  /** Run in order on SIGTERM after the server stops accepting: drain consumers, commit, close clients. */
  closers?: Array<() => Promise<unknown>>;
}

const probeTimeoutMs = 1000;
const drainTimeoutMs = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}

/** Adds /healthz and /readyz, listens, and shuts down gracefully on SIGTERM or SIGINT. */
export async function serve(app: Express, { port, host, logger, readiness = {}, closers = [] }: ServeOptions): Promise<Server> {
  let draining = false;
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (draining) return void res.status(503).json({ status: 'draining' });
    const results = await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), probeTimeoutMs);
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    const ok = results.every(([, r]) => r === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready', checks: Object.fromEntries(results) });
  });

  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
  logger.info({ port, host }, 'listening');

  const shutdown = async (signal: string) => {
    if (draining) return;
    draining = true;
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
