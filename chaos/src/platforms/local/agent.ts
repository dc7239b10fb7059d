import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { Gauge, Registry } from 'prom-client';
import { faultGauges } from '../../core/fault-metrics.ts';
import { edgeNamed, edgeNames, protocolOf, storeEdges, type EdgeName } from '../../core/topology.ts';
import { probeEdge, type EdgeProbeResult } from './edge-probe.ts';
import { freeze, thaw, type FrozenTarget, type ProcessState } from './freeze.ts';
import type { Toxic, createToxiproxy } from './toxiproxy.ts';

/**
 * The local platform's fault agent, run inside the supervisor as Chaos Mesh's chaos-daemon runs on a node:
 * it injects edge faults as Toxiproxy toxics, and removes each by its deadline whether or not the drill that
 * asked is still alive. Faults are also written to disk, so `faultline cleanup` can remove them if the supervisor dies.
 */
export const edgeFaultRequest = z.strictObject({
  drill: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  kind: z.enum(['network-partition', 'latency']),
  edge: z.enum([...edgeNames, ...storeEdges.map((e) => e.name)] as [EdgeName, ...EdgeName[]]),
  direction: z.enum(['to', 'from', 'both']),
  durationMs: z.number().int().min(1).max(600_000),
  latencyMs: z.number().int().min(1).max(60_000).optional(),
  jitterMs: z.number().int().min(0).max(60_000).default(0),
  /** A store edge only: the nodes (redis-0, ...) whose links the fault takes; by default every node's. */
  nodes: z.array(z.string().regex(/^(redis|kafka)-\d$/, 'expected a Redis or Kafka node such as redis-0 or kafka-1')).min(1).optional(),
}).refine((r) => !r.nodes || r.nodes.every((node) => node.startsWith(`${edgeNamed(r.edge)?.server}-`)), { message: "nodes must be the edge's own store's, such as redis-0 on redis-redis", path: ['nodes'] });
export type EdgeFaultRequest = z.infer<typeof edgeFaultRequest>;

/** A fault the agent cannot undo itself (a k6 flood, a replica kill) but still shows as active until its deadline. */
export const trackedFaultRequest = z.strictObject({
  drill: edgeFaultRequest.shape.drill,
  kind: z.enum(['flood', 'pod-kill']),
  target: z.string().regex(/^[\w ,.-]{1,200}$/),
  durationMs: z.number().int().min(1).max(600_000),
});
export type TrackedFaultRequest = z.infer<typeof trackedFaultRequest>;

/** Replicas frozen (SIGSTOP) until the fault is removed or its deadline passes (SIGCONT). */
export const pauseFaultRequest = z.strictObject({
  drill: edgeFaultRequest.shape.drill,
  kind: z.literal('pause'),
  replicas: z.array(z.string().regex(/^[a-z]+-\d{1,2}$/, 'expected a replica name such as kitchen-0')).min(1).max(20),
  durationMs: edgeFaultRequest.shape.durationMs,
});
export type PauseFaultRequest = z.infer<typeof pauseFaultRequest>;

/** A fault the agent holds: an edge fault with its toxics, or a tracked one (a flood, a kill) with none. */
export interface AgentFault extends Omit<EdgeFaultRequest, 'kind' | 'edge' | 'direction'> {
  kind: EdgeFaultRequest['kind'] | TrackedFaultRequest['kind'] | 'pause';
  /** The edge for network faults; for tracked and pause faults, what they hit. */
  edge: string;
  direction?: EdgeFaultRequest['direction'];
  id: string;
  toxics: string[];
  /** The proxies that carry the edge, each with the toxics (one, or two for a Redis edge in the HA topology). */
  proxies?: string[];
  injectedAt: string;
  expiresAt: string;
  recoveredAt?: string;
  removedBy?: 'rollback' | 'deadline' | 'cleanup';
  /** For a pause: the processes frozen, so that they are thawed by pid even after a supervisor restart (cleanup). */
  frozen?: FrozenTarget[];
  evidence: { injected?: EdgeProbeResult; recovered?: EdgeProbeResult; stopped?: ProcessState[]; resumed?: ProcessState[] };
}

const protocolOfEdge = (edge: EdgeName) => protocolOf(edgeNamed(edge));

/** The proxies that carry an edge's traffic; the first is where a probe checks that the fault is in force. */
export type EdgeProxies = (edge: EdgeName) => Array<{ name: string; listen: number }>;

const streams = { to: ['upstream'], from: ['downstream'], both: ['upstream', 'downstream'] } as const;

export class FaultAgent {
  private readonly faults = new Map<string, AgentFault>();
  private readonly active: Gauge<'drill' | 'kind' | 'target'>;
  private readonly expiry: Gauge<'drill' | 'kind' | 'target'>;
  private readonly toxiproxy: ReturnType<typeof createToxiproxy>;
  private readonly proxiesOf: EdgeProxies;
  private readonly file: string;
  private timer?: NodeJS.Timeout;

  constructor(toxiproxy: ReturnType<typeof createToxiproxy>, proxiesOf: EdgeProxies, file: string, registry: Registry) {
    this.toxiproxy = toxiproxy;
    this.proxiesOf = proxiesOf;
    this.file = file;
    ({ active: this.active, expiry: this.expiry } = faultGauges(registry));
  }

  start() {
    this.timer = setInterval(() => void this.expire(), 250);
  }

  stop() {
    clearInterval(this.timer);
  }

  list() {
    return [...this.faults.values()];
  }

  track(request: TrackedFaultRequest): AgentFault {
    const now = Date.now();
    const fault: AgentFault = { drill: request.drill, kind: request.kind, edge: request.target, durationMs: request.durationMs, jitterMs: 0, id: `flt-${randomBytes(4).toString('hex')}`, toxics: [], injectedAt: new Date(now).toISOString(), expiresAt: new Date(now + request.durationMs).toISOString(), evidence: {} };
    this.faults.set(fault.id, fault);
    this.setActive(fault);
    this.persist();
    return fault;
  }

  /** Freezes the targets; written to disk first, so that whatever happens next, something knows to thaw them. */
  async pause(request: PauseFaultRequest, targets: FrozenTarget[]): Promise<AgentFault> {
    const now = Date.now();
    const fault: AgentFault = { drill: request.drill, kind: 'pause', edge: request.replicas.join(','), durationMs: request.durationMs, jitterMs: 0, id: `flt-${randomBytes(4).toString('hex')}`, toxics: [], frozen: targets, injectedAt: new Date(now).toISOString(), expiresAt: new Date(now + request.durationMs).toISOString(), evidence: {} };
    this.faults.set(fault.id, fault);
    this.persist();
    fault.evidence.stopped = await freeze(targets);
    this.setActive(fault);
    return fault;
  }

  /** Thaws every frozen process now: the supervisor stops nothing that cannot hear its SIGTERM. */
  async thawAll() {
    for (const fault of this.faults.values()) if (fault.frozen && !fault.recoveredAt) await this.remove(fault.id);
  }

  async inject(request: EdgeFaultRequest): Promise<AgentFault> {
    if (request.kind === 'latency' && !request.latencyMs) throw new RangeError('a latency fault needs latencyMs');
    const id = `flt-${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    // timeout 0 drops data, and holds connections, until the toxic goes: a partition, not a refusal.
    const effect: Pick<Toxic, 'type' | 'attributes'> =
      request.kind === 'latency' ? { type: 'latency', attributes: { latency: request.latencyMs!, jitter: request.jitterMs } } : { type: 'timeout', attributes: { timeout: 0 } };
    const toxics: Toxic[] = streams[request.direction].map((stream) => ({ name: `${id}-${stream}`, stream, ...effect }));
    const proxies = this.proxiesOf(request.edge).filter((p) => !request.nodes || request.nodes.includes(p.name));
    const fault: AgentFault = { ...request, id, toxics: toxics.map((t) => t.name), proxies: proxies.map((p) => p.name), injectedAt: new Date(now).toISOString(), expiresAt: new Date(now + request.durationMs).toISOString(), evidence: {} };
    this.faults.set(id, fault);
    this.persist();
    for (const proxy of proxies) for (const toxic of toxics) await this.toxiproxy.addToxic(proxy.name, toxic);
    this.setActive(fault);
    const wait = request.kind === 'latency' ? request.latencyMs! * 2 + 1000 : 500;
    fault.evidence.injected = await probeEdge(proxies[0]!.listen, protocolOfEdge(request.edge), wait);
    return fault;
  }

  /** Removes a fault now (rollback) and records that the edge answers again. Removing one already gone is fine. */
  async remove(id: string, by: AgentFault['removedBy'] = 'rollback'): Promise<AgentFault | undefined> {
    const fault = this.faults.get(id);
    if (!fault || fault.recoveredAt) return fault;
    await removeToxics(this.toxiproxy, fault);
    if (fault.frozen) fault.evidence.resumed = await thaw(fault.frozen);
    fault.recoveredAt = new Date().toISOString();
    fault.removedBy = by;
    this.active.remove(this.labels(fault));
    this.expiry.remove(this.labels(fault));
    this.persist();
    const probed = this.proxiesOf(fault.edge as EdgeName).find((p) => p.name === fault.proxies?.[0]);
    if (fault.toxics.length && probed) fault.evidence.recovered = await probeEdge(probed.listen, protocolOfEdge(fault.edge as EdgeName), 2000);
    return fault;
  }

  private async expire() {
    const now = Date.now();
    for (const fault of this.faults.values()) {
      if (!fault.recoveredAt && Date.parse(fault.expiresAt) <= now) await this.remove(fault.id, 'deadline');
    }
  }

  private setActive(fault: AgentFault) {
    this.active.set(this.labels(fault), 1);
    this.expiry.set(this.labels(fault), Date.parse(fault.expiresAt) / 1000);
  }

  private labels(fault: AgentFault) {
    return { drill: fault.drill, kind: fault.kind, target: fault.edge };
  }

  private persist() {
    writeFileSync(this.file, JSON.stringify(this.list(), null, 2));
  }
}

/** Removing a toxic that is already gone is fine: the fault is as asked either way. */
async function removeToxics(toxiproxy: ReturnType<typeof createToxiproxy>, fault: AgentFault) {
  for (const proxy of fault.proxies ?? [fault.edge]) for (const toxic of fault.toxics) await toxiproxy.removeToxic(proxy, toxic).catch(() => undefined);
}

/** For `faultline cleanup` when the supervisor is gone: removes, straight from Toxiproxy, every recorded fault past its deadline, and thaws what a pause froze. */
export async function cleanupRecordedFaults(file: string, toxiproxy: ReturnType<typeof createToxiproxy>, all: boolean): Promise<AgentFault[]> {
  if (!existsSync(file)) return [];
  const faults = JSON.parse(readFileSync(file, 'utf8')) as AgentFault[];
  const removed: AgentFault[] = [];
  for (const fault of faults) {
    if (fault.recoveredAt || (!all && Date.parse(fault.expiresAt) > Date.now())) continue;
    await removeToxics(toxiproxy, fault);
    if (fault.frozen) fault.evidence.resumed = await thaw(fault.frozen);
    fault.recoveredAt = new Date().toISOString();
    fault.removedBy = 'cleanup';
    removed.push(fault);
  }
  writeFileSync(file, JSON.stringify(faults, null, 2));
  return removed;
}
