// One way to turn zod failures into the readable errors the toolkit promises (what, field, why).
import type { z } from 'zod';

/** "field.path: message; other: message" for a zod error. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** schema.parse(raw), or an Error "invalid <what>: field: why; …". */
export function parseWith<S extends z.ZodTypeAny>(schema: S, raw: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Error(`invalid ${what}: ${formatIssues(r.error)}`);
  return r.data;
}
