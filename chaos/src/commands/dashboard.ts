// `faultline dashboard`: where the live dashboard page is. The local stack serves it itself; for a cluster, this
// command serves it in the foreground against the release's Prometheus, through the API server.
import { spawn } from 'node:child_process';
import { env } from '@faultline/common';
import { UsageError } from '../core/errors.ts';
import { startDashboardServer } from '../dashboard/server.ts';
import type { RuntimeOptions } from '../platforms/local/layout.ts';
import { status } from '../platforms/local/runtime.ts';
import type { KubernetesFlags } from '../platforms/kubernetes/command.ts';

export interface DashboardFlags extends KubernetesFlags {
  platform: 'local' | 'kubernetes';
  open?: boolean;
  port?: string;
}

/** A browser on the page, where the desktop has an opener; otherwise the printed URL is the way in. */
function openBrowser(url: string) {
  const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  child.once('error', (err) => console.log(`could not open a browser (${opener}: ${(err as NodeJS.ErrnoException).code ?? err.message}); open ${url} yourself`));
  child.unref();
}

/** --port, checked as the services check theirs; 0 (any free port) when not given. */
function portFlag(text: string | undefined): number {
  if (text === undefined) return 0;
  const parsed = env.port().safeParse(text);
  if (!parsed.success) throw new UsageError(`--port ${JSON.stringify(text)}: a TCP port, 1 to 65535`);
  return parsed.data;
}

export async function dashboardCommand(local: RuntimeOptions, flags: DashboardFlags): Promise<number> {
  if (flags.platform === 'local') {
    const misplaced = (['namespace', 'release', 'kubeconfig', 'port'] as const).filter((k) => flags[k] !== undefined);
    if (misplaced.length) throw new UsageError(`${misplaced.map((k) => `--${k}`).join(', ')} go with --platform kubernetes (the local stack serves its page on its own port)`);
    const s = await status(local);
    if (!s?.urls.dashboard) throw new UsageError(`the local stack (state dir ${local.stateDir}) is not running: \`faultline up\` starts it, and prints the page's URL`);
    console.log(s.urls.dashboard);
    if (flags.open) openBrowser(s.urls.dashboard);
    return 0;
  }
  const port = portFlag(flags.port);
  const { kubernetesPrometheus } = await import('../platforms/kubernetes/command.ts');
  const prometheus = await kubernetesPrometheus(flags);
  const server = await startDashboardServer({ prometheus: prometheus.url, datasourceName: prometheus.name, port });
  console.log(`live dashboards for ${prometheus.name}: ${server.url}   (Ctrl-C stops)`);
  if (flags.open) openBrowser(server.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await prometheus.close();
  return 0;
}
