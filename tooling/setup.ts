// Installs the local runtime's real parts (Redis, Prometheus, Kafka, Toxiproxy, k6, Jaeger) and the chart tooling,
// pinned and idempotent; `--with-kind` adds kind for tooling/kind/up.sh, `--with-cluster` the control plane of `npm run test:cluster`.
import { main, UsageError } from '../chaos/src/core/errors.ts';
import { installControlPlane, installKind, installToolchain, toolsDir } from './toolchain.ts';

await main('setup', async () => {
  const flags = process.argv.slice(2);
  const options = ['--with-kind', '--with-cluster'];
  const unknown = flags.filter((f) => !options.includes(f));
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown.join(' ')} (the options are ${options.join(', ')})`);
  const started = Date.now();
  console.log(`faultline setup → ${toolsDir}`);
  const log = (line: string) => console.log(`  ${line}`);
  installToolchain(log);
  if (flags.includes('--with-kind')) installKind(log);
  if (flags.includes('--with-cluster')) installControlPlane(log);
  console.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
