// web/src/extract/ in headless Chromium, under the studio's Content-Security-Policy and security
// headers (web/src/csp.js: default-src 'self', script-src 'self' 'wasm-unsafe-eval', worker-src
// 'self', COEP require-corp): a throwaway page that imports it is built with Vite into a temporary
// folder. A PDF is read by the real pdf.js worker, served from the page's own origin; e-mails go
// through postal-mime and the browser's DOMParser; web pages are fetched from a second local
// origin, once allowing other origins (CORS) and once not.
// Run: node --test e2e/extract.test.mjs   (needs /usr/bin/chromium, or CHROMIUM=...)
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, buildTestPage, launchChromium, serveFiles } from './browser.mjs';
import { buildCsp, SECURITY_HEADERS } from '../web/src/csp.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXTRACT = path.resolve(HERE, '../web/src/extract/index.js');
const FIXTURES = path.resolve(HERE, '../web/test/fixtures/extract');

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>extract</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="./main.js"></script></body>
</html>
`;

// The page exposes one function: fetch a fixture from its own origin, extract it as a File, and
// answer the result or the error as plain data.
const MAIN_JS = `
import { extractFile, extractUrl } from ${JSON.stringify(EXTRACT)};

const settle = (promise) => promise.then(
  (doc) => ({ ok: true, doc }),
  (e) => ({ ok: false, name: e.name, code: e.code, message: e.message, where: e.where }));

window.__extractFixture = async (name, type) => {
  const bytes = await (await fetch('/fixtures/' + name)).arrayBuffer();
  return settle(extractFile(new File([bytes], name, { type })));
};
window.__extractUrl = (url) => settle(extractUrl(url));
document.body.dataset.ready = 'true';
`;

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The built page and, under /fixtures/, the fixtures, with the studio's headers; `csp` may name
// other origins.
function servePage(dir, csp) {
  return serveFiles(dir, { headers: { ...SECURITY_HEADERS, 'Content-Security-Policy': csp, 'Cache-Control': 'no-store' },
    routes: { '/fixtures/': FIXTURES } });
}

// Another origin with an article: /open allows any origin to read it, /closed does not.
async function serveSite() {
  const article = await readFile(path.join(FIXTURES, 'article.html'));
  return listen(http.createServer((req, res) => {
    const open = req.url === '/open';
    res.writeHead(open || req.url === '/closed' ? 200 : 404, {
      'Content-Type': 'text/html; charset=utf-8',
      ...(open ? { 'Access-Control-Allow-Origin': '*' } : {}),
    }).end(article);
  }));
}

test('extract in Chromium under the studio CSP: PDF with the pdf.js worker, e-mails, web pages',
  { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}`, timeout: 120_000 }, async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'loom-extract-'));
    let page$;
    let site;
    let browser;
    try {
      const dist = await buildTestPage(dir, { html: INDEX_HTML, main: MAIN_JS, target: 'es2022' });
      site = await serveSite();
      const siteOrigin = `http://127.0.0.1:${site.address().port}`;
      // The studio's policy, with the other site as a connect origin (as a model server would be),
      // so that what refuses /closed is the site's missing CORS header, not the policy.
      const csp = buildCsp({ connectOrigins: [siteOrigin] });
      page$ = await servePage(dist, csp);
      const base = `http://127.0.0.1:${page$.address().port}`;

      browser = await launchChromium();
      const page = await browser.newPage();
      const problems = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      await page.addInitScript(() => {
        window.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
          window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
        });
        // Which workers the page starts, to see that pdf.js runs its own and not a stand-in.
        window.__workers = [];
        const Native = window.Worker;
        window.Worker = class extends Native {
          constructor(url, options) {
            super(url, options);
            window.__workers.push({ url: String(url), type: options?.type ?? 'classic' });
          }
        };
      });
      await page.goto(`${base}/`);
      await page.waitForSelector('body[data-ready=true]', { state: 'attached', timeout: 10_000 });
      assert.equal(await page.evaluate(() => fetch('/').then((r) => r.headers.get('content-security-policy'))), csp);
      assert.equal(await page.evaluate(() => window.crossOriginIsolated), true, 'COOP and COEP are in force');

      await t.test('a two-page PDF: its text, by the pdf.js worker from our origin', async () => {
        const result = await page.evaluate(() => window.__extractFixture('two_pages.pdf', 'application/pdf'));
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.doc.kind, 'pdf');
        assert.equal(result.doc.pages, 2);
        assert.equal(result.doc.title, 'The Lighthouse Keeper');
        assert.equal(result.doc.text, [
          'The Lighthouse Keeper',
          'Mara climbed the stairs every evening, counting the steps as her father had taught her. The old lamp ' +
            "was temperamental, and the keeper's log was full of complicated notes about its moods.",
          'On the night the fog came in she wrote in the margin: Café déjà vu.',
          'The second page starts a new paragraph, which goes on for two lines and ends here.',
        ].join('\n\n'));
        const workers = await page.evaluate(() => window.__workers);
        assert.equal(workers.length, 1, JSON.stringify(workers));
        assert.match(new URL(workers[0].url, base).href, new RegExp(`^${base}/assets/pdf\\.worker\\.min-[\\w-]+\\.mjs$`),
          'the worker is a file of our origin');
        assert.equal(workers[0].type, 'module');
      });

      await t.test('PDF errors in the browser: a password, a scan, a broken file', async () => {
        const codes = [];
        for (const name of ['encrypted.pdf', 'scanned.pdf', 'truncated.pdf']) {
          codes.push((await page.evaluate((n) => window.__extractFixture(n, 'application/pdf'), name)).code);
        }
        assert.deepEqual(codes, ['pdf_encrypted', 'pdf_no_text', 'pdf_broken']);
      });

      await t.test('e-mails: quoted-printable UTF-8, and HTML-only through the DOMParser', async () => {
        const qp = await page.evaluate(() => window.__extractFixture('quoted_printable.eml', 'message/rfc822'));
        assert.ok(qp.ok, JSON.stringify(qp));
        assert.equal(qp.doc.kind, 'eml');
        assert.equal(qp.doc.title, 'Café déjà vu');
        assert.equal(qp.doc.meta.from, 'Inès Moreau <ines@example.org>');
        assert.equal(qp.doc.text, 'Café déjà vu: the narrator has been in this harbour before, but she does not ' +
          'remember when.\n\nNaïve readers will not notice. — I.');
        const html = await page.evaluate(() => window.__extractFixture('html_only.eml', ''));
        assert.ok(html.ok, JSON.stringify(html));
        assert.equal(html.doc.text, 'The archive reopens\n\nThe reading room is open on Tuesdays and Thursdays.\n\n' +
          "- Ship logs 1820–1900\n- Harbour maps\n\nAsk for the keeper's letters at the desk.");
        const broken = await page.evaluate(() => window.__extractFixture('not_an_email.eml', ''));
        assert.equal(broken.code, 'eml_malformed');
      });

      await t.test('no CSP violation, nothing logged, no script of an e-mail or page ran', async () => {
        assert.deepEqual(await page.evaluate(() => window.__violations), []);
        assert.deepEqual(problems, []);
        assert.equal(await page.evaluate(() => window.ran), undefined);
      });

      await t.test('a web page of another origin that allows it (CORS) is read', async () => {
        const result = await page.evaluate((url) => window.__extractUrl(url), `${siteOrigin}/open`);
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.doc.title, 'Lighthouses of the North Coast');
        assert.ok(result.doc.text.split('\n\n').includes('The keeper’s log'));
        assert.doesNotMatch(result.doc.text, /INJECTED|Buy our calendar/);
        assert.equal(await page.evaluate(() => window.ran), undefined, 'the page\'s script did not run');
      });

      await t.test('a page whose site does not allow other origins: the CORS message', async () => {
        const result = await page.evaluate((url) => window.__extractUrl(url), `${siteOrigin}/closed`);
        assert.equal(result.ok, false);
        assert.equal(result.code, 'cors', result.message);
        assert.equal(result.where, `${siteOrigin}/closed`);
        assert.match(result.message, /CORS/);
        assert.match(result.message, /Save Page As/);
        assert.deepEqual(await page.evaluate(() => window.__violations), [], 'refused by CORS, not by the CSP');
        // Chromium logs the refusal itself; nothing else may have been logged.
        assert.ok(problems.length >= 1 && problems.every((p) => /CORS policy|Failed to load resource|ERR_FAILED/.test(p)),
          problems.join('\n'));
      });

      await t.test('a site the connection policy does not list: the policy message, and its violation', async () => {
        // localhost is another origin than 127.0.0.1: not in connect-src.
        const url = `http://localhost:${site.address().port}/open`;
        const result = await page.evaluate((u) => window.__extractUrl(u), url);
        assert.equal(result.code, 'connect_policy', result.message);
        assert.match(result.message, /connection policy.*Save Page As/);
        const violations = await page.evaluate(() => window.__violations);
        assert.equal(violations.length, 1, 'the listener hears refusals: the checks of none above could fail');
        assert.match(violations[0], /^connect-src http:\/\/localhost:/);
      });
    } finally {
      await browser?.close();
      for (const server of [page$, site]) {
        server?.closeAllConnections?.();
        await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
