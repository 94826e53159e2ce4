// The YAML editor (web/src/ui/editor.js) and the workflow graph (web/src/ui/dag.js) in headless
// Chromium, under the studio's strict CSP (no inline style, no inline script): a throwaway page
// that uses both is built with Vite into a temporary folder and served with that policy. The
// editor's validate() is a fake (no wasm needed).
// Run: node --test e2e/components.test.mjs   (needs /usr/bin/chromium, or CHROMIUM=...)
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, buildTestPage, launchChromium, serveFiles } from './browser.mjs';

const UI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web/src/ui');
// The page adds a completion source to the editor with the one @codemirror/state the editor uses.
const CM_STATE = fileURLToPath(import.meta.resolve('@codemirror/state'));

// The studio's policy (tools/serve.mjs), with img-src 'self' only: CodeMirror's data: URL icons
// must not be needed.
const CSP = [
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

const DOC = [
  'name: demo',
  'steps:',
  '  - agent: text.chunk',
  '    id: chunks',
  '  - agent: text.summarize',
  '    id: summary',
  '    needs: [chunks]',
  '',
].join('\n');

// A diamond with a foreach step, a conditional one, an unknown need, and an agent that looks like
// markup (it must stay text).
const STEPS = [
  { id: 'start', agent: 'text.template', needs: [], foreach: false, when: false },
  { id: 'a', agent: 'text.summarize', needs: ['start'], foreach: true, when: false },
  { id: 'b', agent: '<img src=x onerror="window.__pwned=1">', needs: ['start'], foreach: false, when: true },
  { id: 'join', agent: 'text.template', needs: ['a', 'b', 'ghost'], foreach: false, when: false },
];

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>components</title></head>
<body>
  <main>
    <section id="editor" aria-label="Editor"></section>
    <ul id="problems" aria-label="Problems"></ul>
    <section id="dag" aria-label="Graph"></section>
  </main>
  <script type="module" src="./main.js"></script>
</body>
</html>
`;

function mainJs() {
  const ui = (file) => JSON.stringify(path.join(UI, file));
  return `
import { createYamlEditor, jumpTo } from ${ui('editor.js')};
import { renderDag } from ${ui('dag.js')};
import { EditorState, StateEffect } from ${JSON.stringify(CM_STATE)};
import ${ui('components.css')};

const log = { validations: 0, diagnostics: [], changes: [], selected: [] };
window.__log = log;

// The fake engine: an agent it does not know is an error at the agent's name.
const KNOWN = new Set(['text.chunk', 'text.summarize', 'text.template']);
window.__known = KNOWN;
function validate(text) {
  log.validations += 1;
  const errors = [];
  text.split('\\n').forEach((line, i) => {
    const m = /agent:\\s*(\\S+)/.exec(line);
    if (m && !KNOWN.has(m[1])) {
      errors.push({ code: 8, name: 'unknown_agent', message: "unknown agent '" + m[1] + "'",
        hint: 'run loom agents to list them', file: '', line: i + 1, column: m.index + m[0].length - m[1].length + 1 });
    }
  });
  return errors;
}

const problems = document.getElementById('problems');
const editor = createYamlEditor(document.getElementById('editor'), {
  doc: ${JSON.stringify(DOC)},
  validate,
  debounceMs: 150,
  onChange: (text) => log.changes.push(text),
  onDiagnostics(errors) {
    log.diagnostics.push(errors);
    problems.replaceChildren(...errors.map((e) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = e.line + ':' + e.column + ' ' + e.message;
      button.addEventListener('click', () => jumpTo(editor.view, e.line, e.column));
      li.append(button);
      return li;
    }));
  },
});
const dag = renderDag(document.getElementById('dag'), ${JSON.stringify(STEPS)}, {
  onSelect: (id) => log.selected.push(id),
});
window.__modules = { createYamlEditor, renderDag };
window.__editor = editor;
window.__dag = dag;
// The studio's YAML has no completions yet; this source offers the agents, to see the tooltip.
const agents = [{ autocomplete(cx) {
  const word = cx.matchBefore(/[\\w.]+/);
  return word ? { from: word.from, options: [...KNOWN].map((label) => ({ label, type: 'function' })) } : null;
} }];
window.__addCompletions = () => editor.view.dispatch({ effects: StateEffect.appendConfig.of(
  EditorState.languageData.of(() => agents)) });
document.body.dataset.ready = 'true';
`;
}

test('editor and graph in Chromium under a strict CSP', { skip: !existsSync(CHROMIUM) && `no ${CHROMIUM}`, timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'loom-components-'));
  let server;
  let browser;
  try {
    const dist = await buildTestPage(dir, { html: INDEX_HTML, main: mainJs() });
    server = await serveFiles(dist, { headers: { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' } });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 }, reducedMotion: 'no-preference' });
    const problems = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
      });
    });
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 10_000 });
    const csp = await page.evaluate(() => fetch('/').then((r) => r.headers.get('content-security-policy')));
    assert.equal(csp, CSP, 'the page is served with the policy');

    const lintMarkers = page.locator('.cm-gutter-lint .cm-lint-marker-error');
    const log = () => page.evaluate(() => structuredClone(window.__log));

    await t.test('CodeMirror is styled: its stylesheets are allowed by the CSP', async () => {
      const look = await page.evaluate(() => {
        const host = document.querySelector('[data-testid=yaml-editor]');
        const shadow = host.shadowRoot;
        const editor = shadow.querySelector('.cm-editor');
        const line = shadow.querySelector('.cm-line');
        const colors = [...line.querySelectorAll('span')].map((s) => getComputedStyle(s).color);
        return {
          display: getComputedStyle(editor).display,
          direction: getComputedStyle(editor).flexDirection,
          gutters: getComputedStyle(shadow.querySelector('.cm-gutters')).display,
          font: getComputedStyle(shadow.querySelector('.cm-scroller')).fontFamily,
          lineColor: getComputedStyle(line).color,
          colors,
          sheets: shadow.adoptedStyleSheets.length,
          styleElements: document.querySelectorAll('style').length + shadow.querySelectorAll('style').length,
          hostBorder: getComputedStyle(host).borderTopStyle,
          role: shadow.querySelector('.cm-content').getAttribute('role'),
          label: shadow.querySelector('.cm-content').getAttribute('aria-label'),
        };
      });
      assert.equal(look.display, 'flex', 'the base theme applies');
      assert.equal(look.direction, 'column');
      assert.equal(look.gutters, 'flex');
      assert.match(look.font, /monospace/);
      assert.ok(look.sheets > 0, 'styles went in as constructable stylesheets');
      assert.equal(look.styleElements, 0, 'and not as <style> elements, which the CSP refuses');
      assert.equal(look.hostBorder, 'solid', 'components.css styles the host');
      assert.ok(look.colors.some((c) => c !== look.lineColor), `YAML is highlighted: ${look.colors} vs ${look.lineColor}`);
      assert.equal(look.role, 'textbox');
      assert.equal(look.label, 'Workflow YAML');
    });

    await t.test('typing an unknown agent on line 3 shows a lint marker there after the debounce', async () => {
      await page.waitForFunction(() => window.__log.diagnostics.length >= 1);
      assert.deepEqual((await log()).diagnostics.at(-1), [], 'the document starts valid');
      assert.equal(await lintMarkers.count(), 0);
      const before = (await log()).validations;

      await page.click('.cm-content');
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('End');
      await page.keyboard.type('yyy', { delay: 15 });
      await lintMarkers.first().waitFor({ timeout: 5_000 });

      const where = await page.evaluate(() => {
        const shadow = document.querySelector('[data-testid=yaml-editor]').shadowRoot;
        const lines = [...shadow.querySelectorAll('.cm-content .cm-line')];
        const range = shadow.querySelector('.cm-lintRange-error');
        const marker = shadow.querySelector('.cm-gutter-lint .cm-lint-marker-error');
        const lineOf = (el) => lines.findIndex((l) => l.contains(el)) + 1;
        const third = lines[2].getBoundingClientRect();
        const m = marker.getBoundingClientRect();
        return { rangeLine: lineOf(range), rangeText: range.textContent, markerInLine3: m.top >= third.top - 1 && m.bottom <= third.bottom + 1,
          markerWidth: m.width, underline: getComputedStyle(range).textDecorationLine };
      });
      assert.equal(where.rangeLine, 3);
      assert.equal(where.rangeText, 'text.chunkyyy');
      assert.ok(where.markerInLine3, 'the gutter marker is beside line 3');
      assert.ok(where.markerWidth > 0, 'the marker is drawn without its data: URL icon');
      assert.equal(where.underline, 'underline');
      assert.equal(await lintMarkers.count(), 1);

      const l = await log();
      assert.equal(l.validations, before + 1, 'three keystrokes, one validation');
      assert.deepEqual(l.diagnostics.at(-1).map((e) => [e.name, e.line]), [['unknown_agent', 3]]);
      await page.waitForFunction(() => window.__log.changes.length === 1);
      assert.match((await log()).changes[0], /agent: text\.chunkyyy\n/);
      assert.equal(await page.locator('#problems li').count(), 1);
      assert.equal(await page.textContent('#problems button'), "3:12 unknown agent 'text.chunkyyy'");
    });

    await t.test('a problem in the list jumps to its line', async () => {
      await page.keyboard.press('Control+End');
      await page.click('#problems button');
      const at = await page.evaluate(() => {
        const { view } = window.__editor;
        const head = view.state.selection.main.head;
        return { line: view.state.doc.lineAt(head).number, column: head - view.state.doc.lineAt(head).from + 1,
          focused: view.hasFocus };
      });
      assert.deepEqual(at, { line: 3, column: 12, focused: true });
    });

    await t.test('fixing the error clears the marker; undo brings it back', async () => {
      await page.keyboard.press('End');
      for (let i = 0; i < 3; ++i) await page.keyboard.press('Backspace');
      await page.waitForFunction(() => !document.querySelector('[data-testid=yaml-editor]').shadowRoot.querySelector('.cm-lint-marker-error'));
      assert.deepEqual((await log()).diagnostics.at(-1), []);
      assert.equal(await page.evaluate(() => window.__editor.getText()), DOC);
      await page.keyboard.press('Control+z');
      await lintMarkers.first().waitFor({ timeout: 5_000 });
      assert.match(await page.evaluate(() => window.__editor.getText()), /text\.chunkyyy/);
    });

    await t.test('revalidate() checks again at once, e.g. when the engine learned an agent', async () => {
      const errors = await page.evaluate(() => {
        window.__known.add('text.chunkyyy');
        return window.__editor.revalidate();
      });
      assert.deepEqual(errors, []);
      assert.deepEqual((await log()).diagnostics.at(-1), []);
      assert.equal(await lintMarkers.count(), 0, 'the marker went with the error, without waiting for a change');
      await page.evaluate(() => window.__known.delete('text.chunkyyy'));
    });

    await t.test('Enter indents; setText replaces the text without an onChange', async () => {
      const changes = (await log()).changes.length;
      await page.evaluate(() => window.__editor.setText('name: x\nsteps:'));
      await page.waitForFunction(() => !document.querySelector('[data-testid=yaml-editor]').shadowRoot.querySelector('.cm-lint-marker-error'));
      await page.evaluate(() => window.__editor.focus());
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.type('- id: a');
      assert.equal(await page.evaluate(() => window.__editor.getText()), 'name: x\nsteps:\n  - id: a');
      await page.waitForFunction((n) => window.__log.changes.length === n + 1, changes);
      assert.equal((await log()).changes.at(-1), 'name: x\nsteps:\n  - id: a', 'only the typing was reported');
    });

    await t.test('Ctrl-Z after typing restores the text, Ctrl-Shift-Z redoes; setText starts the history over', async () => {
      const text = () => page.evaluate(() => window.__editor.getText());
      await page.evaluate(() => window.__editor.setText('name: x\nsteps: []\n'));
      await page.evaluate(() => window.__editor.focus());
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('End');
      await page.keyboard.type('yz', { delay: 15 });
      assert.equal(await text(), 'name: xyz\nsteps: []\n');
      await page.keyboard.press('Control+z');
      assert.equal(await text(), 'name: x\nsteps: []\n', 'the burst of typing is undone at once');
      await page.keyboard.press('Control+z');
      assert.equal(await text(), 'name: x\nsteps: []\n', 'the text before setText is not in the history');
      await page.keyboard.press('Control+Shift+z');
      assert.equal(await text(), 'name: xyz\nsteps: []\n');
    });

    await t.test('Ctrl-F opens a styled search panel in the shadow root; Enter finds, Escape closes', async () => {
      await page.evaluate((doc) => window.__editor.setText(doc), DOC);
      await page.evaluate(() => window.__editor.focus());
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('Control+f');
      const shadow = 'document.querySelector("[data-testid=yaml-editor]").shadowRoot';
      await page.waitForFunction(`!!${shadow}.querySelector('.cm-panel.cm-search')`);
      await page.keyboard.type('summar');
      await page.keyboard.press('Enter');
      const look = await page.evaluate(() => {
        const root = document.querySelector('[data-testid=yaml-editor]').shadowRoot;
        const panel = root.querySelector('.cm-panel.cm-search');
        const { view } = window.__editor;
        const { from, to } = view.state.selection.main;
        return {
          inDocument: document.querySelectorAll('.cm-search').length,
          focused: root.activeElement?.getAttribute('name'),
          padding: getComputedStyle(panel).paddingLeft,
          close: getComputedStyle(panel.querySelector('[name=close]')).position,
          panelBackground: getComputedStyle(panel.closest('.cm-panels')).backgroundColor,
          matches: root.querySelectorAll('.cm-searchMatch').length,
          matchBackground: getComputedStyle(root.querySelector('.cm-searchMatch')).backgroundColor,
          selected: view.state.sliceDoc(from, to),
          line: view.state.doc.lineAt(from).number,
          violations: window.__violations,
        };
      });
      assert.equal(look.inDocument, 0, 'the panel is inside the shadow root');
      assert.equal(look.focused, 'search', 'the search field has the focus');
      assert.equal(look.padding, '6px', "@codemirror/search's theme applies");
      assert.equal(look.close, 'absolute');
      assert.equal(look.panelBackground, 'rgb(246, 245, 241)', 'the studio theme colors the panel');
      assert.equal(look.matches, 2, "both 'summar's are highlighted");
      assert.notEqual(look.matchBackground, 'rgba(0, 0, 0, 0)');
      assert.deepEqual([look.selected, look.line], ['summar', 5], 'Enter selects the first match');
      assert.deepEqual(look.violations, []);
      await page.keyboard.press('Escape');
      await page.waitForFunction(`!${shadow}.querySelector('.cm-panel.cm-search')`);
      assert.ok(await page.evaluate(() => window.__editor.view.hasFocus), 'Escape gives the focus back to the text');
    });

    await t.test('completion tooltips are styled in the shadow root', async () => {
      await page.evaluate(() => {
        window.__editor.setText('steps:\n  - agent: ');
        window.__addCompletions();
        window.__editor.focus();
      });
      await page.keyboard.press('Control+End');
      await page.keyboard.type('text.s', { delay: 15 });
      await page.waitForFunction(() => !!document.querySelector('[data-testid=yaml-editor]').shadowRoot
        .querySelector('.cm-tooltip-autocomplete li'));
      const look = await page.evaluate(() => {
        const root = document.querySelector('[data-testid=yaml-editor]').shadowRoot;
        const tooltip = root.querySelector('.cm-tooltip-autocomplete');
        const list = tooltip.querySelector('ul');
        return {
          options: [...list.querySelectorAll('li')].map((li) => li.textContent.replace(/^ƒ/, '')),
          background: getComputedStyle(tooltip).backgroundColor,
          border: getComputedStyle(tooltip).borderTopStyle,
          bullets: getComputedStyle(list).listStyleType,
          font: getComputedStyle(list).fontFamily,
          selected: getComputedStyle(list.querySelector('li[aria-selected]')).backgroundColor,
          violations: window.__violations,
        };
      });
      assert.ok(look.options.includes('text.summarize'), look.options.join());
      assert.equal(look.background, 'rgb(245, 245, 245)', "the view's tooltip theme applies");
      assert.equal(look.border, 'solid');
      assert.equal(look.bullets, 'none', "@codemirror/autocomplete's theme applies");
      assert.match(look.font, /monospace/);
      assert.equal(look.selected, 'rgb(17, 119, 204)');
      assert.deepEqual(look.violations, []);
      await page.locator('.cm-tooltip-autocomplete li', { hasText: 'text.summarize' }).click();
      assert.equal(await page.evaluate(() => window.__editor.getText()), 'steps:\n  - agent: text.summarize');
    });

    await t.test('a read-only editor takes no typing', async () => {
      const result = await page.evaluate(async () => {
        const { createYamlEditor } = window.__modules;
        const box = document.createElement('section');
        document.body.append(box);
        const ro = createYamlEditor(box, { doc: 'name: fixed\n', readOnly: true });
        box.dataset.testid = 'readonly';
        return { label: ro.view.contentDOM.getAttribute('aria-readonly') };
      });
      assert.equal(result.label, 'true');
      await page.click('[data-testid=readonly] .cm-content');
      await page.keyboard.type('abc');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Control+z');
      const text = await page.evaluate(() => document.querySelector('[data-testid=readonly] [data-testid=yaml-editor]')
        .shadowRoot.querySelector('.cm-content').textContent);
      assert.equal(text, 'name: fixed');
      await page.evaluate(() => document.querySelector('[data-testid=readonly]').remove());
    });

    await t.test('the graph: one node per step, edges with arrowheads, text kept as text', async () => {
      const svg = await page.evaluate(() => {
        const root = document.querySelector('#dag svg');
        return {
          viewBox: root.getAttribute('viewBox'),
          nodes: [...root.querySelectorAll('[data-step]')].map((g) => ({
            id: g.dataset.step, testid: g.dataset.testid, status: g.dataset.status, role: g.getAttribute('role'),
            tabindex: g.getAttribute('tabindex'), label: g.getAttribute('aria-label'),
            text: [...g.querySelectorAll('text')].map((x) => x.textContent),
          })),
          edges: [...root.querySelectorAll('path.loom-dag-edge')].map((p) => ({ from: p.dataset.from, to: p.dataset.to,
            marker: p.getAttribute('marker-end'), d: p.getAttribute('d') })),
          markers: [...root.querySelectorAll('defs marker')].map((m) => m.id),
          foreach: !!root.querySelector('[data-step=a] .stack') && !!root.querySelector('[data-step=a] .foreach-badge'),
          when: !!root.querySelector('[data-step=b] .when-badge'),
          imgs: document.querySelectorAll('img').length,
          pwned: window.__pwned,
        };
      });
      assert.match(svg.viewBox, /^0 0 \d+ \d+$/);
      assert.deepEqual(svg.nodes.map((n) => n.id), ['start', 'a', 'b', 'join']);
      for (const n of svg.nodes) {
        assert.equal(n.testid, `dag-node-${n.id}`);
        assert.equal(n.status, 'pending');
        assert.equal(n.role, 'button');
        assert.equal(n.tabindex, '0');
        assert.ok(n.text.includes(n.id), `${n.id} shows its id`);
      }
      assert.equal(svg.nodes[0].label, 'start (text.template): pending');
      assert.ok(svg.nodes[2].text.includes(STEPS[2].agent), 'the markup-looking agent is shown as text');
      assert.equal(svg.imgs, 0);
      assert.equal(svg.pwned, undefined);
      assert.deepEqual(svg.edges.map((e) => `${e.from}->${e.to}`).sort(), ['a->join', 'b->join', 'start->a', 'start->b']);
      assert.equal(svg.markers.length, 1);
      for (const e of svg.edges) {
        assert.equal(e.marker, `url(#${svg.markers[0]})`);
        assert.match(e.d, /^M[\d.]+,[\d.]+ .*L[\d.]+,[\d.]+$/);
      }
      assert.ok(svg.foreach, 'a foreach step is drawn stacked with a badge');
      assert.ok(svg.when, 'a conditional step has its diamond');
    });

    await t.test('click, Enter and Space select a node and call onSelect; Tab walks the nodes', async () => {
      await page.click('[data-testid=dag-node-b]');
      assert.deepEqual((await log()).selected, ['b']);
      assert.equal(await page.getAttribute('[data-testid=dag-node-b]', 'aria-pressed'), 'true');
      await page.focus('[data-testid=dag-node-start]');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.dataset.step), 'a');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.press(' ');
      assert.deepEqual((await log()).selected, ['b', 'a', 'join']);
      const pressed = await page.$$eval('[data-step]', (gs) => gs.map((g) => g.getAttribute('aria-pressed')));
      assert.deepEqual(pressed, ['false', 'false', 'false', 'true'], 'one node is selected at a time');
      await page.evaluate(() => window.__dag.select('start'));
      assert.equal(await page.getAttribute('[data-testid=dag-node-start]', 'aria-pressed'), 'true');
      assert.deepEqual((await log()).selected, ['b', 'a', 'join'], 'select() does not call onSelect');
    });

    await t.test('update() changes status, label, class and the attempt count', async () => {
      await page.evaluate(() => {
        document.activeElement.blur();
        window.__dag.select(null);
      });
      const pendingStroke = await page.$eval('[data-step=join] .box', (r) => getComputedStyle(r).stroke);
      await page.evaluate(() => window.__dag.update({
        start: { status: 'succeeded' },
        a: { status: 'running', attempts: 2, items: 3 },
        b: 'cached',
        unknown: { status: 'failed' },
      }));
      const nodes = await page.$$eval('[data-step]', (gs) => Object.fromEntries(gs.map((g) => [g.dataset.step, {
        status: g.dataset.status, cls: g.getAttribute('class'), label: g.getAttribute('aria-label'),
        cached: g.dataset.cached, note: g.querySelector('.note').textContent, glyph: g.querySelector('.glyph').textContent,
        stroke: getComputedStyle(g.querySelector('.box')).stroke, animation: getComputedStyle(g.querySelector('.box')).animationName,
        badge: g.querySelector('.foreach-badge text')?.textContent,
      }])));
      assert.equal(nodes.start.status, 'succeeded');
      assert.match(nodes.start.cls, /\bstatus-succeeded\b/);
      assert.doesNotMatch(nodes.start.cls, /status-pending/);
      assert.equal(nodes.start.label, 'start (text.template): succeeded');
      assert.equal(nodes.start.glyph, '✓');
      assert.equal(nodes.a.status, 'running');
      assert.equal(nodes.a.note, '↻2');
      assert.equal(nodes.a.badge, '×3');
      assert.equal(nodes.a.label, 'a (text.summarize): running, attempt 2, 3 items');
      assert.equal(nodes.a.animation, 'loom-dag-pulse', 'a running step pulses');
      assert.equal(nodes.b.status, 'succeeded');
      assert.equal(nodes.b.cached, 'true');
      assert.equal(nodes.b.note, 'cached');
      assert.match(nodes.b.label, /: succeeded, cached, conditional$/);
      assert.equal(nodes.join.status, 'pending', 'steps not named keep their status');
      assert.notEqual(nodes.start.stroke, pendingStroke, 'the status class is styled');
      const stroke = (id) => page.$eval(`[data-step=${id}] .box`, (r) => getComputedStyle(r).stroke);
      const cachedStroke = await stroke('b');
      await page.evaluate(() => window.__dag.select('b'));
      assert.notEqual(await stroke('b'), cachedStroke, 'the selection shows over the status');
      assert.equal(await page.$$eval('[aria-pressed=true]', (gs) => gs.length), 1);
      await page.evaluate(() => window.__dag.select(null));
      assert.equal(await page.$$eval('[aria-pressed=true]', (gs) => gs.length), 0, 'select(null) clears it');
      assert.equal(await stroke('b'), cachedStroke);
      await page.emulateMedia({ reducedMotion: 'reduce' });
      assert.equal(await page.$eval('[data-step=a] .box', (r) => getComputedStyle(r).animationName), 'none',
        'no pulse when less motion is asked for');
      await page.evaluate(() => window.__dag.update({ a: { status: 'failed', attempts: 1 } }));
      assert.equal(await page.getAttribute('[data-step=a]', 'data-status'), 'failed');
      assert.equal(await page.textContent('[data-step=a] .note'), '', 'one attempt is not shown');
    });

    await t.test('the graph scales down to its container', async () => {
      const width = await page.evaluate(() => {
        document.getElementById('dag').style.width = '160px';
        return document.querySelector('#dag svg').getBoundingClientRect().width;
      });
      assert.ok(width <= 160.5, `the drawing fits in 160 px (${width})`);
    });

    await t.test('nothing was refused or logged; the CSP listener does hear refusals', async () => {
      assert.deepEqual(await page.evaluate(() => window.__violations), []);
      assert.deepEqual(problems, []);
      // A style attribute is refused under this policy, and reported: the checks above could fail.
      await page.evaluate(() => document.body.setAttribute('style', 'color: red'));
      await page.waitForFunction(() => window.__violations.length > 0);
      assert.match((await page.evaluate(() => window.__violations))[0], /^style-src/);
    });

    await t.test('destroy() removes both', async () => {
      await page.evaluate(() => {
        window.__dag.destroy();
        window.__editor.destroy();
      });
      assert.equal(await page.locator('#dag svg, .cm-editor').count(), 0);
    });
  } finally {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
    await rm(dir, { recursive: true, force: true });
  }
});
