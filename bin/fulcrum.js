#!/usr/bin/env node
// Fulcrum CLI entry. In a checkout the TypeScript sources run directly on Node 24 (type stripping);
// a published package ships the compiled dist/ instead.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const entry = existsSync(src) ? src : fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
