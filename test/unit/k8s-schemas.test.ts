// The schema generator's Kubernetes rules, on a miniature OpenAPI spec and CRD: kubeconform's file names, strictness,
// int-or-string, nullable optional fields, recursive types, and the CRD extensions.
import { describe, expect, it } from 'vitest';
import { crdSchemas, kubernetesSchemas, objectMetaSchema, schemaFileName, strictSchemaFolder } from '../../tooling/k8s-schemas.ts';

const swagger = {
  definitions: {
    'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': { type: 'object', properties: { name: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' } } } },
    'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { type: 'string', format: 'int-or-string' },
    'io.k8s.apimachinery.pkg.api.resource.Quantity': { type: 'string' },
    'io.k8s.api.apps.v1.WidgetSpec': {
      type: 'object',
      required: ['replicas'],
      properties: {
        replicas: { type: 'integer', format: 'int32' },
        port: { $ref: '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString', description: 'a port' },
        memory: { $ref: '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity' },
        child: { $ref: '#/definitions/io.k8s.api.apps.v1.Node' },
      },
    },
    'io.k8s.api.apps.v1.Node': { type: 'object', properties: { next: { $ref: '#/definitions/io.k8s.api.apps.v1.Node' } } },
    'io.k8s.api.apps.v1.Widget': {
      type: 'object',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
        spec: { $ref: '#/definitions/io.k8s.api.apps.v1.WidgetSpec' },
      },
      'x-kubernetes-group-version-kind': [{ group: 'apps', version: 'v1', kind: 'Widget' }],
    },
    'io.k8s.api.core.v1.Thing': { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' } }, 'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Thing' }] },
    'io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent': { type: 'object', properties: { type: { type: 'string' } }, 'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'WatchEvent' }, { group: 'apps', version: 'v1', kind: 'WatchEvent' }] },
  },
};

describe('kubernetesSchemas', () => {
  const files = kubernetesSchemas(swagger);
  const widget = files.get('widget-apps-v1.json') as any;

  it("names files as kubeconform looks them up: {kind}-{group's first label}-{version}, core without a group", () => {
    expect([...files.keys()].sort()).toEqual(['thing-v1.json', 'widget-apps-v1.json']);
    expect(schemaFileName({ group: 'networking.k8s.io', version: 'v1', kind: 'NetworkPolicy' })).toBe('networkpolicy-networking-v1.json');
    expect(schemaFileName({ group: 'monitoring.coreos.com', version: 'v1', kind: 'ServiceMonitor' })).toBe('servicemonitor-monitoring-v1.json');
    expect(strictSchemaFolder('1.36.3')).toBe('v1.36.3-standalone-strict');
  });
  it('pins apiVersion and kind, and forbids unknown fields on every object with properties', () => {
    expect(widget.properties.apiVersion).toEqual({ type: 'string', enum: ['apps/v1'] });
    expect(widget.properties.kind).toEqual({ type: 'string', enum: ['Widget'] });
    expect(widget.additionalProperties).toBe(false);
    expect(widget.properties.spec.additionalProperties).toBe(false);
    expect(widget.properties.metadata.additionalProperties).toBe(false);
    // a map keeps its own additionalProperties
    expect(widget.properties.metadata.properties.labels.additionalProperties).toEqual({ type: 'string' });
  });
  it('inlines references, with int-or-string as string|integer and Quantity as string|number', () => {
    expect(JSON.stringify(widget)).not.toMatch(/io\.k8s\.apimachinery/);
    expect(widget.properties.spec.properties.port).toEqual({ anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] });
    expect(widget.properties.spec.properties.memory).toEqual({ anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] });
  });
  it('lets optional fields be null (the API server treats null as unset), but not required ones', () => {
    expect(widget.properties.spec.properties.replicas).toEqual({ type: 'integer', format: 'int32' });
    expect(widget.properties.metadata.properties.name).toEqual({ type: ['string', 'null'] });
  });
  it('keeps a recursive type as a local definition instead of expanding it forever', () => {
    expect(widget.definitions['io.k8s.api.apps.v1.Node'].properties.next).toEqual({ anyOf: [{ $ref: '#/definitions/io.k8s.api.apps.v1.Node' }, { type: 'null' }] });
    expect(widget.properties.spec.properties.child.type).toEqual(['object', 'null']);
  });
  it('skips list-of-every-group pseudo kinds (WatchEvent)', () => {
    expect([...files.keys()].some((f) => f.startsWith('watchevent'))).toBe(false);
  });
});

describe('crdSchemas', () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    spec: {
      group: 'monitoring.coreos.com',
      names: { kind: 'ServiceMonitor' },
      versions: [
        {
          name: 'v1',
          served: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: {
                  type: 'object',
                  required: ['selector'],
                  properties: {
                    selector: { type: 'object', properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } } } },
                    targetPort: { anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true },
                    bare: { 'x-kubernetes-int-or-string': true },
                    raw: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'string' } } },
                    // a property that is *named* like a keyword is still just a property
                    properties: { type: 'object', properties: { 'x-kubernetes-preserve-unknown-fields': { type: 'boolean' } } },
                    maybe: { type: 'string', nullable: true },
                  },
                },
              },
            },
          },
        },
        { name: 'v1alpha1', served: false, schema: { openAPIV3Schema: { type: 'object' } } },
      ],
    },
  };
  const files = crdSchemas(crd, objectMetaSchema(swagger));
  const sm = files.get('servicemonitor-monitoring-v1.json') as any;
  const spec = sm.properties.spec;

  it('writes one strict file per served version, with metadata held to ObjectMeta', () => {
    expect([...files.keys()]).toEqual(['servicemonitor-monitoring-v1.json']);
    expect(sm.properties.apiVersion.enum).toEqual(['monitoring.coreos.com/v1']);
    expect(sm.properties.metadata.additionalProperties).toBe(false);
    expect(spec.additionalProperties).toBe(false);
    expect(spec.properties.selector.additionalProperties).toBe(false);
  });
  it('honours x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields and nullable', () => {
    expect(spec.properties.targetPort).toEqual({ anyOf: [{ type: 'integer' }, { type: 'string' }, { type: 'null' }] });
    expect(spec.properties.bare).toEqual({ anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] });
    expect(spec.properties.raw.additionalProperties).toBeUndefined();
    expect(spec.properties.properties.additionalProperties).toBe(false);
    expect(spec.properties.properties.properties['x-kubernetes-preserve-unknown-fields']).toEqual({ type: ['boolean', 'null'] });
    expect(spec.properties.maybe).toEqual({ type: ['string', 'null'] });
  });
  it('refuses what is not a CRD', () => {
    expect(() => crdSchemas({ kind: 'ConfigMap' }, {})).toThrow(/not a CustomResourceDefinition/);
  });
});
