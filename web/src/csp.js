// csp.js — the studio's Content-Security-Policy and security headers, shared by the server
// (tools/serve.mjs), the build and dev server (web/vite.config.js) and the service worker
// (web/src/sw.js), so the three can never disagree. No DOM or node imports: it runs anywhere.
//
//   buildCsp({ connectOrigins: ['http://localhost:11434'] })
//   // "default-src 'self'; ...; connect-src 'self' http://localhost:11434; ..."
//
// connect-src is the only directive that varies: 'self' plus the origins of the model pool (the
// providers' APIs, a local model server). Everything else is fixed at 'self' or 'none'.

/// Headers every answer of the studio carries: cross-origin isolation (COOP + COEP, so
/// SharedArrayBuffer and precise timers are available), no embedding by other origins, no MIME
/// sniffing, no Referer sent to model providers.
export const SECURITY_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
});

/// `value` as an origin ("https://api.openai.com", "http://localhost:11434") when it is an http or
/// https URL (a path, query or trailing slash is dropped); null for anything else: other schemes,
/// credentials in the URL, wildcards, CSP keywords, whitespace or separators that could start a
/// new directive or source.
export function normalizeOrigin(value) {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  // A URL parser forgives a lot (tabs and newlines are stripped, '\' becomes '/'): refuse any
  // character a CSP source list or directive could be smuggled in with before parsing.
  if (!text || /[\s;,'"*\\\u0000-\u001f\u007f]/.test(text)) return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || !url.hostname) return null;
  const origin = url.origin;
  // new URL() has normalized it; a serialized origin is scheme://host[:port] and nothing else.
  return /^https?:\/\/[A-Za-z0-9.\-[\]:]+$/.test(origin) ? origin : null;
}

/// The valid, normalized, deduplicated and sorted origins of `list`; anything else is dropped.
export function connectSources(list = []) {
  const out = new Set();
  for (const item of Array.isArray(list) ? list : []) {
    const origin = normalizeOrigin(item);
    if (origin) out.add(origin);
  }
  return [...out].sort();
}

/// The policy string. `connectOrigins` are the origins the page may fetch besides its own
/// (invalid entries are dropped, see connectSources); the rest is fixed.
export function buildCsp({ connectOrigins = [] } = {}) {
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...connectSources(connectOrigins)].join(' '),
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

// ${NAME} and ${NAME:-fallback} as the fallback (a build has no environment to read); the
// engine's models() expands them already, this only guards against an unexpanded summary.
function expandFallbacks(text) {
  return text.replace(/\$\{[^}:]*(?::-([^}]*))?\}/g, (_, fallback) => fallback ?? '');
}

/// The origins of a model pool's base_urls, sorted and deduplicated: `models` is the engine's
/// models() summary ({default, models: [{name, base_url, ...}]}) or its `models` list. Models
/// whose base_url is not an http(s) URL are left out.
export function originsOfModels(models) {
  const list = Array.isArray(models) ? models : Array.isArray(models?.models) ? models.models : [];
  return connectSources(list
    .map((m) => (typeof m?.base_url === 'string' ? expandFallbacks(m.base_url) : null))
    .filter(Boolean));
}
