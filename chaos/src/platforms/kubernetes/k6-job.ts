// k6 in the cluster, for loads and floods alike: a ConfigMap with the script and a Job running it, with the
// environment the local runtime gives k6 (platforms/local/k6.ts). k6 serves its REST API on the pod, which the drill
// reads through the API server's pod proxy, and lingers after its test so that its figures can be read; the Job's
// deadline ends it regardless.
import type { V1ConfigMap, V1Job } from '@kubernetes/client-node';
import { k6Version } from '../../core/versions.ts';
import { loadDurationMs, type LoadSpec } from '../../drill/fields.ts';
import { scenarioOf } from '../../drill/k6.ts';
import { nameLabel } from './inventory.ts';
import { faultMetadata, labelValue, type FaultIdentity } from './labels.ts';

/** Same pin as the local runtime's k6 binary. */
export const defaultK6Image = `grafana/k6:${k6Version.replace(/^v/, '')}`;

export const defaultGatewayUrl = (release: string, namespace: string) => `http://${release}-gateway.${namespace}.svc:8080`;

/** k6's REST API on the pod. */
export const k6ApiPort = 6565;

/** Beyond the load itself: pulling the image, starting k6, k6's 30 s graceful stop of in-flight iterations, and reading its figures. */
export const k6MarginSeconds = 90;

/** The Job's hard deadline; its objects expire with it, so cleanup never deletes k6 that can still be running. */
export const k6DeadlineSeconds = (load: Pick<LoadSpec, 'duration' | 'stages'>) => Math.ceil(loadDurationMs(load) / 1000) + k6MarginSeconds;

/** k6 runs as this user in grafana/k6 (and in the images faultline builds). */
const k6User = 12345;

export interface K6JobSpec {
  /** The load's or flood's identity: its labels and expiry. */
  owner: FaultIdentity;
  load: LoadSpec;
  /** The text of chaos/load/<load.script>. */
  scriptText: string;
  namespace: string;
  image: string;
  gatewayUrl: string;
  /** A Secret holding one API key per client under `client.<name>` (the chart's <release>-api-keys). */
  apiKeySecret: string;
}

export const k6ObjectNames = (id: string) => ({ job: `faultline-${id}-k6`, script: `faultline-${id}-script` });

export function k6Objects(spec: K6JobSpec): { configMap: V1ConfigMap; job: V1Job } {
  const { owner, load } = spec;
  const names = k6ObjectNames(owner.id);
  const jobMeta = faultMetadata(names.job, owner, { [nameLabel]: 'k6' });
  const configMap: V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { ...faultMetadata(names.script, owner), namespace: spec.namespace }, data: { [load.script]: spec.scriptText } };
  const job: V1Job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...jobMeta, namespace: spec.namespace },
    spec: {
      backoffLimit: 0, // a second run would double the load and its orders
      activeDeadlineSeconds: k6DeadlineSeconds(load),
      ttlSecondsAfterFinished: 600,
      template: {
        metadata: { labels: jobMeta.labels!, annotations: jobMeta.annotations! },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: k6User, runAsGroup: k6User, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'k6',
              image: spec.image,
              args: ['run', '--quiet', '--no-color', '--no-usage-report', '--address', `0.0.0.0:${k6ApiPort}`, '--linger', `/scripts/${load.script}`],
              ports: [{ name: 'api', containerPort: k6ApiPort, protocol: 'TCP' }],
              env: [
                { name: 'FAULTLINE_GATEWAY', value: spec.gatewayUrl },
                { name: 'FAULTLINE_API_KEY', valueFrom: { secretKeyRef: { name: spec.apiKeySecret, key: `client.${load.apiKey}` } } },
                { name: 'FAULTLINE_RUN', value: `${labelValue(owner.drill)}-${owner.id}` },
                { name: 'FAULTLINE_SCENARIO', value: JSON.stringify(scenarioOf(load)) },
                { name: 'K6_NO_USAGE_REPORT', value: 'true' },
              ],
              // Small requests so that it schedules on a laptop's kind cluster; the limits bound what a runaway flood takes from the node.
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'script', mountPath: '/scripts', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'script', configMap: { name: names.script } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
  return { configMap, job };
}

/** Whether a Job has run to its end, successfully or not. */
export const jobFinished = (job: V1Job) => Boolean(job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'));

/** The problems with a k6 run's objects: a Job running k6 on the script its ConfigMap holds. */
export function k6ObjectProblems(bodies: { jobs: V1Job[]; configMaps: V1ConfigMap[] }, script: string): string[] {
  const [job] = bodies.jobs;
  if (!job) return ['no k6 Job'];
  const problems: string[] = [];
  const holder = bodies.configMaps.find((c) => c.data?.[script] !== undefined);
  if (!holder) problems.push(`no ConfigMap holds ${script}`);
  const mounted = job.spec?.template.spec?.volumes?.some((v) => v.configMap?.name === holder?.metadata?.name);
  if (holder && !mounted) problems.push(`Job ${job.metadata?.name} does not mount ${holder.metadata?.name}`);
  if (!job.spec?.template.spec?.containers[0]?.args?.includes(`/scripts/${script}`)) problems.push(`Job ${job.metadata?.name} does not run ${script}`);
  return problems;
}
