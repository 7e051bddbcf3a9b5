/**
 * Walks the zod config schema by path (object keys, array items), looking through optional,
 * default, prefault and pipe wrappers. Used to name the keys allowed where an unknown key was found.
 */
import type { z } from 'zod';
import type { PathSegment } from './problems.ts';
import { ConfigSchema } from './schema.ts';

type AnyDef = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType; options?: z.ZodType[] };
const defOf = (s: z.ZodType): AnyDef => (s as unknown as { _zod: { def: AnyDef } })._zod.def;

/** Strips wrappers until an object, array or union (or a leaf) is reached. */
function unwrap(s: z.ZodType): z.ZodType {
  for (let i = 0; i < 32; i++) {
    const d = defOf(s);
    if (d.innerType !== undefined) s = d.innerType;
    else if (d.type === 'pipe' && d.in !== undefined) s = d.in;
    else return s;
  }
  return s;
}

function step(s: z.ZodType, seg: PathSegment): z.ZodType | undefined {
  const u = unwrap(s);
  const d = defOf(u);
  if (d.type === 'union' && d.options) {
    for (const o of d.options) { const r = step(o, seg); if (r !== undefined) return r; }
    return undefined;
  }
  if (typeof seg === 'number') return d.type === 'array' ? d.element : undefined;
  return d.type === 'object' && d.shape && Object.hasOwn(d.shape, seg) ? d.shape[seg] : undefined;
}

/** Keys allowed in the object at `path` of the config, or undefined when `path` names no object. */
export function knownKeysAt(path: readonly PathSegment[], root: z.ZodType = ConfigSchema): string[] | undefined {
  let s: z.ZodType | undefined = root;
  for (const seg of path) {
    s = step(s, seg);
    if (s === undefined) return undefined;
  }
  const d = defOf(unwrap(s));
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}
