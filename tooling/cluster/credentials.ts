// The keys and credentials a loopback control plane needs, made fresh for each one. Bearer tokens from a static token
// file rather than client certificates: no CA to run, nothing to shell out for, and the API server still authenticates
// every caller and authorizes it with RBAC. The API server makes its own self-signed serving certificate (--cert-dir).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Who talks to the API server. The controller-manager and the scheduler use the user names the default RBAC bindings
 * are written for (system:kube-controller-manager, system:kube-scheduler), so they run with their real, limited roles.
 * KWOK stands in for every kubelet at once, which no single built-in role covers, so it is an administrator.
 */
export const identities = {
  admin: { user: 'faultline-admin', groups: ['system:masters'] },
  controllerManager: { user: 'system:kube-controller-manager', groups: [] },
  scheduler: { user: 'system:kube-scheduler', groups: [] },
  kwok: { user: 'kwok-controller', groups: ['system:masters'] },
} as const;

export type Identity = keyof typeof identities;

export interface Credentials {
  /** --token-auth-file: `token,user,uid,"group,…"` lines. */
  tokenFile: string;
  tokens: Record<Identity, string>;
  /** Signs service-account tokens (API server) and the controller-manager's own; the public half verifies them. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export function writeCredentials(dir: string): Credentials {
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
  const tokens = Object.fromEntries(Object.keys(identities).map((id) => [id, randomBytes(24).toString('hex')])) as Record<Identity, string>;
  const lines = Object.entries(identities).map(([id, { user, groups }]) => `${tokens[id as Identity]},${user},${user},"${groups.join(',')}"`);
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
