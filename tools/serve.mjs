#!/usr/bin/env node
// serve.mjs — serves the BUILT studio (`npm start`), with node's http only. `tools/build --web`
// (Vite, web/vite.config.js) writes it to build/web/:
//
//   /index.html, /sw.js          the page and its service worker (no-cache: always revalidated)
//   /assets/*                    hashed JS and CSS (cached for a year: a new build renames them)
//   /wasm/loom.mjs|wasm          the engine, copied from build/wasm-release
//   /workflows/index.json        [{file, yaml}] of the shipped workflows (workflowIndex below)
//   /models/default.yaml         the shipped model pool; /csp.json its connect origins
//
// Every answer is cross-origin isolated (COOP/COEP) under the CSP of web/src/csp.js, whose
// connect-src is 'self' plus the origins in build/web/csp.json. `npm run dev` (Vite's dev server)
// serves the sources instead, with the same headers.
import { createServer } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCsp, SECURITY_HEADERS } from '../web/src/csp.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.yaml': 'text/yaml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const NO_CACHE = 'no-cache';
const IMMUTABLE = 'public, max-age=31536000, immutable';

/// The shipped workflows as [{file, yaml}], file relative to the repo ("workflows/x.yaml");
/// workflows/examples/broken/ is left out (those fail on purpose). The build writes this list to
/// build/web/workflows/index.json and the dev server answers it.
export async function workflowIndex(root = REPO) {
  const out = [];
  for (const dir of ['workflows', 'workflows/examples']) {
    let names;
    try {
      names = await readdir(path.join(root, dir));
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.endsWith('.yaml')).sort()) {
      const file = `${dir}/${name}`;
      out.push({ file, yaml: await readFile(path.join(root, file), 'utf8') });
    }
  }
  return out;
}

/// The headers of every answer: SECURITY_HEADERS and the CSP for `connectOrigins`.
export function studioHeaders(connectOrigins = []) {
  return { ...SECURITY_HEADERS, 'Content-Security-Policy': buildCsp({ connectOrigins }) };
}

// The file a URL path names under `base`, or null when it would leave it.
function under(base, urlPath) {
  const resolved = path.resolve(base, '.' + path.posix.normalize('/' + urlPath));
  return resolved === base || resolved.startsWith(base + path.sep) ? resolved : null;
}

// build/web/csp.json's connect origins; re-read when a new build replaces it.
function connectOriginsOf(dir) {
  const file = path.join(dir, 'csp.json');
  let cached = { mtimeMs: -1, origins: [] };
  return async () => {
    try {
      const info = await stat(file);
      if (info.mtimeMs !== cached.mtimeMs) {
        const parsed = JSON.parse(await readFile(file, 'utf8'));
        cached = { mtimeMs: info.mtimeMs, origins: Array.isArray(parsed?.connect) ? parsed.connect : [] };
      }
    } catch {
      cached = { mtimeMs: -1, origins: [] };  // no csp.json: 'self' only
    }
    return cached.origins;
  };
}

function send(res, method, status, headers, body) {
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
}

async function handle(req, res, dir, origins) {
  const method = req.method ?? 'GET';
  const base = studioHeaders(await origins());
  const text = { ...base, 'Cache-Control': NO_CACHE, 'Content-Type': TYPES['.txt'] };
  if (method !== 'GET' && method !== 'HEAD') {
    return send(res, method, 405, { ...text, Allow: 'GET, HEAD' }, 'method not allowed\n');
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(res, method, 400, text, 'bad request\n');
  }
  if (pathname === '/favicon.ico') {
    res.writeHead(204, { ...base, 'Cache-Control': NO_CACHE });
    return res.end();
  }
  let file = under(dir, pathname.endsWith('/') ? pathname + 'index.html' : pathname);
  if (!file) return send(res, method, 404, text, 'not found\n');
  try {
    if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
    const body = await readFile(file);
    // Vite names what it hashes assets/<name>-<hash>.<ext>; everything else keeps its name
    // across builds and must be revalidated.
    const hashed = pathname.startsWith('/assets/');
    return send(res, method, 200, {
      ...base,
      'Cache-Control': hashed ? IMMUTABLE : NO_CACHE,
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    }, body);
  } catch {
    return send(res, method, 404, text, 'not found\n');
  }
}

/// Starts the server for the built studio in `dir` (default: LOOM_WEB_DIR or build/web); resolves
/// to {server, port, url} once it listens (port 0: any free port). Rejects when `dir` holds no
/// build (run tools/build --web) or the port cannot be had.
export async function startServer({
  port = Number(process.env.PORT ?? 8080), host = process.env.HOST ?? '127.0.0.1',
  dir = process.env.LOOM_WEB_DIR || path.join(REPO, 'build/web'),
} = {}) {
  dir = path.resolve(dir);
  try {
    await stat(path.join(dir, 'index.html'));
  } catch {
    throw new Error(`${path.relative(process.cwd(), dir) || dir}/index.html is missing: the studio is not built. ` +
      'Run `tools/build --web` (after `tools/build --wasm`), or `npm start`, which builds both.');
  }
  const origins = connectOriginsOf(dir);
  const server = createServer((req, res) => {
    handle(req, res, dir, origins).catch((e) => {
      if (!res.headersSent) {
        send(res, req.method, 500, { ...studioHeaders(), 'Content-Type': TYPES['.txt'] }, `internal error: ${e.message}\n`);
      } else {
        res.destroy();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const actual = server.address().port;
      resolve({ server, port: actual, url: `http://localhost:${actual}/` });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { url } = await startServer();
    console.log(`Loom studio: ${url}`);
  } catch (e) {
    console.error(`serve: ${e.message}`);
    process.exit(1);
  }
}
