// Fairness under overload: a well-behaved client at half its quota, first alone, then while another key offers 10×C,
// on a stack with the shop's own per-key quota and per-client admission share (not the raised limits of phases 1–4).
import { drainLag, runStep, sleep, type BenchTarget, type StepResult } from './step.ts';

export interface FairnessResult {
  quietRps: number;
  floodRps: number;
  alone: StepResult;
  flooded: StepResult;
  flood: StepResult;
  /** The quiet client's goodput during the flood over its goodput alone. */
  keptFraction: number;
}

export async function measureFairness(quiet: BenchTarget, flood: BenchTarget, orderUrls: string[], opts: { quietRps: number; floodRps: number; stepS: number }, print: (l: string) => void): Promise<FairnessResult> {
  await drainLag(orderUrls);
  const alone = await runStep(quiet, 'fairness-quiet-alone', opts.quietRps, opts.stepS);
  print(`  quiet client alone at ${opts.quietRps}/s: ${alone.good} good of ${alone.iterations + alone.dropped}, admitted p99 ${alone.admittedP99Ms ?? '-'} ms`);
  await drainLag(orderUrls);
  // The flood starts first and ends last, so that the quiet client's whole step is under it.
  let floodStarted!: () => void;
  const started = new Promise<void>((resolve) => (floodStarted = resolve));
  const flooding = runStep(flood, 'fairness-flood', opts.floodRps, opts.stepS + 2, { started: floodStarted });
  await Promise.race([started, flooding]); // k6 makes its VUs first, which takes a second or two for a flood's
  await sleep(1000);
  const flooded = await runStep(quiet, 'fairness-quiet-flooded', opts.quietRps, opts.stepS);
  const floodStep = await flooding;
  const keptFraction = alone.good > 0 ? Math.round((flooded.good / alone.good) * 1000) / 1000 : 0;
  print(`  quiet client under a ${opts.floodRps}/s flood from another key: ${flooded.good} good (${(keptFraction * 100).toFixed(1)}% of alone), 429 ${flooded.limited}, 503 ${flooded.shed}; the flood: ${floodStep.ok} served, 429 ${floodStep.limited}, 503 ${floodStep.shed}, k6 dropped ${floodStep.dropped}`);
  return { quietRps: opts.quietRps, floodRps: opts.floodRps, alone, flooded, flood: floodStep, keptFraction };
}
