// sw.js — the studio's service worker: the studio opens and runs offline.
//
// Built by vite-plugin-pwa (injectManifest, web/vite.config.js), which replaces self.__WB_MANIFEST
// with the list of build/web's files and their revisions. It
//   - precaches the app shell: index.html, the JS and CSS assets, /wasm/loom.mjs and loom.wasm,
//     /workflows/index.json, /models/default.yaml, /csp.json and the voice panel's background,
//     /voice/background.loomvb (a few MB, so voices are scored offline too); a new build's worker
//     replaces the old one at once (skipWaiting + clients.claim: the first visit is controlled too);
//   - answers navigations with the precached index.html under fresh headers: SECURITY_HEADERS and
//     a CSP whose connect-src is 'self' plus the origins the studio saved in IndexedDB (settings
//     'connect_origins', written when the writer saves the model pool, plus 'reference_origins',
//     the sites the writer allowed the knowledge panel to read pages from), or csp.json's origins
//     when none were saved or the database cannot be read;
//   - never touches a request to another origin (model providers, a local model server): those
//     go to the network as if there were no worker, so streamed answers are not buffered here.
import { cleanupOutdatedCaches, PrecacheController, PrecacheRoute } from 'workbox-precaching';
import { NavigationRoute, Router } from 'workbox-routing';
import { buildCsp, SECURITY_HEADERS } from './csp.js';
import { openStorage } from './storage.js';

const SHELL = '/index.html';
const SETTINGS_KEY = 'connect_origins';
const REFERENCES_KEY = 'reference_origins';
const SETTINGS_TIMEOUT_MS = 3000;

const precache = new PrecacheController();
precache.precache(self.__WB_MANIFEST);
cleanupOutdatedCaches();

// The origins of build/web/csp.json (the shipped model pool), from the precache.
async function shippedOrigins() {
  try {
    const response = await precache.matchPrecache('/csp.json');
    const connect = (await response?.json())?.connect;
    return Array.isArray(connect) ? connect : [];
  } catch {
    return [];
  }
}

async function savedOrigins() {
  const storage = await openStorage();
  try {
    const models = await storage.getSetting(SETTINGS_KEY, null);
    // Sites the writer allowed the knowledge panel to read web pages from.
    const references = await storage.getSetting(REFERENCES_KEY, []);
    if (!Array.isArray(models)) return Array.isArray(references) && references.length ? [...(await shippedOrigins()), ...references] : null;
    return [...models, ...(Array.isArray(references) ? references : [])];
  } finally {
    storage.close();
  }
}

// The connect origins for this navigation: the saved ones, else the shipped ones. buildCsp()
// drops anything that is not an http(s) origin, so a bad value can only make the policy tighter.
async function connectOrigins() {
  let timer;
  try {
    const saved = await Promise.race([
      savedOrigins(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('IndexedDB did not answer')), SETTINGS_TIMEOUT_MS);
      }),
    ]);
    if (Array.isArray(saved)) return saved;
  } catch {
    // unreadable (no IndexedDB, blocked, slow): the shipped pool's origins
  } finally {
    clearTimeout(timer);
  }
  return shippedOrigins();
}

async function shell({ request }) {
  const cached = await precache.matchPrecache(SHELL);
  if (!cached) return fetch(request);  // not installed yet: whatever the server says
  const headers = new Headers(cached.headers);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) headers.set(name, value);
  headers.set('Content-Security-Policy', buildCsp({ connectOrigins: await connectOrigins() }));
  headers.set('Cache-Control', 'no-cache');
  return new Response(cached.body, { status: 200, statusText: 'OK', headers });
}

const router = new Router();
// Navigations first: the precache route would otherwise answer '/' with the stored headers.
// Files opened directly (/wasm/loom.wasm, /csp.json...) are not the page.
router.registerRoute(new NavigationRoute(shell, {
  denylist: [/^\/(?:assets|wasm|workflows|models|voice)\//, /^\/(?:sw\.js|csp\.json)$/],
}));
router.registerRoute(new PrecacheRoute(precache));

self.addEventListener('install', (event) => {
  self.skipWaiting();
  // Where the browser supports static routes, requests to other origins skip this worker entirely
  // (not even started for them); the fetch handler below leaves them alone everywhere else.
  try {
    const here = new URL(self.location.href);
    const sameOrigin = new URLPattern({
      protocol: here.protocol.slice(0, -1), hostname: here.hostname, port: here.port,
    });
    const added = event.addRoutes?.({ condition: { not: { urlPattern: sameOrigin } }, source: 'network' });
    if (added) event.waitUntil(added.catch(() => {}));
  } catch {
    // no URLPattern or no static routing: the fetch handler's origin check does the same
  }
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  if (new URL(request.url).origin !== self.location.origin) return;  // the network, untouched
  const response = router.handleRequest({ event, request });
  if (response) event.respondWith(response);
});
