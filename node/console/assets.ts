import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TongxingError } from '../../federation/errors.js';
import { consoleAssetsBytesMax } from '../limits.js';

// The operator console's built files (console/, built by Vite into
// dist/console/ with a .br and .gz beside each compressible file), read into
// memory once, on the first request for them: every answer is a lookup, and a
// file cannot change under a page that is loading. Served by the HTTP API under
// /console/ (http.ts), so the console needs no server of its own and no request
// leaves the node.

export interface ConsoleAsset {
  readonly contentType: string;
  readonly identity: Buffer;
  readonly brotli?: Buffer;
  readonly gzip?: Buffer;
  /** Vite names the files under assets/ by their content hash: they never change, so a browser may keep them. */
  readonly immutable: boolean;
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** dist/console under the project root (from node/ or dist/node/), where `make build` puts the console. */
export function defaultConsoleDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = resolve(dir, '..');
  return join(dir, 'dist', 'console');
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    return entry.isDirectory() ? filesUnder(path) : entry.isFile() ? [path] : [];
  });
}

/**
 * The console's files by URL path below /console/ ('index.html', 'assets/index-3f2a.js').
 * Throws a TongxingError naming the fix when the console was not built, or when the folder
 * is larger than consoleAssetsBytesMax.
 */
export function readConsoleAssets(directory: string): ReadonlyMap<string, ConsoleAsset> {
  if (!existsSync(join(directory, 'index.html'))) throw new TongxingError(`the console is not built (no ${join(directory, 'index.html')}): run \`make build\``);
  const paths = filesUnder(directory).filter((p) => !p.endsWith('.br') && !p.endsWith('.gz'));
  const bytes = filesUnder(directory).reduce((sum, p) => sum + statSync(p).size, 0);
  if (bytes > consoleAssetsBytesMax) throw new TongxingError(`${directory} holds ${bytes} bytes, more than consoleAssetsBytesMax (${consoleAssetsBytesMax}): it is not the console's build`);
  const assets = new Map<string, ConsoleAsset>();
  for (const path of paths) {
    const name = relative(directory, path).split(sep).join('/');
    const sibling = (suffix: string) => (existsSync(path + suffix) ? readFileSync(path + suffix) : undefined);
    assets.set(name, {
      contentType: contentTypes[extname(path)] ?? 'application/octet-stream',
      identity: readFileSync(path),
      brotli: sibling('.br'),
      gzip: sibling('.gz'),
      immutable: name.startsWith('assets/'),
    });
  }
  return assets;
}

/** What the console's pages may load and call: this node only (scripts and styles are files; Element Plus sets element styles). */
export const consoleContentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The encoding to answer with, by the request's Accept-Encoding (brotli first), among those the asset has. */
export function chooseEncoding(asset: ConsoleAsset, acceptEncoding: string | undefined): 'br' | 'gzip' | 'identity' {
  const accepted = new Set((acceptEncoding ?? '').split(',').map((part) => part.split(';')[0]!.trim().toLowerCase()));
  if (asset.brotli && accepted.has('br')) return 'br';
  if (asset.gzip && accepted.has('gzip')) return 'gzip';
  return 'identity';
}
