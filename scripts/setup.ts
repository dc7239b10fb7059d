// Installs the local runtime's real parts (Redis, Prometheus, Kafka, Toxiproxy, k6, Jaeger) and the chart tooling,
// pinned and idempotent; `--with-kind` adds kind for scripts/kind/up.sh, `--with-cluster` the control plane of `npm run test:cluster`.
import { installControlPlane, installKind, installToolchain, SetupError, toolsDir } from '../chaos/src/local/toolchain.ts';

const flags = process.argv.slice(2);
const options = ['--with-kind', '--with-cluster'];
const unknown = flags.filter((f) => !options.includes(f));
if (unknown.length > 0) {
  console.error(`setup: unknown option ${unknown.join(' ')} (the options are ${options.join(', ')})`);
  process.exit(2);
}

const started = Date.now();
console.log(`faultline setup → ${toolsDir}`);
try {
  const log = (line: string) => console.log(`  ${line}`);
  installToolchain(log);
  if (flags.includes('--with-kind')) installKind(log);
  if (flags.includes('--with-cluster')) installControlPlane(log);
  console.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  if (!(err instanceof SetupError)) throw err;
  console.error(`setup failed: ${err.message}`);
  process.exit(1);
}
