// Lint rules, and the house rules of DESIGN/README's architecture section as
// import boundaries: a newcomer learns the layering from the linter.
//
//   cli, schedule -> run -> (dag, state, template, connections) -> interfaces, errors
//   cli, web -> render (charts, escaping shared by reports and pages)
//   state/index.ts is the state API; an implementation (state/sqlite/, state/postgres/) is opened only by the composition root
//   operators -> the operator kit (engine/operator.ts), interfaces, errors; never a driver
//   nothing under engine/ imports operators/, except the composition root (engine/cli/app.ts)
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** A no-restricted-imports rule from [pattern, why] pairs. */
function forbid(...rules) {
  return {
    'no-restricted-imports': [
      'error',
      { patterns: rules.map(([group, message]) => ({ group: Array.isArray(group) ? group : [group], message })) },
    ],
  };
}

const OPERATORS = ['**/operators/*', '**/operators/**'];
const NOT_OPERATORS = [
  OPERATORS,
  'engine/ finds operators through the registry; only the composition root (engine/cli/app.ts) imports operators/',
];
const DRIVERS = [
  ['pg', 'pg-copy-streams', '@electric-sql/pglite', '@electric-sql/pglite/*', 'better-sqlite3'],
  'drivers live in engine/connections/ and engine/state/: reach them through the Warehouse or state interfaces',
];
// Patterns match the import text (relative paths), so they name folders, not engine/... paths.
const STATE_IMPL = [
  ['**/state/sqlite/*', '**/state/sqlite/**', '**/state/postgres/*', '**/state/postgres/**'],
  'use the state interfaces (engine/state/index.ts); only the composition root (engine/cli/app.ts) opens an implementation',
];
const UPPER = (layer, above) => [
  above.flatMap((d) => [`**/${d}/*`, `**/${d}/**`]),
  `${layer} is below ${above.join(', ')}: dependencies point down`,
];

export default tseslint.config(
  { ignores: ['dist/', '.bench-dist/', 'node_modules/', '.sluice/', 'tmp/', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // hot loops assign ahead on purpose (the byte-level JSON encoder)
      'no-useless-assignment': 'off',
    },
  },
  // The layering of engine/.
  {
    files: ['engine/interfaces.ts', 'engine/errors.ts'],
    rules: forbid(
      UPPER('interfaces and errors', ['cli', 'schedule', 'run', 'dag', 'state', 'template', 'connections']),
      NOT_OPERATORS,
    ),
  },
  { files: ['engine/state/**'], rules: forbid(UPPER('this folder', ['cli', 'schedule', 'run']), NOT_OPERATORS) },
  {
    files: ['engine/dag/**', 'engine/template/**', 'engine/connections/**'],
    rules: forbid(UPPER('this folder', ['cli', 'schedule', 'run']), NOT_OPERATORS, STATE_IMPL),
  },
  { files: ['engine/run/**'], rules: forbid(UPPER('run/', ['cli', 'schedule']), NOT_OPERATORS, STATE_IMPL) },
  // Alerts are sent by the run loop: below run/, beside dag/ and state/.
  { files: ['engine/alerts/**'], rules: forbid(UPPER('alerts/', ['cli', 'schedule', 'run']), NOT_OPERATORS, STATE_IMPL) },
  { files: ['engine/schedule/**'], rules: forbid(UPPER('schedule/', ['cli']), NOT_OPERATORS, STATE_IMPL) },
  { files: ['engine/cli/**'], ignores: ['engine/cli/app.ts'], rules: forbid(NOT_OPERATORS, STATE_IMPL) },
  // The web server is a front door like the CLI, beside it: the state through its interfaces, actions through run/runs.ts.
  { files: ['engine/web/**'], rules: forbid(UPPER('web/', ['cli']), NOT_OPERATORS, STATE_IMPL) },
  // Charts and escaping shared by the CLI's reports and the web UI: below both.
  { files: ['engine/render/**'], rules: forbid(UPPER('render/', ['cli', 'web', 'schedule', 'run']), NOT_OPERATORS, STATE_IMPL) },
  {
    files: ['engine/*.ts'],
    ignores: ['engine/interfaces.ts', 'engine/errors.ts'],
    rules: forbid(UPPER('engine/*.ts', ['cli', 'schedule', 'run']), NOT_OPERATORS, STATE_IMPL),
  },
  // Operators: the kit, interfaces and errors; drivers only through connections.
  {
    files: ['operators/**'],
    rules: forbid(DRIVERS, [
      ['**/engine/state/**', '**/engine/run/**', '**/engine/cli/**', '**/engine/schedule/**'],
      'operators see the engine through TaskContext only',
    ]),
  },
  // Tests may reach anywhere; mocha globals.
  {
    files: ['test/**', 'bench/**'],
    rules: { '@typescript-eslint/no-unused-expressions': 'off', 'no-regex-spaces': 'off', 'no-control-regex': 'off' },
  },
);
