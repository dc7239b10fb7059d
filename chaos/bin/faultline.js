#!/usr/bin/env node
// Runs the TypeScript CLI on Node's built-in type stripping (Node 24, pinned by the project).
await import('../src/cli.ts');
