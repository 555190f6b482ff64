/**
 * Compile-time check (run by `npm run typecheck`): the napi-generated declarations of the built
 * binding fit the interface the TypeScript side is written against. If the binding changes shape,
 * this file stops compiling.
 */
import type * as GeneratedBinding from '../native/index.cjs';
import type { NativeBinding } from '../src/native.js';

/** Assignability check only; never called. */
export function generatedBindingFits(generated: typeof GeneratedBinding): NativeBinding {
  return generated;
}
