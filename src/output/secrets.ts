// Moved to src/secrets/policy.ts; kept for importers that other work in progress has not switched yet.
export * from '../secrets/policy.js';
