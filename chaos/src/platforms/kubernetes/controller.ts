// The in-cluster chaos controller: the Kubernetes counterpart of the local fault agent. Every interval it removes the
// faults past their expiry in each allowed namespace (so chaos ends even when the drill that made it died) and exports
// the ones still alive as metrics. It holds no state: the objects' labels and annotations are the record.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { createApp, createLogger, serve, type Logger } from '@faultline/common';
import { faultGauges } from '../../core/fault-metrics.ts';
import { loadKubeConfig } from './client.ts';
import { controllerConfig } from './config.ts';
import { faultDriver } from './driver.ts';
import type { LiveFault } from './labels.ts';

export function controllerMetrics(registry: Registry) {
  return {
    ...faultGauges(registry),
    reconciles: new Counter({ name: 'faultline_controller_reconciles_total', help: 'Reconcile passes run.', registers: [registry] }),
    errors: new Counter({ name: 'faultline_controller_reconcile_errors_total', help: 'Reconcile passes that failed in a namespace, by namespace.', labelNames: ['namespace'] as const, registers: [registry] }),
    removed: new Counter({ name: 'faultline_controller_faults_removed_total', help: 'Faults removed at their expiry by the controller, by kind.', labelNames: ['kind'] as const, registers: [registry] }),
  };
}
export type ControllerMetrics = ReturnType<typeof controllerMetrics>;

/** The gauges show exactly the faults seen now: a fault that ended (a finished flood, a removed partition) drops out. */
export function exportFaults(metrics: Pick<ControllerMetrics, 'active' | 'expiry'>, faults: LiveFault[]) {
  metrics.active.reset();
  metrics.expiry.reset();
  for (const f of faults) {
    if (f.finished || f.kind === 'load') continue; // a drill's own load is traffic, not a fault
    const labels = { drill: f.drill, kind: f.kind, target: f.target };
    metrics.active.set(labels, 1);
    metrics.expiry.set(labels, f.expiresAt / 1000);
  }
}

/** What the reconciler needs of the fault driver: its cleanup, for one namespace. */
export interface Sweepable {
  namespace: string;
  cleanup(opts: { now: number }): Promise<{ removed: LiveFault[]; kept: LiveFault[] }>;
}

export function reconciler(opts: { platforms: Sweepable[]; metrics: ControllerMetrics; logger: Pick<Logger, 'info' | 'warn' | 'error'>; intervalMs: number; now?: () => number }) {
  const { platforms, metrics, logger, intervalMs, now = Date.now } = opts;
  const seen = new Map<string, LiveFault[]>();
  let lastSuccess: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  for (const platform of platforms) metrics.errors.inc({ namespace: platform.namespace }, 0); // a series from the start, for increase() in alerts

  async function reconcileOnce() {
    const t = now();
    let ok = true;
    for (const platform of platforms) {
      try {
        const { removed, kept } = await platform.cleanup({ now: t });
        for (const f of removed) {
          metrics.removed.inc({ kind: f.kind });
          logger.info({ namespace: f.namespace, fault: f.id, drill: f.drill, kind: f.kind, target: f.target, expiresAt: new Date(f.expiresAt).toISOString(), problems: f.problems }, 'removed an expired fault');
        }
        seen.set(platform.namespace, kept);
      } catch (err) {
        ok = false;
        metrics.errors.inc({ namespace: platform.namespace });
        logger.error({ namespace: platform.namespace, err: (err as Error).message }, 'reconcile failed; the faults seen last stay exported');
      }
    }
    metrics.reconciles.inc();
    exportFaults(metrics, [...seen.values()].flat());
    if (ok) lastSuccess = t;
  }

  // A timeout chain rather than setInterval, so that a slow API server never makes passes overlap.
  const schedule = (delay: number) => {
    timer = setTimeout(() => {
      running = reconcileOnce().finally(() => {
        if (!stopped) schedule(intervalMs);
      });
    }, delay);
  };

  return {
    reconcileOnce,
    start: () => schedule(0),
    /** Stops the loop, after the pass under way if any. */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    /** Ready once a pass has succeeded everywhere recently (three intervals). */
    ready(): boolean {
      return lastSuccess !== undefined && now() - lastSuccess <= 3 * intervalMs;
    },
  };
}

/** `faultline controller`: reads its settings from the environment, serves /metrics, /healthz and /readyz, stops on SIGTERM. */
export async function runController(flags: { kubeconfig?: string }) {
  const config = controllerConfig();
  const logger = createLogger('chaos-controller', config.logLevel);
  const kc = loadKubeConfig(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : { inCluster: true });
  const platforms = config.allowedNamespaces.map((namespace) =>
    faultDriver({
      kc,
      namespace,
      release: config.release,
      allowedNamespaces: config.allowedNamespaces,
      gatewayUrl: config.gatewayUrl,
      k6Image: config.k6Image,
      ...(config.grafana ? { grafana: config.grafana } : {}),
      warn: (message) => logger.warn(message),
    }),
  );
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const loop = reconciler({ platforms, metrics: controllerMetrics(registry), logger, intervalMs: config.reconcileIntervalMs });
  const app = createApp({
    registry,
    logger,
    readiness: {
      kubernetes: async () => {
        if (!loop.ready()) throw new Error(`no successful reconcile in the last ${(3 * config.reconcileIntervalMs) / 1000} s`);
      },
    },
  });
  loop.start();
  logger.info({ namespaces: config.allowedNamespaces, release: config.release, intervalMs: config.reconcileIntervalMs, grafana: Boolean(config.grafana) }, 'reconciling');
  // On every interface: the kubelet's probes and Prometheus reach it on the pod IP.
  await serve(app, { port: config.port, host: '0.0.0.0', logger, closers: [() => loop.stop()] });
}
