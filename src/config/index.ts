/**
 * The configuration system (DESIGN.md rule 4): one zod schema gives the types, validation,
 * defaults, the JSON Schema and the reference docs. Entry points for the CLI and the runtime.
 */
export { loadConfigFile, parseConfigText, validateConfig, type ConfigResult } from './load.ts';
export { formatProblems, type Problem } from './problems.ts';
export { configJsonSchema } from './json-schema.ts';
export { renderConfigDocs } from './docs.ts';
export { parseDuration, parseHostPort } from './values.ts';
export {
  ConfigSchema,
  type Config, type ConfigInput, type ListenerConfig, type RouteConfig, type PoolConfig,
  type ServerConfig, type MatchConfig, type ValueMatch,
} from './schema.ts';
