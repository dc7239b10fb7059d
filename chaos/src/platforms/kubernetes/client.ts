// The Kubernetes client: a kubeconfig loaded strictly, and errors from the API as client-node 2.x throws them
// (ApiException: code, and the Status as a JSON string), read by shape rather than by class.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../../core/errors.ts';

export interface KubeConfigSource {
  /** A kubeconfig file; without it, in-cluster when inCluster, else KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  inCluster?: boolean;
}

/** The client's own loadFromDefault falls back to http://localhost:8080 silently; this refuses instead, naming what to pass. */
export function loadKubeConfig({ kubeconfig, inCluster }: KubeConfigSource, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  if (kubeconfig !== undefined && kubeconfig.trim() === '') throw new UsageError('--kubeconfig: expected the path of a kubeconfig file');
  const kc = new KubeConfig();
  const file = kubeconfig ?? (inCluster ? undefined : env.KUBECONFIG?.split(delimiter).find(Boolean));
  const home = join(homedir(), '.kube', 'config');
  try {
    if (file !== undefined) {
      if (!existsSync(file)) throw new UsageError(`no kubeconfig at ${file}`);
      kc.loadFromFile(file);
    } else if (!inCluster && existsSync(home)) {
      kc.loadFromFile(home);
    } else if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
      kc.loadFromCluster();
    } else {
      throw new UsageError(inCluster ? 'not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig to run outside a cluster' : 'no Kubernetes cluster configured: pass --kubeconfig, or set KUBECONFIG');
    }
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError(`cannot read the kubeconfig ${file ?? home}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new UsageError(`the kubeconfig ${file ?? home} has no current cluster: set current-context`);
  return kc;
}


interface ApiFailure {
  code: number;
  body?: unknown;
}

const isApiFailure = (err: unknown): err is ApiFailure => typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';

export const isNotFound = (err: unknown) => isApiFailure(err) && err.code === 404;
export const isForbidden = (err: unknown) => isApiFailure(err) && err.code === 403;

/** One line for a person: the HTTP code and the API server's own message, not the client's dump of headers. */
export function describeApiError(action: string, err: unknown): string {
  if (!isApiFailure(err)) return `${action}: ${(err as Error).message ?? String(err)}`;
  let message: unknown;
  try {
    message = (typeof err.body === 'string' ? (JSON.parse(err.body) as { message?: unknown }) : (err.body as { message?: unknown } | undefined))?.message;
  } catch {
    message = undefined; // not JSON: the code alone says enough
  }
  const hint = err.code === 403 ? ' (the Role does not allow it; see chaos/src/platforms/kubernetes/rbac.ts)' : err.code === 401 ? ' (the credentials were refused)' : '';
  return `${action}: HTTP ${err.code}${typeof message === 'string' ? ` ${message}` : ''}${hint}`;
}
