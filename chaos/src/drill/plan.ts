import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../local/runtime.ts';
import { edges } from '../local/layout.ts';
import { loadScriptsDir } from './k6.ts';
import type { Drill, Fault, Step } from './schema.ts';

/** What the platform offers a drill: the replicas of each service, and the edges between parts. */
export interface Inventory {
  replicas: Record<string, string[]>;
  edges: string[];
}

export const localEdges = edges.map((e) => e.name) as string[];

/** A fault with its targets resolved: the replicas to kill, or the edge to cut or slow. */
export type PlannedFault =
  | { kind: 'pod-kill'; replicas: string[]; service: string; mode: string }
  | { kind: 'network-partition' | 'latency'; edge: string; direction: 'to' | 'from' | 'both'; durationMs: number; latencyMs?: number; jitterMs?: number }
  | { kind: 'flood'; fault: Extract<Fault, { kind: 'flood' }> };

/** Chaos Mesh's modes. Refuses, as a guardrail, to take every replica unless the drill says mode: all. */
export function chooseReplicas(fault: Extract<Fault, { kind: 'pod-kill' }>, replicas: string[], random: () => number = Math.random): string[] {
  const service = fault.selector.service;
  if (replicas.length === 0) throw new UsageError(`pod-kill: service ${service} has no replicas running`);
  const count = (() => {
    switch (fault.mode) {
      case 'one':
        return 1;
      case 'all':
        return replicas.length;
      case 'fixed':
        return fault.value!;
      case 'fixed-percent':
        return Math.max(1, Math.floor((replicas.length * fault.value!) / 100));
    }
  })();
  if (count > replicas.length) throw new UsageError(`pod-kill: mode ${fault.mode} value ${fault.value} asks for ${count} of ${service}'s ${replicas.length} replicas`);
  if (count === replicas.length && fault.mode !== 'all') {
    throw new UsageError(`pod-kill: mode ${fault.mode} would take every replica of ${service} (${replicas.length}); say mode: all if that is meant`);
  }
  const shuffled = [...replicas].sort(() => random() - 0.5);
  return shuffled.slice(0, count).sort();
}

/** Resolves a fault against the platform, or refuses it with exit 2: unknown targets are never guessed. */
export function planFault(fault: Fault, inventory: Inventory): PlannedFault {
  switch (fault.kind) {
    case 'pod-kill':
      return { kind: 'pod-kill', service: fault.selector.service, mode: fault.mode, replicas: chooseReplicas(fault, inventory.replicas[fault.selector.service] ?? []) };
    case 'network-partition':
    case 'latency': {
      const edge = `${fault.selector.service}-${fault.target.service}`;
      if (!inventory.edges.includes(edge)) {
        throw new UsageError(`${fault.kind}: ${fault.selector.service} does not talk to ${fault.target.service}; the edges are ${inventory.edges.join(', ')}`);
      }
      return {
        kind: fault.kind,
        edge,
        direction: fault.direction,
        durationMs: fault.duration,
        ...(fault.kind === 'latency' ? { latencyMs: fault.latency, jitterMs: fault.jitter } : {}),
      };
    }
    case 'flood':
      requireScript(fault.script);
      return { kind: 'flood', fault };
  }
}

function requireScript(script: string) {
  if (!existsSync(join(loadScriptsDir, script))) throw new UsageError(`no load script ${script} in chaos/load`);
}

/** Checks every step before anything runs (preflight), so that a bad target stops the drill before the first fault. */
export function preflight(drill: Drill, inventory: Inventory) {
  const walk = (steps: Step[]) => {
    for (const s of steps) {
      if (s.fault) planFault(s.fault, inventory);
      if (s.load) requireScript(s.load.script);
      if (s.parallel) walk(s.parallel);
    }
  };
  walk(drill.method);
  walk(drill.rollbacks);
}

/** The plan as text, for --dry-run. */
export function describePlan(drill: Drill): string[] {
  const lines: string[] = [];
  const ms = (n: number) => (n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`);
  const load = (l: NonNullable<Step['load']> | Extract<Fault, { kind: 'flood' }>) =>
    `${l.script} ${l.executor === 'constant-arrival-rate' ? `${l.rate}/s for ${ms(l.duration!)}` : `ramping ${l.stages!.map((s) => `${s.target}/s over ${ms(s.duration)}`).join(', ')}`} as ${l.apiKey}`;
  const walk = (steps: Step[], indent: string) => {
    for (const s of steps) {
      if (s.wait !== undefined) lines.push(`${indent}wait ${ms(s.wait)}`);
      if (s.load) lines.push(`${indent}load ${load(s.load)}${s.load.background ? ' (in the background)' : ''}`);
      if (s.parallel) {
        lines.push(`${indent}in parallel:`);
        walk(s.parallel, `${indent}  `);
      }
      if (s.fault) {
        const f = s.fault;
        if (f.kind === 'pod-kill') lines.push(`${indent}pod-kill ${f.selector.service} (mode ${f.mode}${f.value ? ` ${f.value}` : ''})`);
        else if (f.kind === 'flood') lines.push(`${indent}flood ${load(f)}`);
        else lines.push(`${indent}${f.kind} ${f.selector.service} -> ${f.target.service} (${f.direction}${f.kind === 'latency' ? `, ${ms(f.latency)} ± ${ms(f.jitter)}` : ''}) for ${ms(f.duration)}`);
      }
    }
  };
  lines.push(`drill ${drill.name}: timeout ${ms(drill.timeout)}, probes every ${ms(drill.sampleEvery)}`);
  lines.push(`steady state: ${drill.steadyState.probes.map((p) => p.name).join(', ')}`);
  lines.push('method:');
  walk(drill.method, '  ');
  if (drill.rollbacks.length) {
    lines.push('rollbacks (after every fault is removed):');
    walk(drill.rollbacks, '  ');
  }
  lines.push(`verifications: ${drill.verifications.map((v) => v.name).join('; ') || 'none'}; then ledger reconciliation (drain ${ms(drill.ledger.drainTimeout)})`);
  if (drill.abortConditions.length) lines.push(`abort if: ${drill.abortConditions.map((p) => p.name).join(', ')}`);
  return lines;
}
