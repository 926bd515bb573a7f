// Nested records as flat rows (dotted keys: rewards.accuracy, wallMs.total), for tables and DataFrames.

export type FlatValue = string | number | boolean | null;
export type Flat = Record<string, FlatValue>;

/** Nested objects flattened to dotted keys; undefined becomes null so every row has the same columns. */
export function flatten(obj: object, prefix = '', out: Flat = {}): Flat {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v as object, key, out);
    else out[key] = v === undefined ? null : Array.isArray(v) ? JSON.stringify(v) : (v as FlatValue);
  }
  return out;
}

/** Rows with the union of all columns (danfo needs one shape), missing cells null. */
export function uniformRows(records: readonly object[]): Flat[] {
  const flat = records.map((r) => flatten(r));
  const columns = [...new Set(flat.flatMap((r) => Object.keys(r)))];
  return flat.map((r) => Object.fromEntries(columns.map((c) => [c, c in r ? r[c] : null])));
}
