// Installs the local runtime's real parts (Redis, Prometheus, Kafka, Toxiproxy, k6, Jaeger): what `npm run demo` needs,
// pinned and idempotent. `--for-tests` adds what the test suites use besides (the chart tooling: helm, kubeconform,
// the schemas, promtool; and Chromium); `--with-kind` adds kind for tooling/kind/up.sh; and `--with-node` a real
// one-node cluster (the control plane, containerd, kubelet, kube-proxy, CoreDNS, kube-router) and its images, for
// `npm run test:cluster` and `npm run cluster:up`, with the test tooling it needs.
import { main, UsageError } from '../chaos/src/core/errors.ts';
import { buildImages } from './images/build.ts';
import { installChartTooling, installKind, installNode, installTestTooling, installToolchain, toolsDir } from './toolchain.ts';

await main('setup', async () => {
  const flags = process.argv.slice(2);
  const options = ['--for-tests', '--with-kind', '--with-node'];
  const unknown = flags.filter((f) => !options.includes(f));
  if (unknown.length > 0) throw new UsageError(`unknown option ${unknown.join(' ')} (the options are ${options.join(', ')})`);
  // Checked before anything is installed: buildah and the node's apt packages need root, and half a set-up helps no one.
  if (flags.includes('--with-node') && process.getuid?.() !== 0) throw new UsageError("--with-node needs root: the node's packages come from apt, and its images are built by buildah as root");
  const started = Date.now();
  console.log(`faultline setup → ${toolsDir}`);
  const log = (line: string) => console.log(`  ${line}`);
  await installToolchain(log);
  if (flags.includes('--for-tests') || flags.includes('--with-node')) await installTestTooling(log);
  if (flags.includes('--with-kind')) {
    await installChartTooling(log); // helm, which tooling/kind/up.sh installs the chart with
    await installKind(log);
  }
  if (flags.includes('--with-node')) {
    await installNode(log);
    buildImages(log);
  }
  console.log(`setup done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
