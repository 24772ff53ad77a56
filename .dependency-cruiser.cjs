/**
 * The layering of src/, checked by `npm run lint` (docs/ARCHITECTURE.md draws it):
 *   bin -> main -> cli -> commands -> queries -> db;  commands -> output | sinks | delivery | secrets | config
 * A rule names what a room must not reach; `domain.ts`, `errors.ts`, `io.ts` and the other leaves are open to all.
 * That --help and --version load no heavy dependency is checked by scripts/check-startup.mjs (esbuild's graph).
 */
const ROOMS = 'commands|queries|db|output|sinks|delivery|config|secrets|demo|seal';
/**
 * Text and file helpers any room may use (they import no room). They sit in output/ for now; a room of their own is
 * the next step (docs/ARCHITECTURE.md, "Not yet").
 */
const SHARED_HELPERS = ['^src/output/(terminal-text|stable-json|private-file)\\.ts$'];
const notInto = (from, rooms, comment, extra = {}) => ({
  name: `${from}-not-into-${rooms.split('|').join('-')}`,
  comment,
  severity: 'error',
  from: { path: `^src/${from}/` },
  to: { path: `^src/(${rooms})/`, pathNot: SHARED_HELPERS, ...extra },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle, type-only imports included: a cycle is two modules that are really one, or a layer that leaks.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'only-cli-registers-commands',
      comment: 'A command is reached from cli.ts only: nothing below the command line may depend on one.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/cli\\.ts$', '^src/commands/'] },
      to: { path: '^src/commands/' },
    },
    {
      name: 'commands-do-not-import-each-other',
      comment: 'What two commands share lives below them (flags/, session.ts, program.ts, or a lower room).',
      severity: 'error',
      from: { path: '^src/commands/([^/]+)/' },
      to: { path: '^src/commands/[^/]+/', pathNot: ['^src/commands/$1/', '^src/commands/flags/'] },
    },
    {
      name: 'main-only-through-cli',
      comment: 'main.ts runs the program and maps errors to exit codes; what a command does is reached through cli.ts.',
      severity: 'error',
      from: { path: '^src/main\\.ts$' },
      to: { path: `^src/(${ROOMS.replace('secrets|', '')})/` },
    },
    notInto('queries', 'commands|output|sinks|delivery|demo', 'A query module builds and runs SQL and returns rows: it never prints, ships or decides.'),
    notInto('db', 'commands|queries|output|sinks|delivery|secrets', 'db/ is connections, sessions and the mapping; it knows no query module and no command (the demo database is started from session.ts).'),
    notInto('output', 'commands|queries|sinks|delivery', 'A formatter never queries: it turns data it is given into text.'),
    notInto('output', 'db', 'A formatter may read the table mapping\'s type (which columns hold text), never run anything.', { dependencyTypesNot: ['type-only'] }),
    notInto('sinks', 'commands|queries|db|output|delivery|demo', 'A sink knows its protocol and nothing about PostgreSQL.'),
    notInto('delivery', 'commands|db|output|demo', 'Delivery (batching, retries, checkpoints) is shared by every sink and knows no connection.'),
    notInto('delivery', 'queries', 'Delivery may name a query module\'s types, never run its queries.', { dependencyTypesNot: ['type-only'] }),
    notInto('config', 'commands|queries|db|output|sinks|delivery|demo', 'config/ resolves flags, environment and files into values; the layers above read it, never the reverse.'),
    notInto('secrets', 'commands|queries|db|output|sinks|delivery|demo', 'The masking policy is domain logic: every layer that shows or ships an entry uses it; it uses none of them.'),
    notInto('demo', 'commands|queries|output|sinks|delivery', 'The demo database seeds a table; it does not run commands or queries.'),
    {
      name: 'domain-is-a-leaf',
      comment: 'domain.ts holds the shared types; it imports nothing of the tool.',
      severity: 'error',
      from: { path: '^src/domain\\.ts$' },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    exclude: { path: '^(dist|dist-bench|node_modules)/' },
  },
};
