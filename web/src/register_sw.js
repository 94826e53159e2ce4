// register_sw.js — registers the studio's service worker (web/src/sw.js, built to /sw.js), which
// makes the studio open and run offline. The dev server (`npm run dev`) has none.

/// Registers /sw.js for the whole site. Resolves to the ServiceWorkerRegistration, or null where
/// there is no service worker to be had: no navigator.serviceWorker (an insecure origin, a private
/// window of some browsers), the dev server, or a registration the browser refused (then with a
/// console warning saying why; the studio still works while online). Never rejects.
export async function registerServiceWorker({ url = '/sw.js', scope = '/' } = {}) {
  const container = globalThis.navigator?.serviceWorker;
  if (!container || globalThis.isSecureContext === false) return null;
  if (import.meta.env?.DEV) return null;
  try {
    // updateViaCache 'none': a new build's worker is noticed at the next visit, never served stale.
    return await container.register(url, { scope, updateViaCache: 'none' });
  } catch (e) {
    console.warn(`Loom will not work offline: its service worker did not register (${e?.message ?? e}).`);
    return null;
  }
}
