import { parseAllDocuments } from 'yaml';

/** One rendered Kubernetes object, with the template it came from when Helm said so (`# Source: …`). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  source?: string;
  object: Record<string, unknown>;
}

export const manifestId = (m: Pick<Manifest, 'apiVersion' | 'kind' | 'name'>) => `${m.apiVersion} ${m.kind} ${m.name}`;

/** Splits a multi-document YAML stream (helm template output) into objects. Empty documents are dropped; YAML errors and non-objects throw. */
export function splitManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    // Helm's `# Source:` line lands on the document or on its first node, depending on blank lines.
    const comment = `${doc.commentBefore ?? ''}\n${(doc.contents as { commentBefore?: string } | null)?.commentBefore ?? ''}`;
    const where = /Source: (\S+)/.exec(comment)?.[1];
    if (doc.errors.length) throw new Error(`${where ?? 'a rendered document'} is not valid YAML: ${doc.errors[0]!.message}`);
    const object: unknown = doc.toJS();
    if (object === null || object === undefined) continue;
    if (typeof object !== 'object' || Array.isArray(object)) throw new Error(`${where ?? 'a rendered document'} is not a Kubernetes object`);
    const o = object as Record<string, unknown>;
    const metadata = (o.metadata ?? {}) as { name?: unknown; namespace?: unknown };
    out.push({
      apiVersion: String(o.apiVersion ?? ''),
      kind: String(o.kind ?? ''),
      name: String(metadata.name ?? ''),
      ...(typeof metadata.namespace === 'string' ? { namespace: metadata.namespace } : {}),
      ...(where ? { source: where } : {}),
      object: o,
    });
  }
  return out;
}
