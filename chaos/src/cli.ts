// The faultline command line: run the shop locally, run drills on it or on a cluster, benchmark it.
import { Command, Option } from 'commander';
import { main, UsageError } from './core/errors.ts';
import { localCleanupCommand, runDrillCommand, type DrillRunFlags } from './commands/drill.ts';
import { runDemo } from './commands/demo.ts';
import { dashboardCommand, type DashboardFlags } from './commands/dashboard.ts';
import { drillJsonSchemaText } from './drill/json-schema.ts';
import { loadDrillFile } from './drill/file.ts';
import { runtimeOptions } from './platforms/local/options.ts';
import { down, status, up } from './platforms/local/runtime.ts';

const program = new Command('faultline')
  .description('An observability-first chaos testbed: the order shop, failure drills and their verdicts.')
  .option('--port-base <port>', 'first of the loopback ports the local stack uses (env FAULTLINE_PORT_BASE)')
  .option('--state-dir <dir>', 'where the local stack keeps logs, data and pids (env FAULTLINE_STATE_DIR)')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });

const opts = () => runtimeOptions(program.opts());
let exitCode: number | undefined;

const kubernetesOptions = (command: Command) =>
  command
    .option('--namespace <namespace>', 'kubernetes: the namespace of the release (default: env FAULTLINE_NAMESPACE, else faultline)')
    .option('--kubeconfig <path>', "kubernetes: the kubeconfig (default: KUBECONFIG, ~/.kube/config, or the pod's service account)");

program
  .command('up')
  .description('start the shop on loopback (Redis, Kafka, Prometheus, Jaeger, Toxiproxy, every replica) and wait until it is ready')
  .addOption(new Option('--resilience <mode>', 'turn the resilience policies on or off (env FAULTLINE_RESILIENCE)'))
  .option('--topology <name>', 'lean (one Redis; the default) or ha (Redis as a primary, a replica and three Sentinels, with replicated acknowledgements) (env FAULTLINE_TOPOLOGY)')
  .option('--replicas <list>', 'replica counts, e.g. catalog=3,kitchen=2')
  .option('--set <service.SETTING=value>', "a service setting, repeatable, e.g. --set gateway.RATE_LIMIT_RPS=20 (see each service's README)", (v: string, all: string[] = []) => [...all, v])
  .action(async (flags: Record<string, unknown>) => {
    const s = await up(runtimeOptions({ ...program.opts(), ...flags }));
    console.log(`ready: gateway ${s.urls.gateway}, Prometheus ${s.urls.prometheus}, traces ${s.urls.tracesUi}`);
    console.log(`API key: ${s.apiKey}   (faultline status --json shows everything)`);
    console.log(`live dashboards: ${s.urls.dashboard}`);
  });

program
  .command('down')
  .description('stop everything `up` started, by pid')
  .action(async () => {
    await down(opts());
  });

program
  .command('status')
  .description("print the local stack's state")
  .option('--json', 'print JSON')
  .action(async (flags: { json?: boolean }) => {
    const s = await status(opts());
    if (flags.json) return console.log(JSON.stringify(s ?? { phase: 'down' }, null, 2));
    if (!s) return console.log('down');
    console.log(`${s.phase}: gateway ${s.urls.gateway}  prometheus ${s.urls.prometheus}  traces ${s.urls.tracesUi}  toxiproxy ${s.urls.toxiproxy}`);
    for (const c of s.components) console.log(`  ${c.name.padEnd(12)} ${c.health.padEnd(10)} pid ${String(c.pid ?? '-').padEnd(8)} restarts ${c.restarts}`);
    console.log(`  proxies: ${s.proxies.map((p) => `${p.name}${p.enabled ? '' : ' (cut)'}`).join(', ')}`);
  });

kubernetesOptions(
  program
    .command('dashboard')
    .description("the live dashboard page (the chart's Grafana dashboards, drawn without Grafana): print the local stack's URL, or serve it for a cluster's release")
    .addOption(new Option('--platform <platform>', 'local: the running stack serves it; kubernetes: served here, against the release’s Prometheus through the API server').choices(['local', 'kubernetes']).default('local'))
    .option('--release <name>', 'kubernetes: the Helm release (default: env FAULTLINE_RELEASE, else faultline)')
    .option('--port <port>', 'kubernetes: the loopback port to serve on (default: any free port)')
    .option('--open', 'also open it in a browser'),
).action(async (flags: DashboardFlags) => {
  exitCode = await dashboardCommand(opts(), flags);
});

program
  .command('demo')
  .description('bring the shop up, run the showcase drills with live progress, and print their verdicts and reports; exit 1 if one fails')
  .option('--drills <list>', 'which showcase drills, e.g. catalog-outage,traffic-flood (default: all four)')
  .action(async (flags: { drills?: string }) => {
    exitCode = await runDemo(opts(), flags);
  });

program
  .command('soak')
  .description('rolling chaos on one stack: steady orders throughout, a random drill from the catalogue every --every seconds, every process\'s memory and the stores\' disk sampled; exit 1 if a drill fails, an order is lost or duplicated, or memory grows past its bound once warm')
  .option('--minutes <n>', 'how long (2 to 1440; default 30)')
  .option('--every <seconds>', 'a drill starts this often (60 to 3600; default 120)')
  .option('--seed <n>', 'the seed that picks the drills, to replay a soak (default: random, printed)')
  .option('--growth-percent <n>', 'the bound on a process\'s memory growth after warm-up (default 10)')
  .option('--report-dir <dir>', 'where soak.json, report.html and each drill\'s report go (default: <state-dir>/reports/soak)')
  .action(async (flags: Record<string, unknown>) => {
    const { runSoak } = await import('./soak/command.ts');
    exitCode = await runSoak(opts(), flags);
  });

const drill = program.command('drill').description('failure drills: YAML files with steady state, method, verifications, abort conditions, rollbacks and per-platform settings');
drill
  .command('validate')
  .description('check a drill file strictly without running it; exit 2 with the file, line and field of each problem')
  .argument('<file>', 'the drill file (YAML)')
  .action((file: string) => {
    const d = loadDrillFile(file);
    console.log(`${file}: valid drill "${d.name}" (${d.method.length} steps, ${d.verifications.length} verifications)`);
  });
kubernetesOptions(
  drill
    .command('run')
    .description('run a drill against the shop and judge it: exit 0 on pass, 1 on fail, 2 on bad input')
    .argument('<file>', 'the drill file (YAML)')
    .addOption(new Option('--platform <platform>', 'where the shop runs: the local stack, or a Helm release on a cluster').choices(['local', 'kubernetes']).default('local')),
)
  .option('--release <name>', 'kubernetes: the Helm release (default: env FAULTLINE_RELEASE, else faultline)')
  .option('--faults-only', 'kubernetes: inject and remove the faults and check them through the API server, with no traffic, probes or ledger (with the chaos controller’s Role alone, no proxies or Secret)')
  .option('--report-dir <dir>', 'where DIR/<drill>/ gets journal.json, junit.xml, summary.md and report.html (default: <state-dir>/reports)')
  .option('--dry-run', 'print the plan (on kubernetes, the objects each fault would create) and touch nothing')
  .action(async (file: string, flags: DrillRunFlags) => {
    exitCode = await runDrillCommand(file, opts(), flags);
  });
drill
  .command('schema')
  .description("print the drill file's JSON Schema (also in chaos/drills/drill.schema.json)")
  .action(() => {
    process.stdout.write(drillJsonSchemaText());
  });

program
  .command('bench')
  .description('benchmarks on the local runtime; `bench overload`: capacity, goodput at 0.5×, 1×, 3× and 10× capacity with resilience on and off, fairness between clients, detection and recovery timings, middleware overhead, failover (starts and stops its own stacks)')
  .argument('<benchmark>', 'which benchmark: overload')
  .option('--json', 'print one JSON object with every figure (progress goes to stderr)')
  .option('--report-dir <dir>', 'where bench.json, report.html and the k6 summaries go (default: <state-dir>/reports/bench)')
  .option('--quick', 'shorter steps and 3 trials per timing instead of 5')
  .option('--objective-ms <ms>', 'the latency objective for admitted orders, p99 (default 1500)')
  .option('--repeat <n>', 'run everything n times (1 to 10) and report the median and min–max of every figure (default 1)')
  .option('--profile', "CPU-profile the gateway (node --cpu-prof) in the first run, and report where its CPU went while one key floods at 10×C (the fairness phase)")
  .action(async (benchmark: string, flags: Record<string, unknown>) => {
    if (benchmark !== 'overload') throw new UsageError(`bench: unknown benchmark "${benchmark}" (known: overload)`);
    const { runBenchCommand } = await import('./bench/command.ts');
    exitCode = await runBenchCommand(opts(), flags);
  });

kubernetesOptions(
  program
    .command('cleanup')
    .description('remove faults past their deadline (or --all) that a dead drill left behind; the supervisor (local) or the controller (kubernetes) also does this by itself')
    .option('--all', 'remove every recorded fault now, deadline or not')
    .addOption(new Option('--platform <platform>', 'where the faults are').choices(['local', 'kubernetes']).default('local')),
).action(async (flags: { all?: boolean; platform: 'local' | 'kubernetes'; namespace?: string; kubeconfig?: string }) => {
  if (flags.platform === 'local') {
    if (flags.namespace !== undefined || flags.kubeconfig !== undefined) throw new UsageError('--namespace and --kubeconfig go with --platform kubernetes');
    return localCleanupCommand(opts(), Boolean(flags.all));
  }
  // Loaded on demand: the Kubernetes client is heavy, and the local commands never need it.
  const { kubernetesCleanupCommand } = await import('./platforms/kubernetes/command.ts');
  await kubernetesCleanupCommand(flags);
});

program
  .command('controller')
  .description('run the chaos controller (in a cluster): remove faults past their expiry and export them as metrics on /metrics; settings from the environment (see chaos/src/platforms/kubernetes/config.ts)')
  .option('--kubeconfig <path>', "a kubeconfig, to run outside the cluster (default: the pod's service account)")
  .action(async (flags: { kubeconfig?: string }) => {
    const { runController } = await import('./platforms/kubernetes/controller.ts');
    await runController(flags); // it serves until SIGTERM, and exits by itself
  });

await main('faultline', async () => {
  await program.parseAsync(process.argv);
  return exitCode;
});
