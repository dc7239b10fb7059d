import { z } from 'zod';
import { drill } from './schema.ts';

/** The drill file's JSON Schema, for editors (yaml-language-server) and other tools; generated from the zod schema that validates. */
export function drillJsonSchema() {
  return {
    ...z.toJSONSchema(drill, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://faultline.dev/schemas/drill.schema.json',
    title: 'faultline drill',
  };
}

export const drillJsonSchemaText = () => `${JSON.stringify(drillJsonSchema(), null, 2)}\n`;
