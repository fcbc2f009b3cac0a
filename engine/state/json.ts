/** JSON text of a stored value, losing nothing JSON can hold: a bigint as its decimal string, undefined as null. */
export function toJsonText(v: unknown): string {
  return JSON.stringify(v === undefined ? null : v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? 'null';
}
