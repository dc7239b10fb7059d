// Hostile input everywhere a user can type, as property-based tests (fast-check): drill files, CLI flags and --set,
// service and controller settings, the supervisor's fault requests and the Kubernetes scope. Each parser either
// accepts or refuses with its own error naming the field; none throws anything else, and none hangs (each property
// runs under the test's time-out).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError, baseConfig, loadConfig, redisSettings, withRedis } from '@faultline/common';
import { UsageError } from '../../chaos/src/core/errors.ts';
import { DrillFileError, maxDrillBytes, parseDrill } from '../../chaos/src/drill/file.ts';
import { edgeFaultRequest, pauseFaultRequest, trackedFaultRequest } from '../../chaos/src/platforms/local/agent.ts';
import { runtimeOptions } from '../../chaos/src/platforms/local/options.ts';
import { kubernetesScope, releaseOf } from '../../chaos/src/platforms/kubernetes/command.ts';
import { controllerConfig } from '../../chaos/src/platforms/kubernetes/config.ts';
import { drillsDir } from '../../chaos/src/core/paths.ts';

const runs = { numRuns: 300, seed: 20261201 };

/** Accepts, or refuses with `kind` and a message matching `names`; anything else (a crash) fails the property. */
function acceptsOrRefuses(parse: () => unknown, kind: new (...args: never[]) => Error, names?: RegExp) {
  try {
    parse();
  } catch (err) {
    if (!(err instanceof kind)) throw new Error(`threw ${(err as Error).name}: ${(err as Error).message}`);
    if (names) expect((err as Error).message).toMatch(names);
  }
}

const validDrill = parseYaml(readFileSync(join(drillsDir, 'catalog-outage.yaml'), 'utf8')) as Record<string, unknown>;

/** A copy of `value` with the node at a random path replaced by `replacement`. */
function replaceAt(value: unknown, path: number[], replacement: unknown): unknown {
  if (path.length === 0 || value === null || typeof value !== 'object') return replacement;
  const entries = Object.entries(value);
  if (entries.length === 0) return replacement;
  const [key, child] = entries[path[0]! % entries.length]!;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...value };
  (copy as Record<string, unknown>)[key] = replaceAt(child, path.slice(1), replacement);
  return copy;
}

describe('drill files', () => {
  it('any text is a drill or a DrillFileError that names the file and a line', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 }), fc.constantFrom('', '---', '~', '[]', '{', '!!js/function "x"', '&a [*a]')), (text) =>
        acceptsOrRefuses(() => parseDrill(text, 'fuzz.yaml'), DrillFileError, /^fuzz\.yaml(:\d+)?: /m),
      ),
      runs,
    );
  });

  it('a real drill with any node replaced by any value is a drill or a DrillFileError naming a line and field', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(20), { maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), (path, replacement) =>
        acceptsOrRefuses(() => parseDrill(stringify(replaceAt(validDrill, path, replacement)), 'mutated.yaml'), DrillFileError, /^mutated\.yaml:\d+: /m),
      ),
      runs,
    );
  });

  it('durations and numbers at and past their limits are refused by name, never crash', () => {
    const durations = fc.oneof(fc.constantFrom('0s', '0ms', '1ms', '10m', '601s', '1h', '99999999h', '1e9s', '-5s', 's', '1.5.5s', 'NaN', 'Infinity'), fc.double().map(String), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(durations, fc.oneof(fc.double(), fc.bigInt().map(String), fc.constant(1e400)), (duration, rate) => {
        const drill = structuredClone(validDrill) as { method: Array<Record<string, Record<string, unknown>>> };
        drill.method[0] = { load: { script: 'orders.js', rate, duration } };
        acceptsOrRefuses(() => parseDrill(stringify(drill), 'limits.yaml'), DrillFileError, /^limits\.yaml:\d+: method\.0\.load/m);
      }),
      runs,
    );
  });

  it.each([
    ['an alias bomb', ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n'), /alias/i],
    ['nesting 30,000 deep', '['.repeat(30_000) + ']'.repeat(30_000), /call stack|nest/i],
    ['a file over the size cap', `name: x\n# ${'x'.repeat(maxDrillBytes)}`, /at most|64 KiB/],
    ['50,000 keys', Array.from({ length: 50_000 }, (_, i) => `k${i}: ${i}`).join('\n'), /64 KiB/],
    ['a tag for code', 'name: !!js/function "function () {}"', /drill|tag|name/i],
  ])('%s is refused quickly with a DrillFileError', (_what, text, message) => {
    expect(() => parseDrill(text, 'hostile.yaml')).toThrow(DrillFileError);
    expect(() => parseDrill(text, 'hostile.yaml')).toThrow(message);
  });
});

describe('runtime flags and --set', () => {
  it('any --port-base, --replicas, --set or topology is taken or refused with exit 2 naming the flag', () => {
    fc.assert(
      fc.property(
        fc.record({ portBase: fc.oneof(fc.string({ maxLength: 8 }), fc.integer().map(String)), replicas: fc.string({ maxLength: 30 }), set: fc.array(fc.string({ maxLength: 40 }), { maxLength: 3 }), topology: fc.string({ maxLength: 6 }) }, { requiredKeys: [] }),
        (flags) => acceptsOrRefuses(() => runtimeOptions(flags, {}), UsageError, /--port-base|--replicas|--set|--topology/),
      ),
      runs,
    );
  });

  it('any environment setting is taken or refused naming the variable', () => {
    fc.assert(
      fc.property(fc.record({ FAULTLINE_PORT_BASE: fc.string({ maxLength: 10 }), FAULTLINE_RESILIENCE: fc.string({ maxLength: 5 }), FAULTLINE_TOPOLOGY: fc.string({ maxLength: 5 }) }, { requiredKeys: [] }), (env) =>
        acceptsOrRefuses(() => runtimeOptions({}, env), UsageError, /FAULTLINE_/),
      ),
      runs,
    );
  });
});

describe('service settings', () => {
  const settings = baseConfig.extend(redisSettings);
  const schema = withRedis(settings);
  const names = Object.keys(settings.shape);
  const validEnv = { PORT: '8080', REDIS_URL: 'redis://127.0.0.1:6379' };
  it('starts from a valid environment', () => expect(loadConfig(schema, validEnv).REDIS_URL).toBe(validEnv.REDIS_URL));
  it('any value of any setting is taken or a ConfigError naming that setting', () => {
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.oneof(fc.string({ maxLength: 40 }), fc.double().map(String), fc.constantFrom('', ' ', '-1', '1e309', '0x10', 'redis://', 'true')), (name, value) =>
        acceptsOrRefuses(() => loadConfig(schema, { ...validEnv, [name]: value }), ConfigError, new RegExp(`${name}=`)),
      ),
      runs,
    );
  });
});

describe("the supervisor's fault requests", () => {
  const schemas = { edge: edgeFaultRequest, tracked: trackedFaultRequest, pause: pauseFaultRequest };
  it('any JSON body is a request or a list of issues with their fields, never a throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(schemas) as Array<keyof typeof schemas>)), fc.jsonValue({ maxDepth: 4 }), fc.constantFrom('network-partition', 'latency', 'flood', 'pod-kill', 'pause', 'meltdown'), (which, body, kind) => {
        const withKind = body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...body, kind } : body;
        const parsed = schemas[which].safeParse(withKind);
        if (!parsed.success) expect(parsed.error.issues.length).toBeGreaterThan(0);
      }),
      runs,
    );
  });
});

describe('Kubernetes scope and controller settings', () => {
  it('any namespace, release or allowed list is taken or refused with exit 2 naming it', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), fc.string({ maxLength: 70 }), fc.string({ maxLength: 70 }), (namespace, release, allowed) => {
        acceptsOrRefuses(() => kubernetesScope({ namespace }, { FAULTLINE_ALLOWED_NAMESPACES: allowed }), UsageError, /--namespace|FAULTLINE_ALLOWED_NAMESPACES/);
        acceptsOrRefuses(() => releaseOf({ release }, {}), UsageError, /--release/);
      }),
      runs,
    );
  });

  it("any value of the controller's settings is taken or a ConfigError naming the variable", () => {
    const names = ['FAULTLINE_NAMESPACE', 'FAULTLINE_RELEASE', 'FAULTLINE_ALLOWED_NAMESPACES', 'FAULTLINE_RECONCILE_INTERVAL', 'FAULTLINE_K6_IMAGE', 'FAULTLINE_GATEWAY_URL', 'GRAFANA_URL', 'PORT', 'LOG_LEVEL'];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.string({ maxLength: 80 }), (name, value) =>
        acceptsOrRefuses(() => controllerConfig({ FAULTLINE_NAMESPACE: 'faultline', FAULTLINE_RELEASE: 'faultline', [name]: value }), ConfigError, new RegExp(name)),
      ),
      runs,
    );
  });
});
