// vite.config.js — the studio's front-end build (`tools/build --web`) and dev server (`npm run dev`).
//
//   web/ (root)  ->  build/web/              emptied on each build
//     index.html, assets/*-<hash>.js|css    the page, bundled by Vite
//     sw.js                                 the service worker (src/sw.js, vite-plugin-pwa's
//                                           injectManifest: precaches everything below)
//     wasm/loom.mjs, wasm/loom.wasm         copied from build/wasm-release (LOOM_WASM_DIR overrides);
//                                           engine.js imports them at run time, not through Rollup
//     workflows/index.json                  [{file, yaml}] of the shipped workflows
//     models/default.yaml                   the shipped model pool (the studio seeds its pool from it)
//     voice/background.loomvb               the voice panel's background (build/voice, made by
//                                           tools/build --wasm; LOOM_VOICE_BACKGROUND overrides)
//     csp.json                              {connect: [...]}: the origins of that pool's base_urls
//
// The dev server answers /wasm/*, /workflows/index.json, /models/default.yaml, /csp.json and
// /voice/background.loomvb from the same sources and sends the same headers as tools/serve.mjs;
// it has no service worker.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import { workflowIndex } from '../tools/serve.mjs';
import { buildCsp, originsOfModels, SECURITY_HEADERS } from './src/csp.js';
import { loadEngine } from './src/engine.js';

const WEB = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(WEB, '..');
const OUT = path.join(REPO, 'build/web');
const WASM_DIR = path.resolve(process.env.LOOM_WASM_DIR || path.join(REPO, 'build/wasm-release'));
const WASM_FILES = ['loom.mjs', 'loom.wasm'];
const MODELS_FILE = 'workflows/models/default.yaml';
const VOICE_BACKGROUND = path.resolve(process.env.LOOM_VOICE_BACKGROUND || path.join(REPO, 'build/voice/background.loomvb'));
const VOICE_BACKGROUND_URL = '/voice/background.loomvb';
// The dev server injects each CSS module as a <style> element (the build links files instead):
// Vite gives those this nonce, and only the dev server's policy admits it. One per server start.
const DEV_STYLE_NONCE = randomBytes(18).toString('base64');

function missingWasm() {
  const missing = WASM_FILES.filter((f) => !existsSync(path.join(WASM_DIR, f)));
  if (!missing.length) return null;
  const shown = path.relative(REPO, WASM_DIR).startsWith('..') ? WASM_DIR : path.relative(REPO, WASM_DIR);
  return `the wasm engine is not built (${missing.map((f) => path.join(shown, f)).join(', ')} ` +
    'missing): run tools/build --wasm first';
}

function missingVoiceBackground() {
  if (existsSync(VOICE_BACKGROUND)) return null;
  const shown = path.relative(REPO, VOICE_BACKGROUND).startsWith('..') ? VOICE_BACKGROUND : path.relative(REPO, VOICE_BACKGROUND);
  return `the voice background is not built (${shown} missing): run tools/build --wasm first`;
}

/// The connect origins of the shipped model pool, read by the engine itself (engine.models()).
/// Throws an Error naming the file, line and column when the pool does not parse.
export async function shippedConnectOrigins(yaml) {
  const engine = await loadEngine({ moduleUrl: pathToFileURL(path.join(WASM_DIR, 'loom.mjs')).href });
  try {
    return originsOfModels(engine.models(yaml, MODELS_FILE));
  } catch (e) {
    const where = e?.errors?.length ? e.errors.map((x) => `${MODELS_FILE}:${x.line}:${x.column}: ${x.message}`).join('\n')
      : `${MODELS_FILE}: ${e?.message ?? e}`;
    throw new Error(`cannot read the shipped model pool:\n${where}`);
  } finally {
    engine.dispose();
  }
}

// What the build emits next to the page, and the dev server answers: {fileName: contents}.
async function studioFiles() {
  const models = await readFile(path.join(REPO, MODELS_FILE), 'utf8');
  const connect = await shippedConnectOrigins(models);
  return {
    'workflows/index.json': JSON.stringify(await workflowIndex(REPO)),
    'models/default.yaml': models,
    'csp.json': JSON.stringify({ connect }, null, 2) + '\n',
    [VOICE_BACKGROUND_URL.slice(1)]: await readFile(VOICE_BACKGROUND),
    ...Object.fromEntries(await Promise.all(
      WASM_FILES.map(async (f) => [`wasm/${f}`, await readFile(path.join(WASM_DIR, f))]))),
  };
}

const TYPES = {
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.yaml': 'text/yaml; charset=utf-8',
  '.loomvb': 'application/octet-stream',
};

function loomStudio() {
  let headers = null;  // the dev server's: computed once the engine has read the pool
  const setHeaders = (res) => {
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  };
  return {
    name: 'loom-studio',

    // Without an icon link a browser asks for /favicon.ico on every load, and Chromium does not
    // ask the service worker for it: offline, that is a failed request in the console. An empty
    // data: icon (img-src allows data:) stands in until the page declares a real one.
    transformIndexHtml(html) {
      if (/<link[^>]+rel=["']?(?:shortcut )?icon/i.test(html)) return html;
      return html.replace(/<\/head>/i, '  <link rel="icon" href="data:," />\n  </head>');
    },

    buildStart() {
      const problem = missingWasm() ?? missingVoiceBackground();
      if (problem) this.error(problem);
    },

    async generateBundle() {
      for (const [fileName, source] of Object.entries(await studioFiles())) {
        this.emitFile({ type: 'asset', fileName, source });
      }
    },

    async configureServer(server) {
      const problem = missingWasm() ?? missingVoiceBackground();
      if (problem) throw new Error(problem);
      const models = await readFile(path.join(REPO, MODELS_FILE), 'utf8');
      const connectOrigins = await shippedConnectOrigins(models);
      const csp = buildCsp({ connectOrigins }).replace("style-src 'self'", `style-src 'self' 'nonce-${DEV_STYLE_NONCE}'`);
      headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': csp };
      // Added here (not in a returned hook), these run before Vite's own middlewares, so
      // /wasm/loom.mjs reaches the browser as it is, never transformed.
      server.middlewares.use(async (req, res, next) => {
        setHeaders(res);
        const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
        let body;
        try {
          if (pathname.startsWith('/wasm/') && WASM_FILES.includes(pathname.slice(6))) {
            body = await readFile(path.join(WASM_DIR, pathname.slice(6)));
          } else if (pathname === '/workflows/index.json') {
            body = JSON.stringify(await workflowIndex(REPO));
          } else if (pathname === '/models/default.yaml') {
            body = await readFile(path.join(REPO, MODELS_FILE));
          } else if (pathname === '/csp.json') {
            body = JSON.stringify({ connect: connectOrigins });
          } else if (pathname === VOICE_BACKGROUND_URL) {
            body = await readFile(VOICE_BACKGROUND);
          } else {
            return next();
          }
        } catch (e) {
          return next(e);
        }
        res.setHeader('Content-Type', TYPES[path.extname(pathname)]);
        res.setHeader('Cache-Control', 'no-cache');
        res.end(body);
      });
    },

    configurePreviewServer(server) {
      server.middlewares.use(async (req, res, next) => {
        if (!headers) {
          const connect = JSON.parse(await readFile(path.join(OUT, 'csp.json'), 'utf8')).connect;
          headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': buildCsp({ connectOrigins: connect }) };
        }
        setHeaders(res);
        next();
      });
    },
  };
}

export default defineConfig(({ command }) => ({
  root: WEB,
  base: '/',
  publicDir: false,
  clearScreen: false,
  build: {
    outDir: OUT,
    emptyOutDir: true,
    // No data: URLs for fonts or images: every asset is a file of 'self'.
    assetsInlineLimit: 0,
    target: 'es2022',
    rollupOptions: {
      // engine.js imports node's modules only when it runs under node (tests, this build);
      // the page never reaches those imports, so they stay as they are.
      external: [/^node:/],
    },
  },
  server: { port: 5173 },
  html: command === 'serve' ? { cspNonce: DEV_STYLE_NONCE } : {},
  plugins: [
    loomStudio(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src',
      filename: 'sw.js',
      injectRegister: false,  // web/src/register_sw.js registers it
      manifest: false,
      injectManifest: {
        rollupFormat: 'iife',  // a classic worker script: no module service workers needed
        globPatterns: ['**/*.{html,js,mjs,css,wasm,json,yaml,svg,png,ico,woff2,loomvb}'],
        // The engine is ~1 MB and grows, the voice background a few MB; workbox refuses files
        // over 2 MiB by default.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        dontCacheBustURLsMatching: /^assets\//,
      },
      devOptions: { enabled: false },
    }),
  ],
}));
