/** Compile-time exhaustiveness for discriminated unions; throws if a new variant reaches a stale switch at run time. */
export function assertNever(value: never, context = 'value'): never {
  throw new Error(`Unexpected ${context}: ${JSON.stringify(value)}`);
}
