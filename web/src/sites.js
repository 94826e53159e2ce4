// sites.js — the web sites the writer lets the page read (reference pages for the knowledge base
// and digests). The page may only connect where its policy allows (docs/security.md): a site is
// allowed once, by the writer, kept in the 'reference_origins' setting, and the service worker
// adds it to the policy after a reload.

/// Whether the page may fetch `url` under the connection policy: its origin is the studio's own,
/// a model server's, or one the writer allowed (the 'reference_origins' setting, which the
/// service worker adds to the policy — docs/security.md).
export async function siteAllowed(storage, url, { pageOrigin = globalThis.location?.origin } = {}) {
  const origin = new URL(url).origin;
  if (origin === pageOrigin) return true;
  const allowed = [...(await storage.getSetting('connect_origins', null) ?? []),
    ...(await storage.getSetting('reference_origins', []))];
  return allowed.includes(origin);
}

/// Adds the origin of `url` to the sites the writer allows; the page must reload for the policy.
export async function allowSite(storage, url) {
  const origin = new URL(url).origin;
  const list = await storage.getSetting('reference_origins', []);
  await storage.putSetting('reference_origins', [...new Set([...list, origin])]);
  return origin;
}
