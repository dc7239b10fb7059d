// What a run records, Chaos Toolkit-style: its status and verdict, each phase's timing, every fault with its
// evidence, the loads, the verifications with what was expected and observed, the ledger, and every sample.
import type { AppliedAdjustment } from './adjust.ts';
import type { FaultKindName } from './faults/index.ts';
import type { K6Summary } from './k6.ts';
import type { LedgerCheck } from './ledger.ts';
import type { PlatformName } from './schema.ts';
import type { Sample, VerificationResult, Windows } from './verify.ts';

export interface FaultRecord {
  kind: FaultKindName;
  target: string;
  injectedAt: string;
  recoveredAt?: string;
  /** What shows that the fault took effect, and that it was undone. */
  evidence: Record<string, unknown>;
  effective: boolean;
  /** The evidence in one line, for people. */
  summary: string;
}

export interface ProbeReading {
  name: string;
  value: number | undefined;
  ok: boolean;
}

export type RunStatus = 'completed' | 'failed' | 'aborted' | 'interrupted';

export interface Journal {
  drill: string;
  file: string;
  platform: PlatformName;
  /** Where on the platform, as it describes itself. */
  where: string;
  run: string;
  status: RunStatus;
  verdict: 'pass' | 'fail';
  reason?: string;
  startedAt: string;
  endedAt: string;
  timings: { durationMs: number; timeToRecoverMs?: number; windows: Windows };
  steadyState: { before: ProbeReading[]; after: ProbeReading[] };
  faults: FaultRecord[];
  loads: Array<{ name: string; script: string; label: string; summary?: K6Summary; error?: string }>;
  verifications: VerificationResult[];
  ledger?: LedgerCheck;
  samples: Sample[];
  probes: string[];
  /** This platform's settings from the drill file, each with its reason. */
  adjustments: AppliedAdjustment[];
  /** What a faults-only run did not do, and why. */
  skipped: string[];
}

export type Phase = 'steady state' | 'method' | 'rollback' | 'recovery' | 'verification';

/**
 * How a run reports progress as it goes (Chaos Toolkit's RunEventHandler): the CLI prints them, tests record them.
 * Every hook is optional and must not throw.
 */
export interface RunHooks {
  started?(info: { drill: string; platform: PlatformName; where: string; run: string; prometheus?: string; dashboard?: string }): void;
  phase?(phase: Phase, reason?: string): void;
  steadyState?(when: 'before' | 'after', readings: ProbeReading[], timeToRecoverMs?: number): void;
  /** Every sample, with the phase and the faults in force. */
  sample?(sample: Sample, phase: Phase, active: FaultRecord[]): void;
  faultInjected?(record: FaultRecord): void;
  faultRemoved?(record: FaultRecord): void;
  loadStarted?(load: { name: string; script: string; label: string; rate?: number }): void;
  skipped?(what: string): void;
  ledger?(stage: 'reconciling' | 'done', acks: number, drainMs: number): void;
}
