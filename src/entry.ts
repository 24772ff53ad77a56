// Moved to src/domain.ts (issue 14); this re-export stays until every importer has switched (see /work/notes/moves.md).
export * from './domain.js';
