// What history prints for people (colours, the timeline, a state diff): loaded only for table output, so that
// `--output json|ndjson` loads neither chalk nor the diff library.
export { createColors, shouldUseColor } from '../../output/colors.js';
export { NO_CHANGES, renderDiff } from '../../output/diff.js';
export { renderTimeline } from '../../output/history-text.js';
