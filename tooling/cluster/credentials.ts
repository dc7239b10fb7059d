// The keys and credentials a node's control plane needs, made fresh for each node. Bearer tokens from a static token
// file rather than client certificates for its components: nothing to shell out for, and the API server still
// authenticates every caller and authorizes it with RBAC (and the Node authorizer for kubelet). The API server makes
// its own self-signed serving certificate (--cert-dir).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Who talks to the API server. Each component uses the user name the default RBAC bindings are written for
 * (system:kube-controller-manager, system:kube-scheduler, system:node:<name> in system:nodes, system:kube-proxy), so
 * it runs with its real, limited role; kube-router gets a ClusterRole of its own (manifests/kube-router-rbac.yaml).
 */
export const nodeIdentities = (nodeName: string) => ({
  admin: { user: 'faultline-admin', groups: ['system:masters'] },
  controllerManager: { user: 'system:kube-controller-manager', groups: [] },
  scheduler: { user: 'system:kube-scheduler', groups: [] },
  kubelet: { user: `system:node:${nodeName}`, groups: ['system:nodes'] },
  kubeProxy: { user: 'system:kube-proxy', groups: [] },
  kubeRouter: { user: 'kube-router', groups: [] },
});
export type Identity = keyof ReturnType<typeof nodeIdentities>;

export interface Credentials {
  /** --token-auth-file: `token,user,uid,"group,…"` lines. */
  tokenFile: string;
  tokens: Record<Identity, string>;
  /** Signs service-account tokens (API server) and the controller-manager's own; the public half verifies them. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export function writeCredentials(dir: string, nodeName: string): Credentials {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const serviceAccountKey = join(dir, 'service-account.key');
  const serviceAccountPub = join(dir, 'service-account.pub');
  writeFileSync(serviceAccountKey, privateKey, { mode: 0o600 });
  writeFileSync(serviceAccountPub, publicKey);
  const who = nodeIdentities(nodeName);
  const tokens = Object.fromEntries(Object.keys(who).map((id) => [id, randomBytes(24).toString('hex')])) as Record<Identity, string>;
  const lines = Object.entries(who).map(([id, { user, groups }]) => `${tokens[id as Identity]},${user},${user},"${groups.join(',')}"`);
  const tokenFile = join(dir, 'tokens.csv');
  writeFileSync(tokenFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { tokenFile, tokens, serviceAccountKey, serviceAccountPub };
}

/** A kubeconfig with one cluster, one bearer-token user and one context, checking the server against `caFile`. */
export function writeKubeconfig(file: string, server: string, caFile: string, user: string, token: string) {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'faultline', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'faultline', context: { cluster: 'faultline', user, namespace: 'default' } }],
    'current-context': 'faultline',
  };
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}
