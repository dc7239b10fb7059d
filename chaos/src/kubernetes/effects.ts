// `faultline drill run --platform kubernetes --api-effects`: runs a drill's faults against a cluster and checks what the
// API server shows of each, without traffic or metrics: pods deleted and replaced by their ReplicaSet, NetworkPolicies
// with the right selectors, k6 Jobs created, and every object gone after rollback. It is how the Kubernetes path is
// tested against a real control plane whose pods do not really run (KWOK), and a quick check on a real cluster.
import type { V1ConfigMap, V1Job, V1NetworkPolicy } from '@kubernetes/client-node';
import type { Drill, Fault, Step } from '../drill/schema.ts';
import type { KubernetesPlatform } from './driver.ts';
import { planKubernetesFault, preflightKubernetes } from './guardrails.ts';
import { excludedPeers } from './objects.ts';

export interface EffectRecord {
  kind: Fault['kind'];
  target: string;
  id?: string;
  injectedAt: string;
  removedAt?: string;
  /** What the API server showed: the fault took effect, and then was undone. */
  evidence: Record<string, unknown>;
  problems: string[];
}

export interface EffectsJournal {
  drill: string;
  platform: 'kubernetes';
  mode: 'api-effects';
  namespace: string;
  release: string;
  status: 'completed' | 'failed' | 'interrupted';
  verdict: 'pass' | 'fail';
  reason?: string;
  startedAt: string;
  endedAt: string;
  faults: EffectRecord[];
  /** Steps that need running pods (load) and are not sent in this mode. */
  skipped: string[];
}

type Bodies = { policies: V1NetworkPolicy[]; jobs: V1Job[]; configMaps: V1ConfigMap[] };

/** The problems with a partition's policies: each initiating side must select its pods and exclude its peer. */
export function partitionProblems(policies: V1NetworkPolicy[], fault: Extract<Fault, { kind: 'network-partition' }>, release: string): string[] {
  const [a, b] = [fault.selector.service, fault.target.service];
  const sides = { to: [[a, b]], from: [[b, a]], both: [[a, b], [b, a]] }[fault.direction];
  const problems = sides.flatMap(([initiator, peer]) => {
    const policy = policies.find((p) => p.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name'] === initiator);
    if (!policy) return [`no NetworkPolicy selects ${initiator}`];
    const out: string[] = [];
    if (policy.spec?.podSelector?.matchLabels?.['app.kubernetes.io/instance'] !== release) out.push(`${policy.metadata?.name} selects another release`);
    if (!policy.spec?.policyTypes?.includes('Egress')) out.push(`${policy.metadata?.name} is not an Egress policy`);
    if (!excludedPeers(policy)?.includes(peer!)) out.push(`${policy.metadata?.name} does not exclude ${peer}`);
    return out;
  });
  if (policies.length !== sides.length) problems.push(`${policies.length} NetworkPolicies for ${sides.length} side(s)`);
  return problems;
}

/** The problems with a flood's objects: a Job running k6 on the script its ConfigMap holds. */
export function floodProblems(bodies: Pick<Bodies, 'jobs' | 'configMaps'>, fault: Extract<Fault, { kind: 'flood' }>): string[] {
  const [job] = bodies.jobs;
  if (!job) return ['no k6 Job'];
  const problems: string[] = [];
  const script = bodies.configMaps.find((c) => c.data?.[fault.script] !== undefined);
  if (!script) problems.push(`no ConfigMap holds ${fault.script}`);
  const mounted = job.spec?.template.spec?.volumes?.some((v) => v.configMap?.name === script?.metadata?.name);
  if (script && !mounted) problems.push(`Job ${job.metadata?.name} does not mount ${script.metadata?.name}`);
  if (!job.spec?.template.spec?.containers[0]?.args?.includes(`/scripts/${fault.script}`)) problems.push(`Job ${job.metadata?.name} does not run ${fault.script}`);
  return problems;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export interface EffectsOptions {
  print: (line: string) => void;
  /** How long a killed pod's ReplicaSet has to bring a replacement to ready. */
  replaceTimeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
}

export async function runDrillEffects(drill: Drill, platform: KubernetesPlatform, opts: EffectsOptions): Promise<EffectsJournal> {
  const { print, replaceTimeoutMs = 60_000, pollMs = 250 } = opts;
  const stop = new AbortController();
  opts.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  preflightKubernetes(drill, await platform.inventory());
  const startedAt = new Date().toISOString();
  const records: EffectRecord[] = [];
  const skipped: string[] = [];
  const live = new Map<string, EffectRecord>();
  const watches: Promise<void>[] = [];

  /** Removes a fault and checks that none of its objects is left. */
  const remove = async (id: string) => {
    const record = live.get(id);
    if (!record) return;
    live.delete(id);
    await platform.removeFault(id);
    const left = await platform.faultBodies(id);
    const names = [...left.policies, ...left.jobs, ...left.configMaps].map((o) => o.metadata?.name);
    record.removedAt = new Date().toISOString();
    record.evidence.leftAfterRemoval = names;
    if (names.length) record.problems.push(`left after removal: ${names.join(', ')}`);
    print(`  removed ${record.kind} ${record.target} (${id}): ${names.length ? `left ${names.join(', ')}` : 'no object left'}`);
  };

  const inject = async (fault: Fault, signal: AbortSignal) => {
    const before = await platform.inventory();
    const planned = planKubernetesFault(fault, before);
    const injected = await platform.injectFault(planned, drill.name);
    const record: EffectRecord = { kind: fault.kind, target: injected.target, id: injected.id, injectedAt: new Date().toISOString(), evidence: { objects: injected.objects }, problems: [] };
    records.push(record);
    live.set(injected.id, record);
    const bodies = await platform.faultBodies(injected.id);
    if (fault.kind === 'pod-kill') {
      const killed = injected.killed ?? [];
      record.evidence.killed = killed;
      if (!killed.every((k) => k.found)) record.problems.push(`already gone before the kill: ${killed.filter((k) => !k.found).map((k) => k.name).join(', ')}`);
      print(`  pod-kill ${fault.selector.service}: deleted ${killed.map((k) => k.name).join(', ')}`);
      watches.push(watchReplacement(fault.selector.service, before.replicas[fault.selector.service] ?? [], killed.map((k) => k.name), record, injected.id, signal));
      return;
    }
    if (fault.kind === 'network-partition') {
      record.evidence.policies = bodies.policies.map((p) => ({ name: p.metadata?.name, selects: p.spec?.podSelector?.matchLabels, excludes: excludedPeers(p) }));
      record.problems.push(...partitionProblems(bodies.policies, fault, platform.release));
      print(`  network-partition ${fault.selector.service} -> ${fault.target.service} (${fault.direction}): ${bodies.policies.map((p) => `${p.metadata?.name} on ${p.spec?.podSelector?.matchLabels?.['app.kubernetes.io/name']} excluding ${excludedPeers(p)?.join('+')}`).join('; ')}`);
      await sleep(fault.duration, signal);
    } else if (fault.kind === 'flood') {
      record.evidence.job = bodies.jobs.map((j) => j.metadata?.name);
      record.evidence.configMaps = bodies.configMaps.map((c) => c.metadata?.name);
      record.problems.push(...floodProblems(bodies, fault));
      print(`  flood ${fault.script}: Job ${bodies.jobs.map((j) => j.metadata?.name).join(', ') || 'missing'}`);
      await sleep(fault.duration ?? (fault.stages ?? []).reduce((sum, s) => sum + s.duration, 0), signal);
    }
    await remove(injected.id);
  };

  /** A killed pod counts as replaced when the service has as many ready pods as before, none of them a killed one. */
  const watchReplacement = async (service: string, before: string[], killed: string[], record: EffectRecord, id: string, signal: AbortSignal) => {
    const deadline = Date.now() + replaceTimeoutMs;
    while (Date.now() < deadline && !signal.aborted) {
      const ready = (await platform.inventory()).replicas[service] ?? [];
      const fresh = ready.filter((name) => !before.includes(name));
      if (ready.length >= before.length && !ready.some((name) => killed.includes(name))) {
        record.evidence.replacedBy = fresh;
        print(`  pod-kill ${service}: replaced by ${fresh.join(', ')} (ReplicaSet)`);
        await remove(id);
        return;
      }
      await sleep(pollMs, signal);
    }
    record.problems.push(`no replacement ready within ${replaceTimeoutMs / 1000} s`);
    await remove(id);
  };

  const execute = async (steps: Step[], signal: AbortSignal): Promise<void> => {
    for (const s of steps) {
      if (signal.aborted) return;
      if (s.wait !== undefined) await sleep(s.wait, signal);
      if (s.load) skipped.push(`load ${s.load.script}: traffic needs running pods, so it is not sent in api-effects mode`);
      if (s.fault) await inject(s.fault, signal);
      if (s.parallel) await Promise.all(s.parallel.map((p) => execute([p], signal)));
    }
  };

  const outcome: { status: EffectsJournal['status']; reason?: string } = { status: 'completed' };
  const onSignal = (signal: NodeJS.Signals) => {
    Object.assign(outcome, { status: 'interrupted', reason: `${signal} received` });
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    print(`drill ${drill.name} on Kubernetes (namespace ${platform.namespace}, release ${platform.release}): API effects only`);
    await execute(drill.method, stop.signal);
    await Promise.all(watches);
  } catch (err) {
    Object.assign(outcome, { status: 'failed', reason: (err as Error).message });
  } finally {
    // Rollback, always: whatever is still live goes, and is checked gone; then the drill's own rollback steps.
    stop.abort();
    await Promise.allSettled(watches);
    const removeLive = async () => {
      for (const id of [...live.keys()]) await remove(id).catch((err: Error) => print(`  rollback of ${id} failed: ${err.message}`));
    };
    await removeLive();
    if (outcome.status !== 'interrupted') {
      await execute(drill.rollbacks, new AbortController().signal).catch((err: Error) => Object.assign(outcome, { status: 'failed', reason: outcome.reason ?? err.message }));
      await Promise.allSettled(watches);
      await removeLive();
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const { status, reason } = outcome;
  const ok = status === 'completed' && records.every((r) => r.problems.length === 0);
  for (const r of records) print(`  ${r.problems.length ? '✘' : '✔'} ${r.kind} ${r.target}${r.problems.length ? `: ${r.problems.join('; ')}` : ''}`);
  return { drill: drill.name, platform: 'kubernetes', mode: 'api-effects', namespace: platform.namespace, release: platform.release, status, verdict: ok ? 'pass' : 'fail', ...(reason ? { reason } : {}), startedAt, endedAt: new Date().toISOString(), faults: records, skipped };
}
