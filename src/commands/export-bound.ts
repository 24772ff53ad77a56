// Moved to src/delivery/export-bound.ts (issue 14); this re-export stays until follow and seal import it from there.
export * from '../delivery/export-bound.js';
