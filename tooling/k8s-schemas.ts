/**
 * Strict, standalone JSON schemas for kubeconform, generated offline from the Kubernetes OpenAPI v2 spec
 * (api/openapi-spec/swagger.json in the k8s.io/kubernetes module) and from CRD YAML.
 *
 * Hand-written because the well-known generator (instrumenta/openapi2jsonschema, which kubeconform's schema
 * repository is built with) is Python fetched from GitHub, which this machine cannot reach. It follows that
 * tool's Kubernetes rules: IntOrString is string|integer, Quantity is string|number, every object with
 * properties gets additionalProperties:false ("standalone-strict"), optional fields may be null (the API server
 * treats null as unset), apiVersion and kind are pinned by x-kubernetes-group-version-kind. It differs where
 * that tool is known to be wrong: the walk is structural, so a property *named* "properties" or
 * "x-kubernetes-preserve-unknown-fields" (as in JSONSchemaProps) is not mistaken for a keyword; recursive types
 * (CustomResourceDefinition) become local definitions instead of being skipped; null is allowed with an
 * anyOf branch, so oneOf never sees null match twice.
 */

export type JsonSchema = { [key: string]: unknown };

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** kubeconform's file name for a kind, `{kind}{KindSuffix}.json`: the group's first label, lower-cased; core has none. */
export function schemaFileName({ group, version, kind }: GroupVersionKind) {
  const first = group.split('.')[0]!;
  return `${kind}${first ? `-${first}` : ''}-${version}.json`.toLowerCase();
}

/** The folder kubeconform looks in for `-schema-location <root> -kubernetes-version <v> -strict`. */
export function strictSchemaFolder(kubernetesVersion: string) {
  return `v${kubernetesVersion.replace(/^v/, '')}-standalone-strict`;
}

const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);
const apiVersionOf = ({ group, version }: GroupVersionKind) => (group ? `${group}/${version}` : version);

/** Lets a schema also accept null. */
function nullable(schema: JsonSchema): JsonSchema {
  if (Object.keys(schema).length === 0) return schema; // anything already includes null
  const { type } = schema;
  if (typeof type === 'string') return type === 'null' ? schema : { ...schema, type: [type, 'null'] };
  if (Array.isArray(type)) return type.includes('null') ? schema : { ...schema, type: [...type, 'null'] };
  if (Array.isArray(schema.anyOf) && Object.keys(schema).every((k) => k === 'anyOf' || k === 'pattern' || k === 'format')) {
    return schema.anyOf.some((s) => isObject(s) && s.type === 'null') ? schema : { ...schema, anyOf: [...schema.anyOf, { type: 'null' }] };
  }
  return { anyOf: [schema, { type: 'null' }] };
}

const dropped = (key: string) => key === 'description' || key.startsWith('x-kubernetes-') || key === 'example' || key === 'externalDocs';

/**
 * One structural pass over a schema node: strictness, nullability of optional properties, and int-or-string.
 * `resolve` handles `$ref` (inline or point into local definitions); `preserveUnknown` marks CRD subtrees the
 * API server keeps as they are.
 */
function transform(node: unknown, resolve: (ref: string, sibling: JsonSchema) => JsonSchema): JsonSchema {
  if (!isObject(node)) return {};
  if (typeof node.$ref === 'string') return resolve(node.$ref, node);
  const preserveUnknown = node['x-kubernetes-preserve-unknown-fields'] === true;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (dropped(key) || key === 'nullable') continue;
    if (key === 'properties' && isObject(value)) {
      const required = new Set(Array.isArray(node.required) ? (node.required as string[]) : []);
      out.properties = Object.fromEntries(
        Object.entries(value).map(([name, prop]) => {
          const s = transform(prop, resolve);
          return [name, required.has(name) ? s : nullable(s)];
        }),
      );
    } else if ((key === 'items' || key === 'not') && isObject(value)) {
      out[key] = transform(value, resolve);
    } else if (key === 'items' && Array.isArray(value)) {
      out.items = value.map((v) => transform(v, resolve));
    } else if (key === 'additionalProperties' && isObject(value)) {
      out.additionalProperties = transform(value, resolve);
    } else if ((key === 'allOf' || key === 'anyOf' || key === 'oneOf') && Array.isArray(value)) {
      out[key] = value.map((v) => transform(v, resolve));
    } else {
      out[key] = value;
    }
  }
  // Kubernetes' own int-or-string markers: OpenAPI v2 says format int-or-string, CRDs say x-kubernetes-int-or-string.
  if (node.format === 'int-or-string' || (node['x-kubernetes-int-or-string'] === true && !Array.isArray(node.anyOf))) {
    delete out.format;
    delete out.type;
    out.anyOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (node['x-kubernetes-embedded-resource'] === true && isObject(out.properties)) {
    out.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...out.properties };
  }
  // kubectl's strict validation: an object that lists its fields allows no others, unless the server keeps unknown fields there.
  if (isObject(out.properties) && !('additionalProperties' in out) && !preserveUnknown) out.additionalProperties = false;
  return out;
}

/**
 * Builds one self-contained schema: every `$ref` inlined, except a type that contains itself, which goes into
 * the file's own `definitions` and is referenced as `#/definitions/<name>`.
 */
function standalone(root: unknown, definitions: Record<string, unknown>, rootName?: string): JsonSchema {
  const local = new Map<string, JsonSchema>();
  const pending: string[] = [];
  const expand = (node: unknown, stack: string[]): JsonSchema =>
    transform(node, (ref) => {
      const name = ref.replace(/^#\/definitions\//, '');
      if (!(name in definitions)) throw new Error(`unresolved $ref ${ref}`);
      if (stack.includes(name)) {
        if (!local.has(name) && !pending.includes(name)) pending.push(name);
        return { $ref: `#/definitions/${name}` };
      }
      return expand(definitions[name], [...stack, name]);
    });
  const schema = expand(root, rootName ? [rootName] : []);
  while (pending.length) {
    const name = pending.shift()!;
    local.set(name, expand(definitions[name], [name]));
  }
  if (local.size) schema.definitions = Object.fromEntries(local);
  return schema;
}

function pinTypeMeta(schema: JsonSchema, gvk: GroupVersionKind): JsonSchema {
  const properties = isObject(schema.properties) ? schema.properties : {};
  return {
    $schema: 'http://json-schema.org/draft-04/schema#',
    ...schema,
    type: 'object',
    properties: { ...properties, apiVersion: { type: 'string', enum: [apiVersionOf(gvk)] }, kind: { type: 'string', enum: [gvk.kind] } },
    required: [...new Set(['apiVersion', 'kind', ...(Array.isArray(schema.required) ? (schema.required as string[]) : [])])],
    additionalProperties: false,
  };
}

function addUnique(files: Map<string, JsonSchema>, name: string, schema: JsonSchema, from: string) {
  if (files.has(name)) throw new Error(`two schemas map to ${name} (second from ${from})`);
  files.set(name, schema);
}

/** Every kind in a Kubernetes OpenAPI v2 spec, as `{file name → strict standalone schema}`. */
export function kubernetesSchemas(swagger: { definitions?: Record<string, unknown> }): Map<string, JsonSchema> {
  const source = swagger.definitions;
  if (!isObject(source)) throw new Error('not an OpenAPI v2 spec: no definitions');
  const definitions: Record<string, unknown> = {
    ...source,
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    // Like openapi2jsonschema: the API takes a number where a Quantity is due (cpu: 0.5), so numbers pass too.
    'io.k8s.apimachinery.pkg.api.resource.Quantity': { anyOf: [{ type: 'string' }, { type: 'number' }] },
  };
  const files = new Map<string, JsonSchema>();
  for (const [name, def] of Object.entries(source)) {
    if (!isObject(def)) continue;
    const gvks = def['x-kubernetes-group-version-kind'];
    // List-of-every-group pseudo kinds (WatchEvent, DeleteOptions) carry no apiVersion of their own: not manifests.
    if (!Array.isArray(gvks) || gvks.length !== 1 || !isObject(def.properties) || !('apiVersion' in def.properties)) continue;
    const gvk = gvks[0] as GroupVersionKind;
    addUnique(files, schemaFileName(gvk), pinTypeMeta(standalone(def, definitions, name), gvk), name);
  }
  return files;
}

/** The strict ObjectMeta schema, to hold a custom resource's metadata to the same rules as a built-in kind's. */
export function objectMetaSchema(swagger: { definitions?: Record<string, unknown> }): JsonSchema {
  const definitions = swagger.definitions ?? {};
  const name = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
  if (!(name in definitions)) throw new Error('the spec has no ObjectMeta');
  return standalone(definitions[name], definitions, name);
}

/** Each served version of a CustomResourceDefinition (apiextensions.k8s.io/v1) as `{file name → strict schema}`. */
export function crdSchemas(crd: unknown, objectMeta: JsonSchema): Map<string, JsonSchema> {
  if (!isObject(crd) || crd.kind !== 'CustomResourceDefinition' || !isObject(crd.spec)) throw new Error('not a CustomResourceDefinition');
  const { group, names, versions } = crd.spec as { group: string; names: { kind: string }; versions: Array<{ name: string; served?: boolean; schema?: { openAPIV3Schema?: unknown } }> };
  const files = new Map<string, JsonSchema>();
  for (const version of versions) {
    if (version.served === false || !isObject(version.schema?.openAPIV3Schema)) continue;
    const gvk = { group, version: version.name, kind: names.kind };
    const schema = standalone(version.schema.openAPIV3Schema, {});
    const properties = isObject(schema.properties) ? schema.properties : {};
    schema.properties = { ...properties, metadata: objectMeta };
    addUnique(files, schemaFileName(gvk), pinTypeMeta(schema, gvk), `${group}/${version.name} ${names.kind}`);
  }
  if (files.size === 0) throw new Error(`CRD ${names.kind}.${group} has no served version with a schema`);
  return files;
}
