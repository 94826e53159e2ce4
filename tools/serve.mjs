#!/usr/bin/env node
// serve.mjs — the studio's static server for development (`npm start`), with node's http only.
//
//   /                       web/index.html, and web/ below it
//   /wasm/loom.mjs|wasm     build/wasm-release/ (tools/build makes them; LOOM_WASM_DIR overrides)
//   /workflows/index.json   [{file, yaml}] of workflows/*.yaml and workflows/examples/*.yaml
//
// Every answer is no-cache and cross-origin isolated (COOP/COEP), under a CSP of 'self' only
// (plus 'wasm-unsafe-eval', which compiling the engine needs).
import { createServer } from 'node:http';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.yaml': 'text/yaml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'Cache-Control': 'no-cache',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/// The shipped workflows as [{file, yaml}], file relative to the repo ("workflows/x.yaml");
/// workflows/examples/broken/ is left out (those fail on purpose).
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

// The file a URL path names under `base`, or null when it would leave it.
function under(base, urlPath) {
  const resolved = path.resolve(base, '.' + path.posix.normalize('/' + urlPath));
  return resolved === base || resolved.startsWith(base + path.sep) ? resolved : null;
}

async function send(res, method, status, type, body) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(method === 'HEAD' ? undefined : body);
}

async function handle(req, res, root, wasmDir) {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, method, 405, TYPES['.txt'], 'method not allowed\n');
  }
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
  } catch {
    return send(res, method, 400, TYPES['.txt'], 'bad request\n');
  }
  if (pathname === '/favicon.ico') {
    res.writeHead(204, SECURITY_HEADERS);
    return res.end();
  }
  if (pathname === '/workflows/index.json') {
    return send(res, method, 200, TYPES['.json'], JSON.stringify(await workflowIndex(root)));
  }
  let file;
  if (pathname === '/wasm/loom.mjs' || pathname === '/wasm/loom.wasm') {
    file = path.join(wasmDir, path.basename(pathname));
  } else {
    file = under(path.join(root, 'web'), pathname.endsWith('/') ? pathname + 'index.html' : pathname);
  }
  if (!file) return send(res, method, 404, TYPES['.txt'], 'not found\n');
  try {
    const info = await stat(file);
    if (info.isDirectory()) file = path.join(file, 'index.html');
    const body = await readFile(file);
    return send(res, method, 200, TYPES[path.extname(file)] ?? 'application/octet-stream', body);
  } catch {
    const hint = pathname.startsWith('/wasm/') ? 'not found (build the engine first: tools/build)\n' : 'not found\n';
    return send(res, method, 404, TYPES['.txt'], hint);
  }
}

/// Starts the server; resolves to {server, port, url} once it listens (port 0: any free port).
/// `wasmDir` holds loom.mjs and loom.wasm (default: LOOM_WASM_DIR or root/build/wasm-release).
export function startServer({
  port = Number(process.env.PORT ?? 8080), host = process.env.HOST ?? '127.0.0.1', root = REPO,
  wasmDir = process.env.LOOM_WASM_DIR || path.join(root, 'build/wasm-release'),
} = {}) {
  const server = createServer((req, res) => {
    handle(req, res, root, path.resolve(wasmDir)).catch((e) => {
      if (!res.headersSent) send(res, req.method, 500, TYPES['.txt'], `internal error: ${e.message}\n`);
      else res.destroy();
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
  const { url } = await startServer();
  console.log(`Loom studio: ${url}`);
}
