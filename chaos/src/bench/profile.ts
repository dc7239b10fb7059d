// Where a process's CPU went during one step, from a V8 CPU profile (`node --cpu-prof`): self time by package and
// by function, for the samples inside the step's span. Pure: the bench reads the file, this only counts.

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  selfMs: number;
  /** Of the sampled time in the span. */
  share: number;
}
export interface ProfileSummary {
  sampledMs: number;
  byPackage: ProfileShare[];
  topFunctions: ProfileShare[];
}

/** The package a frame belongs to: a node_modules package, a node core module, one of the shop's services, or a V8 pseudo-frame. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName || '(anonymous)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).replace(/^internal\//, '').split('/')[0]}`;
  const service = /\/(services\/[^/]+|chaos)\//.exec(url);
  return service ? service[1]! : (url.split('/').at(-1) ?? url);
}

/** Self time inside [fromUs, toUs] (V8's monotonic clock), each sample counting the interval until the next one. */
export function summarizeProfile(p: CpuProfile, fromUs: number, toUs: number, top = 15): ProfileSummary {
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let at = p.startTime;
  let sampledUs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    at += p.timeDeltas[i] ?? 0;
    const interval = p.timeDeltas[i + 1] ?? 0;
    if (at < fromUs || at > toUs || interval <= 0) continue;
    const f = frames.get(p.samples[i]!);
    if (!f) continue;
    const pkg = packageOf(f.url, f.functionName);
    const fn = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(services|chaos)\//, '$1/')}:${f.lineNumber + 1}` : ''}`.trim();
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + interval);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + interval);
    sampledUs += interval;
  }
  const shares = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: Math.round(us / 100) / 10, share: sampledUs > 0 ? Math.round((us / sampledUs) * 1000) / 1000 : 0 }));
  return { sampledMs: Math.round(sampledUs / 1000), byPackage: shares(byPackage), topFunctions: shares(byFunction) };
}
