#!/usr/bin/env node
/**
 * `npm run build`: compiles every module with tsc into dist/ (the library
 * layout: the PGlite worker, the benches and anything importing Sluice's
 * modules use it), then bundles the command-line entry points over it with
 * esbuild, so that `sluice`, `run-dag` and `npm start` load a few files
 * instead of some 300 (module loading was a third of a command's start-up).
 *
 * The bundle keeps lazy imports lazy: code splitting puts each `await
 * import(...)` target (the runner, the scheduler, each warehouse driver, the
 * AWS operators) in its own chunk under dist/engine/cli/chunks/, loaded only
 * when a command reaches it. Only the small pure-JS libraries a command
 * parses its input with are bundled (BUNDLED below); every other package
 * (native better-sqlite3, PGlite and its WASM, pg, pino and its transports,
 * the AWS SDK) stays external and is loaded from node_modules as before.
 *
 * SLUICE_BUILD_ID, a hash of everything bundled, names this build: caches
 * keyed on Sluice's own code (the checked-DAG cache) use it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'dist');

/** Packages bundled into the CLI: pure JS, needed to parse a command's input, cheaper bundled than as ~200 files. */
const BUNDLED = new Set(['commander', 'yaml', 'zod', 'liquidjs', 'croner', 'fastest-levenshtein']);

/** Every bare import outside BUNDLED stays an import of node_modules (node: builtins are external anyway). */
const externalPackages = {
  name: 'external-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      return BUNDLED.has(name) ? undefined : { path: args.path, external: true };
    });
  },
};

/**
 * zod's error messages in 40-odd languages: Sluice writes its messages in English and never switches zod's locale,
 * so the bundle carries English only (a third of zod's size, parsed by every command).
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

function tsc() {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

/** The CLI bundle. `outdir` is dist/ by default (tests build one elsewhere). */
export async function bundleCli(outdir = OUT) {
  const chunks = path.join(outdir, 'engine', 'cli', 'chunks');
  fs.rmSync(chunks, { recursive: true, force: true });
  const options = {
    absWorkingDir: ROOT,
    entryPoints: [
      // bin `sluice`: engine/cli/bin.ts runs main(); main.ts itself is shared by the other entries
      { in: 'engine/cli/bin.ts', out: 'engine/cli/main' },
      { in: 'engine/cli/run-dag.ts', out: 'engine/cli/run-dag' },
      { in: 'engine/cli/start.ts', out: 'engine/cli/start' },
      // The PGlite warehouse starts its worker from `new URL('./pglite-worker.js', import.meta.url)`: the driver's code
      // lands in chunks/, so its worker is built there too.
      { in: 'engine/connections/warehouse/pglite/pglite-worker.ts', out: 'engine/cli/chunks/pglite-worker' },
    ],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'engine/cli/chunks/[name]-[hash]',
    sourcemap: 'linked',
    // Bundled CommonJS packages (yaml, commander) call require() for node builtins.
    banner: {
      js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
    },
    plugins: [externalPackages, zodEnglishOnly],
    // Whitespace and syntax only: names are kept, for stack traces and anything reading a class's name.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'warning',
  };
  // The build id: a hash of every input, computed by a first pass, then defined for the real one.
  const probe = await esbuild.build({ ...options, write: false, define: { SLUICE_BUILD_ID: '"probe"' } });
  const hash = createHash('sha256');
  for (const input of Object.keys(probe.metafile.inputs).sort()) {
    hash.update(input).update('\0');
    hash.update(fs.readFileSync(path.join(ROOT, input))).update('\0');
  }
  const buildId = hash.digest('hex').slice(0, 24);
  await esbuild.build({ ...options, define: { SLUICE_BUILD_ID: JSON.stringify(buildId) } });
  return buildId;
}

// `node scripts/build.mjs [--bundle-only] [--outdir DIR]`: DIR (inside the package, so that node_modules resolve) is
// where the tests build a bundle of their own.
if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--outdir');
  const outdir = at >= 0 ? path.resolve(args[at + 1]) : OUT;
  if (!args.includes('--bundle-only')) tsc();
  const id = await bundleCli(outdir);
  process.stdout.write(`bundled the CLI into ${path.relative(ROOT, path.join(outdir, 'engine', 'cli'))} (build ${id})\n`);
}
