// The in-cluster controller's settings, read once from the environment the chart sets. A bad value is a ConfigError,
// which the CLI turns into exit 2 with the variable named.
import { z } from 'zod';
import { env, loadConfig } from '@faultline/common';
import { parseDuration } from '../../drill/fields.ts';
import type { GrafanaOptions } from './grafana.ts';
import { defaultGatewayUrl, defaultK6Image } from './k6-job.ts';

export const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const dnsLabelMessage = 'expected a DNS label: lower-case letters, digits and dashes, at most 63, starting and ending with a letter or digit';

export const namespaceList = z
  .string()
  .transform((s) => s.split(',').map((n) => n.trim()))
  .refine((list) => list.every((n) => dnsLabel.test(n)), `expected a comma-separated list of namespaces; each ${dnsLabelMessage}`);

const interval = z.string().transform((text, ctx) => {
  const ms = /^\d+(\.\d+)?(ms|s|m)$/.test(text) ? parseDuration(text) : NaN;
  if (!(ms >= 1000 && ms <= 600_000)) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration from 1s to 10m, such as 10s' });
    return z.NEVER;
  }
  return ms;
});

// name[:tag][@digest], with an optional registry host; enough to catch a typo, not a full reference grammar.
const image = z.string().regex(/^[a-z0-9]+([._\/:-][a-z0-9]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, 'expected a container image such as grafana/k6:1.8.1');

const required = z.string({ error: (issue) => (issue.input === undefined ? 'required (the chart sets it)' : undefined) });

const grafanaShape = {
  GRAFANA_URL: env.url().optional(),
  GRAFANA_TOKEN: z.string().optional(),
  GRAFANA_USER: z.string().optional(),
  GRAFANA_PASSWORD: z.string().optional(),
};
type GrafanaEnv = { GRAFANA_URL?: string; GRAFANA_TOKEN?: string; GRAFANA_USER?: string; GRAFANA_PASSWORD?: string };

function checkGrafana(c: GrafanaEnv, ctx: z.RefinementCtx) {
  if (c.GRAFANA_TOKEN !== undefined && c.GRAFANA_USER !== undefined) ctx.addIssue({ code: 'custom', path: ['GRAFANA_USER'], message: 'give GRAFANA_TOKEN or GRAFANA_USER and GRAFANA_PASSWORD, not both' });
  if ((c.GRAFANA_USER === undefined) !== (c.GRAFANA_PASSWORD === undefined)) ctx.addIssue({ code: 'custom', path: ['GRAFANA_PASSWORD'], message: 'GRAFANA_USER and GRAFANA_PASSWORD go together' });
  if ((c.GRAFANA_TOKEN !== undefined || c.GRAFANA_USER !== undefined) && c.GRAFANA_URL === undefined) ctx.addIssue({ code: 'custom', path: ['GRAFANA_URL'], message: 'Grafana credentials were given without GRAFANA_URL' });
}

const grafanaSchema = z.object(grafanaShape).superRefine(checkGrafana);

const schema = z
  .object({
    FAULTLINE_NAMESPACE: required.regex(dnsLabel, dnsLabelMessage),
    FAULTLINE_RELEASE: required.regex(dnsLabel, dnsLabelMessage).max(53, 'a Helm release name has at most 53 characters'),
    FAULTLINE_ALLOWED_NAMESPACES: namespaceList.optional(),
    FAULTLINE_RECONCILE_INTERVAL: interval.default(10_000),
    FAULTLINE_K6_IMAGE: image.default(defaultK6Image),
    FAULTLINE_GATEWAY_URL: env.url().optional(),
    ...grafanaShape,
    PORT: env.port().default(8080),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine(checkGrafana);

export interface ControllerConfig {
  namespace: string;
  release: string;
  /** The namespaces the controller sweeps and drills may touch; its own by default. */
  allowedNamespaces: readonly string[];
  reconcileIntervalMs: number;
  k6Image: string;
  gatewayUrl: string;
  grafana?: GrafanaOptions;
  port: number;
  logLevel: string;
}

/** Empty values count as unset: a chart renders an optional value it was not given as "". */
const withoutEmpty = (e: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined && v !== ''));

export function controllerConfig(environment: NodeJS.ProcessEnv = process.env): Readonly<ControllerConfig> {
  const c = loadConfig(schema, withoutEmpty(environment));
  return Object.freeze({
    namespace: c.FAULTLINE_NAMESPACE,
    release: c.FAULTLINE_RELEASE,
    allowedNamespaces: Object.freeze(c.FAULTLINE_ALLOWED_NAMESPACES ?? [c.FAULTLINE_NAMESPACE]),
    reconcileIntervalMs: c.FAULTLINE_RECONCILE_INTERVAL,
    k6Image: c.FAULTLINE_K6_IMAGE,
    gatewayUrl: c.FAULTLINE_GATEWAY_URL ?? defaultGatewayUrl(c.FAULTLINE_RELEASE, c.FAULTLINE_NAMESPACE),
    ...(c.GRAFANA_URL ? { grafana: grafanaOptions(c) } : {}),
    port: c.PORT,
    logLevel: c.LOG_LEVEL,
  });
}

/** Grafana settings for the CLI too (cleanup closes the annotations of the faults it removes); none without GRAFANA_URL. */
export function grafanaFromEnv(environment: NodeJS.ProcessEnv = process.env): GrafanaOptions | undefined {
  const c = loadConfig(grafanaSchema, withoutEmpty(environment));
  return c.GRAFANA_URL ? grafanaOptions(c) : undefined;
}

function grafanaOptions(c: GrafanaEnv): GrafanaOptions {
  return {
    url: c.GRAFANA_URL!,
    ...(c.GRAFANA_TOKEN ? { token: c.GRAFANA_TOKEN } : {}),
    ...(c.GRAFANA_USER ? { user: c.GRAFANA_USER, password: c.GRAFANA_PASSWORD ?? '' } : {}),
  };
}
