// What one open live dashboard page costs during the traffic-flood drill: the same drill on one stack, in turns with
// and without the page open in headless Chromium, with the CPU of Prometheus, the supervisor (which serves the page)
// and Chromium over each run, and the drill's own verdict and its well-behaved client's p99.
// Usage: npm run bench:dashboard [-- --rounds 2 --report-dir DIR]
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import puppeteer from 'puppeteer-core';
import { cpuSeconds } from '../chaos/src/bench/step.ts';
import { projectRoot } from '../chaos/src/core/paths.ts';
import { defaultOptions } from '../chaos/src/platforms/local/layout.ts';
import { down, up } from '../chaos/src/platforms/local/runtime.ts';
import { chromiumPath } from '../tooling/toolchain.ts';

const flags = (() => {
  try {
    return parseArgs({ options: { rounds: { type: 'string', default: '2' }, 'report-dir': { type: 'string', default: join(projectRoot, '.faultline/reports/dashboard-cost') } } });
  } catch (err) {
    console.error(`bench:dashboard: ${(err as Error).message}`);
    process.exit(2);
  }
})();
const { values } = flags;
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
  console.error(`--rounds ${JSON.stringify(values.rounds)}: a whole number from 1 to 10`);
  process.exit(2);
}
const reportDir = values['report-dir']!;
mkdirSync(reportDir, { recursive: true });
const stateDir = join(reportDir, 'stack');
// Below Linux's ephemeral ports (32768 and up), so no outgoing connection can hold a port the stack listens on.
const opts = { ...defaultOptions(), portBase: 25400, stateDir };
const env = { ...process.env, FAULTLINE_PORT_BASE: String(opts.portBase), FAULTLINE_STATE_DIR: stateDir };

/** CPU seconds of a process and its descendants (Chromium is a tree of processes). */
function treeCpu(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const walk = (pid: number): number => (cpuSeconds(pid) ?? 0) + (children.get(pid) ?? []).reduce((sum, c) => sum + walk(c), 0);
  return walk(root);
}

interface Run {
  page: boolean;
  seconds: number;
  cores: { prometheus: number; supervisor: number; chromium: number };
  verdict: string;
  clientP99Ms: number;
}

console.log(`▶ bringing a stack up on port base ${opts.portBase}`);
const stack = await up(opts, () => undefined);
const pidOf = (name: string) => stack.components.find((c) => c.name === name)!.pid!;
const browser = await puppeteer.launch({ executablePath: chromiumPath, headless: true, userDataDir: join(reportDir, 'chromium'), args: ['--no-sandbox', '--disable-gpu'] });
const runs: Run[] = [];
try {
  const drill = (page: boolean, label: string) => {
    console.log(`▶ ${label}: traffic-flood ${page ? 'with the page open' : 'without the page'}`);
    const r = spawnSync(process.execPath, [join(projectRoot, 'chaos/bin/faultline.js'), 'drill', 'run', join(projectRoot, 'chaos/drills/traffic-flood.yaml'), '--report-dir', join(reportDir, label)], { env, encoding: 'utf8' });
    const journal = JSON.parse(readFileSync(join(reportDir, label, 'traffic-flood', 'journal.json'), 'utf8')) as { verdict: string; loads: Array<{ apiKey?: string; summary?: { p99Ms?: number } }> };
    console.log(`  ${journal.verdict} (exit ${r.status})`);
    return journal;
  };
  drill(false, 'warm-up');
  for (let round = 1; round <= rounds; round++) {
    for (const page of [false, true]) {
      const tab = page ? await browser.newPage() : undefined;
      await tab?.setViewport({ width: 1600, height: 1300 });
      await tab?.goto(`${stack.urls.dashboard}?from=now-5m`);
      const pids = { prometheus: pidOf('prometheus'), supervisor: stack.supervisor.pid, chromium: browser.process()!.pid! };
      const before = { prometheus: cpuSeconds(pids.prometheus)!, supervisor: cpuSeconds(pids.supervisor)!, chromium: treeCpu(pids.chromium) };
      const started = performance.now();
      const journal = drill(page, `round-${round}-${page ? 'page' : 'no-page'}`);
      const seconds = (performance.now() - started) / 1000;
      const cores = {
        prometheus: (cpuSeconds(pids.prometheus)! - before.prometheus) / seconds,
        supervisor: (cpuSeconds(pids.supervisor)! - before.supervisor) / seconds,
        chromium: (treeCpu(pids.chromium) - before.chromium) / seconds,
      };
      runs.push({ page, seconds, cores, verdict: journal.verdict, clientP99Ms: journal.loads[0]?.summary?.p99Ms ?? Number.NaN });
      await tab?.close();
    }
  }
} finally {
  await browser.close();
  await down(opts, () => undefined);
}

const mean = (page: boolean, pick: (r: Run) => number) => {
  const chosen = runs.filter((r) => r.page === page).map(pick);
  return chosen.reduce((a, b) => a + b, 0) / chosen.length;
};
const rows = [
  ['Prometheus', (r: Run) => r.cores.prometheus],
  ['supervisor (serves the page)', (r: Run) => r.cores.supervisor],
  ['Chromium (draws the page)', (r: Run) => r.cores.chromium],
] as const;
const table = [
  '| process | without the page (cores) | with one page (cores) | extra |',
  '|---|---|---|---|',
  ...rows.map(([name, pick]) => `| ${name} | ${mean(false, pick).toFixed(3)} | ${mean(true, pick).toFixed(3)} | ${(mean(true, pick) - mean(false, pick)).toFixed(3)} |`),
  `| well-behaved client's p99 (ms) | ${mean(false, (r) => r.clientP99Ms).toFixed(0)} | ${mean(true, (r) => r.clientP99Ms).toFixed(0)} | |`,
  `| verdicts | ${runs.filter((r) => !r.page).map((r) => r.verdict).join(', ')} | ${runs.filter((r) => r.page).map((r) => r.verdict).join(', ')} | |`,
].join('\n');

// One bar pair per process: people would rather look than read.
const width = 560;
const scale = Math.max(...rows.flatMap(([, pick]) => [mean(false, pick), mean(true, pick)]), 0.01);
const bars = rows
  .map(([name, pick], i) =>
    [false, true]
      .map((page, k) => {
        const y = 30 + i * 60 + k * 22;
        const w = (mean(page, pick) / scale) * (width - 260);
        return `<rect x="240" y="${y}" width="${w.toFixed(1)}" height="18" fill="${page ? '#dc2626' : '#2563eb'}"/><text x="${(245 + w).toFixed(1)}" y="${y + 14}" font-size="12">${mean(page, pick).toFixed(3)}</text>${k === 0 ? `<text x="0" y="${y + 24}" font-size="13">${name}</text>` : ''}`;
      })
      .join(''),
  )
  .join('');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width + 80}" height="${40 + rows.length * 60}"><text x="0" y="14" font-size="13">CPU (cores) during traffic-flood: <tspan fill="#2563eb">without the page</tspan>, <tspan fill="#dc2626">with one page open</tspan></text>${bars}</svg>`;
writeFileSync(join(reportDir, 'report.html'), `<!doctype html><meta charset="utf-8"><title>live dashboard cost</title><body style="font:14px system-ui;margin:24px">${svg}<pre>${table}</pre></body>`);
writeFileSync(join(reportDir, 'runs.json'), `${JSON.stringify(runs, null, 2)}\n`);
console.log(`\n${table}\n\nreport: ${join(reportDir, 'report.html')}`);
