// What the one drill runner needs from where the shop runs. Each platform implements it (platforms/local,
// platforms/kubernetes); nothing in the runner names a platform.
import type { Ack, K6Summary } from './k6.ts';
import type { LedgerReader } from './ledger.ts';
import type { LoadSpec } from './fields.ts';
import type { FaultKindName, Planned } from './faults/index.ts';
import type { PlatformName } from './schema.ts';

/** Ready replicas by part of the shop (service, redis, kafka), and the edges a network fault can name. */
export interface Inventory {
  replicas: Record<string, string[]>;
  edges: string[];
  /** Where a part's replicas have roles (a Redis primary and its replicas, a Kafka leader and its followers): each one's role now. */
  roles?: Record<string, string>;
}

/** Where a drill's probes and ledger reach the shop: plain URLs, whatever tunnels the platform opened for them. */
export interface Endpoints {
  /** The shop's public API (the gateway). */
  gateway: string;
  /** Prometheus's HTTP API, for promql probes, progress and the report's series. */
  prometheus: string;
  /** The API keys of the shop's two clients. */
  apiKeys: Record<'local' | 'load', string>;
  /** The live dashboard page, where the platform serves one. */
  dashboard?: string;
}

/** A fault in force, with what shows it, and how to end it. */
export interface InjectedFault {
  /** What it hit, for people: an edge, replicas, a script. */
  target: string;
  injectedAt: string;
  evidence: Record<string, unknown>;
  /** Whether the evidence shows the fault took effect. */
  effective: boolean;
  /** The evidence in one line, for people: "pid 812 gone (SIGKILL)", "a request through it got no answer". */
  summary: string;
  /** A flood's load, which the runner waits for and reconciles like any load. */
  load?: LoadRun;
  /** For a kill: evidence that what died is replaced and ready again, or undefined while it is not (polled). */
  recovered?(): Promise<Record<string, unknown> | undefined>;
  /** Ends the fault now, with evidence that it is gone; a second call does nothing. */
  remove(): Promise<Record<string, unknown>>;
}

export interface InjectContext {
  drill: string;
  /** This run's id, unique per run. */
  run: string;
}

export interface FaultImplementation<P> {
  inject(planned: P, ctx: InjectContext): Promise<InjectedFault>;
}

/** Every kind, implemented or refused with a reason, so that a new kind cannot be forgotten by a platform. */
export type FaultImplementations = { [K in FaultKindName]: FaultImplementation<Planned<K>> | { unsupported: string } };

/** One k6 run, wherever it runs. */
export interface LoadRun {
  /** A pid or a Job's name, for progress lines. */
  label: string;
  /** Iterations started per second, measured over a couple of seconds, as evidence that k6 offers the asked rate. */
  observedRate(): Promise<number | undefined>;
  /** Resolves with k6's summary when the run ends (its duration, or stop()). */
  done(): Promise<K6Summary>;
  /** Ends the run early; k6 still reports what it did. */
  stop(): Promise<void>;
  /** Every order a client saw acknowledged, from k6's log. */
  acks(): Promise<Ack[]>;
}

export interface LoadContext {
  /** Unique within the run, e.g. load-0 or flood-1. */
  name: string;
  run: string;
  drill: string;
}

export interface Platform {
  readonly name: PlatformName;
  /** Where, for people: "the local stack on port base 17400", "release faultline in namespace faultline". */
  readonly where: string;
  /**
   * Whether the drill sends traffic and reads probes and the ledger. When false (a faults-only run, with rights to
   * the API alone) the runner injects and removes faults only, and the journal lists every step it skipped.
   */
  readonly traffic: boolean;
  readonly faults: FaultImplementations;
  /**
   * Checks that the shop is there and opens what the probes need (a shop that is not there is a UsageError);
   * undefined exactly when traffic is false. Idempotent: a second call returns the same endpoints.
   */
  connect(): Promise<Endpoints | undefined>;
  inventory(): Promise<Inventory>;
  /** The /metrics text of every ready replica of a service that answered, for metric probes sampled faster than Prometheus scrapes. */
  replicaMetrics(service: string): Promise<string[]>;
  startLoad(load: LoadSpec, ctx: LoadContext): Promise<LoadRun>;
  /** The shop's ledger (in its Redis), read after the method to reconcile every acknowledged order. */
  ledger(): Promise<LedgerReader>;
  /** Closes tunnels and clients. */
  close(): Promise<void>;
}
