import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, baseConfig, env, loadConfig, redisSettings, withRedis } from '@faultline/common';
import { allPorts, defaultOptions, ephemeralOverlap } from '../../chaos/src/platforms/local/layout.ts';
import { runtimeOptions } from '../../chaos/src/platforms/local/options.ts';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { writableReportDir } from '../../chaos/src/core/report-dir.ts';
import { cli, repoRoot } from '../support/shop.ts';
import { tempDir } from '../support/temp.ts';

describe('service configuration', () => {
  const schema = baseConfig.extend({ REDIS_URL: env.redisUrl() });
  it('reads a typed, frozen object', () => {
    const c = loadConfig(schema, { PORT: '8080', REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c).toMatchObject({ PORT: 8080, HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('names every bad setting', () => {
    expect(() => loadConfig(schema, { PORT: 'eighty', REDIS_URL: 'http://x' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { PORT: 'eighty', REDIS_URL: 'http://x' })).toThrow(/PORT="eighty".*\n.*REDIS_URL="http:\/\/x"/);
  });
  it('needs REDIS_URL, or REDIS_SENTINELS where Redis runs with Sentinel', () => {
    const redis = withRedis(baseConfig.extend(redisSettings));
    expect(() => loadConfig(redis, { PORT: '8080' })).toThrow(/REDIS_URL=null: expected a redis:\/\/ URL, or REDIS_SENTINELS where Redis runs with Sentinel/);
    expect(loadConfig(redis, { PORT: '8080', REDIS_SENTINELS: 'sentinel:26379' }).REDIS_SENTINELS).toEqual([{ host: 'sentinel', port: 26379 }]);
    expect(loadConfig(redis, { PORT: '8080', REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
  });
  it('setup refuses an unknown option with exit 2 before installing anything', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'tooling/setup.ts'), '--with-kid'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option --with-kid');
    expect(r.stdout).not.toContain('✓');
  });
  it.each([
    ['dashboard-cost.ts', ['--rounds', '0'], '--rounds "0": a whole number from 1 to 10'],
    ['dashboard-cost.ts', ['--rounds', 'many'], '--rounds "many": a whole number from 1 to 10'],
    ['dashboard-cost.ts', ['--round', '2'], "Unknown option '--round'"],
    ['order-log-cost.ts', ['--rates', '100,fast'], '--rates "fast": a whole number from 1 to 5000'],
    ['order-log-cost.ts', ['--seconds', '0'], '--seconds "0": a whole number from 1 to 60'],
    ['order-log-cost.ts', ['--rounds', '11'], '--rounds "11": a whole number from 1 to 10'],
    ['order-log-cost.ts', ['--rate', '100'], "Unknown option '--rate'"],
  ])('scripts/%s refuses %j with exit 2 before starting anything', (script, args, message) => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', script), ...args], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).not.toContain('bringing');
  });
  it('bench:topology refuses an unknown option with exit 2 before starting anything', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/topology-cost.ts'), '--topologies', 'ha'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--topologies'");
    expect(r.stdout).not.toContain('bringing the stack up');
  });
  it('stops a service at start-up with exit 2 on a malformed setting', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'services/catalog/src/main.ts')], { encoding: 'utf8', env: { PATH: process.env.PATH, PORT: '99999', REDIS_URL: 'redis://127.0.0.1:1' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('catalog: invalid configuration');
    expect(r.stderr).toContain('PORT="99999"');
  });
  it.each([
    ['gateway', { RATE_LIMIT_RPS: '0' }, /RATE_LIMIT_RPS="0"/],
    ['gateway', { ADMISSION_QUEUE: 'many' }, /ADMISSION_QUEUE="many"/],
    ['gateway', { ADMISSION_CLIENT_SHARE_PERCENT: '0' }, /ADMISSION_CLIENT_SHARE_PERCENT="0"/],
    ['gateway', { ADMISSION_LIMIT: 'gradient' }, /ADMISSION_LIMIT="gradient"/],
    ['gateway', { ADMISSION_MIN_CONCURRENCY: '0' }, /ADMISSION_MIN_CONCURRENCY="0"/],
    ['gateway', { REDIS_URL: '' }, /REDIS_URL="": expected a redis:\/\/ URL/],
    ['gateway', { REDIS_PASSWORD: 'not secret' }, /REDIS_PASSWORD=\(hidden, 10 characters\): expected 1 to 512 printable characters without spaces/],
    ['gateway', { FAULTLINE_RESILIENCE: 'maybe' }, /FAULTLINE_RESILIENCE="maybe": expected on or off/],
    ['orders', { MAX_KITCHEN_LAG: '-1' }, /MAX_KITCHEN_LAG="-1"/],
    ['orders', { LAG_POLL_MS: '5' }, /LAG_POLL_MS="5"/],
    ['kitchen', { KITCHEN_STATIONS: '0' }, /KITCHEN_STATIONS="0"/],
    ['kitchen', { KITCHEN_SESSION_TIMEOUT_MS: '500' }, /KITCHEN_SESSION_TIMEOUT_MS="500"/],
    ['orders', { REDIS_WAIT_REPLICAS: '-1' }, /REDIS_WAIT_REPLICAS="-1"/],
    ['kitchen', { REDIS_WAIT_TIMEOUT_MS: '0' }, /REDIS_WAIT_TIMEOUT_MS="0"/],
    ['catalog', { REDIS_SENTINELS: '127.0.0.1' }, /REDIS_SENTINELS="127.0.0.1": expected host:port/],
    ['gateway', { REDIS_NAT_MAP: '127.0.0.1:1>127.0.0.1:2' }, /REDIS_NAT_MAP="127.0.0.1:1>127.0.0.1:2": expected announced-host:port=reachable-host:port/],
  ])('%s refuses a malformed resilience setting %j with exit 2', (svc, bad, message) => {
    const wiring = { PORT: '1', REDIS_URL: 'redis://127.0.0.1:1', KAFKA_BROKERS: '127.0.0.1:1', CATALOG_URL: 'http://127.0.0.1:1', ORDERS_URL: 'http://127.0.0.1:1', API_KEYS: 'local:0123456789abcdef' };
    const r = spawnSync(process.execPath, [join(repoRoot, `services/${svc}/src/main.ts`)], { encoding: 'utf8', env: { PATH: process.env.PATH, ...wiring, ...bad } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('rejects a malformed API_KEYS setting in the gateway', () => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'services/gateway/src/main.ts')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PORT: '1', CATALOG_URL: 'http://127.0.0.1:1', ORDERS_URL: 'http://127.0.0.1:1', API_KEYS: 'nokey' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/API_KEYS="nokey": expected name:key/);
  });
});

describe('runtime options', () => {
  it('uses flags over environment over defaults', () => {
    const o = runtimeOptions({ portBase: '20000', replicas: 'catalog=3' }, { FAULTLINE_PORT_BASE: '30000', FAULTLINE_RESILIENCE: 'off' });
    expect(o).toMatchObject({ portBase: 20000, resilience: 'off', replicas: { catalog: 3, orders: 2, kitchen: 2, gateway: 1 } });
  });
  it.each([
    [{ portBase: 'abc' }, {}, /--port-base/],
    [{}, { FAULTLINE_PORT_BASE: '80' }, /FAULTLINE_PORT_BASE/],
    [{}, { FAULTLINE_RESILIENCE: 'maybe' }, /--resilience/],
    [{ topology: 'cluster' }, {}, /--topology \/ FAULTLINE_TOPOLOGY: Invalid option: expected one of "lean"\|"ha"/],
    [{ replicas: 'catalog' }, {}, /--replicas: expected service=count/],
    [{ replicas: 'cashier=2' }, {}, /unknown service "cashier"/],
    [{ replicas: 'kitchen=9' }, {}, /kitchen=9 must be a whole number from 1 to 5/],
  ])('rejects flags %j env %j', (flags, environment, message) => {
    expect(() => runtimeOptions(flags, environment)).toThrow(UsageError);
    expect(() => runtimeOptions(flags, environment)).toThrow(message);
  });
  it.each(['lean', 'ha'] as const)('gives every component its own port (%s topology)', (topology) => {
    const ports = allPorts({ ...defaultOptions(), topology, replicas: { gateway: 5, catalog: 5, orders: 5, kitchen: 5 } }).map(([, p]) => p);
    expect(new Set(ports).size).toBe(ports.length);
  });
  it('names the ports a base puts in the kernel\'s ephemeral range, and none for the default base', () => {
    const ports = (portBase: number) => allPorts({ ...defaultOptions(), portBase, topology: 'ha' }).map(([, p]) => p);
    expect(ephemeralOverlap(ports(17400), [32768, 60999])).toEqual([]);
    // Straddling the range's start: the HA topology's Kafka listeners (base+89..96) fall in it, Redis (base+2) does not.
    const straddling = ephemeralOverlap(ports(32700), [32768, 60999]);
    expect(straddling).toEqual(expect.arrayContaining([32789, 32796]));
    expect(straddling).not.toContain(32702);
    expect(ephemeralOverlap(ports(37400), [32768, 60999])).toHaveLength(ports(37400).length);
  });
});

describe('the CLI answers bad input with exit 2', () => {
  it('refuses to run a drill when no stack is up, saying how to start one', () => {
    const r = cli(['drill', 'run', join(repoRoot, 'chaos/drills/catalog-outage.yaml')], { FAULTLINE_PORT_BASE: '31400', FAULTLINE_STATE_DIR: '/nonexistent-faultline-state' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the local stack on port base 31400 is not ready: run `faultline up` first');
  });

  it.each([
    [['up', '--port-base', 'abc'], /--port-base/],
    [['up', '--replicas', 'kitchen=0'], /kitchen=0/],
    [['demo', '--drills', 'meltdown'], /--drills: unknown drill meltdown/],
    [['drill', 'run', 'chaos/drills/catalog-outage.yaml', '--platform', 'k8s'], /argument 'k8s' is invalid. Allowed choices are local, kubernetes/],
    [['drill', 'run', '/nonexistent/drill.yaml'], /\/nonexistent\/drill.yaml: cannot read it \(ENOENT\)/],
    [['drill', 'validate'], /missing required argument 'file'/],
    [['up', '--set', 'gateway'], /--set: expected service.SETTING=value/],
    [['up', '--set', 'cashier.RATE_LIMIT_RPS=5'], /--set: unknown service "cashier"/],
    [['up', '--set', 'gateway.API_KEYS=x:y'], /API_KEYS is wired by the runtime/],
    [['up', '--set', 'orders.REDIS_SENTINELS=127.0.0.1:1'], /REDIS_SENTINELS is wired by the runtime/],
    [['up', '--set', 'kitchen.REDIS_PASSWORD=guess'], /REDIS_PASSWORD is wired by the runtime/],
    [['up', '--topology', 'cluster'], /--topology \/ FAULTLINE_TOPOLOGY: Invalid option/],
    [['status', '--bogus'], /unknown option '--bogus'/],
    [['soak', '--minutes', '1'], /--minutes: at least 2 minutes/],
    [['soak', '--every', 'often'], /--every/],
    [['soak', '--report-dir', '/dev/null/reports'], /--report-dir: cannot write to \/dev\/null\/reports/],
    [['launch'], /unknown command 'launch'/],
    [['drill', 'run', 'chaos/drills/catalog-outage.yaml', '--report-dir', '/proc/faultline-reports'], /--report-dir: cannot write to \/proc\/faultline-reports\/catalog-outage/],
    [['drill', 'run', 'chaos/drills/catalog-outage.yaml', '--report-dir', '/dev/null/reports'], /--report-dir: cannot write to \/dev\/null\/reports\/catalog-outage/],
    [['drill', 'run', '--platform', 'kubernetes', '--faults-only', 'chaos/drills/catalog-outage.yaml', '--report-dir', '/dev/null/reports'], /--report-dir: cannot write to \/dev\/null\/reports/],
  ])('faultline %j', (args, message) => {
    const r = cli(args, { FAULTLINE_STATE_DIR: '/nonexistent-faultline-state' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('report folders', () => {
  it('creates a missing folder, level by level, and returns its absolute path', () => {
    const dir = tempDir('reports-');
    expect(writableReportDir(join(dir, 'a', 'b'))).toBe(join(dir, 'a', 'b'));
    expect(statSync(join(dir, 'a', 'b')).isDirectory()).toBe(true);
  });
  it.each([['/proc/faultline-reports'], ['/dev/null/reports']])('refuses %s with a UsageError naming the flag, at once', (dir) => {
    expect(() => writableReportDir(dir)).toThrow(UsageError);
    expect(() => writableReportDir(dir, '--out')).toThrow(/^--out: cannot write to/);
  });
  it('refuses a file where a folder is wanted', () => {
    const file = join(tempDir('reports-'), 'file');
    writeFileSync(file, '');
    expect(() => writableReportDir(file)).toThrow(/not a folder/);
  });
});
