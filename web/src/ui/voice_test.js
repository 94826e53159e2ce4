// voice_test.js — the Voice panel's "Which model writes as <name>?": one prompt to 2-5 models of
// the pool at once (voice_testing), their answers ranked by the voice; the comparison matrix
// (score, confidence, evidence, tokens, cost, latency), a chart of the scores with their
// uncertainty, and the recommended model, which the writer can make a project's default. The last
// comparison for the voice is shown again when the panel is reopened (it is a stored run).
import { el, errorBlock, formatDollars, svg } from './dom.js';
import { FINISHED } from '../host.js';
import { confidenceLabel } from '../voice.js';

const seconds = (ms) => (ms == null ? '—' : `${(ms / 1000).toFixed(1)} s`);

/// The scores as horizontal bars on a 0-100 axis, each with its ± uncertainty as a whisker, and
/// the 50 (an unrelated voice) and 90 (the voice itself) marks.
export function scoreChart(rows) {
  const labelW = 130;
  const barW = 360;
  const rowH = 26;
  const top = 22;
  const height = top + rows.length * rowH + 8;
  const x = (score) => labelW + (Math.max(0, Math.min(100, score)) / 100) * barW;
  const chart = svg('svg', { class: 'vt-chart', viewBox: `0 0 ${labelW + barW + 70} ${height}`, role: 'img',
    'aria-label': 'Voice score of each model, 0 to 100', 'data-testid': 'vt-chart' });
  for (const [mark, text] of [[50, '50 unrelated'], [90, '90 the voice']]) {
    chart.append(svg('line', { x1: x(mark), x2: x(mark), y1: top - 6, y2: height - 4, class: 'grid' }));
    chart.append(svg('text', { x: x(mark), y: top - 10, class: 'tick', 'text-anchor': 'middle' }, text));
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const g = svg('g', { class: `row${i === 0 && !r.tie ? ' best' : ''}`, 'data-model': r.model });
    g.append(svg('title', {}, `${r.model}: ${r.score} ± ${r.uncertainty}`));
    g.append(svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, class: 'label', 'text-anchor': 'end' }, r.model));
    g.append(svg('rect', { x: labelW, y: y + 5, width: Math.max(1, x(r.score) - labelW), height: rowH - 10, class: 'bar' }));
    g.append(svg('line', { x1: x(r.score - r.uncertainty), x2: x(r.score + r.uncertainty), y1: y + rowH / 2, y2: y + rowH / 2, class: 'whisker' }));
    g.append(svg('text', { x: labelW + barW + 8, y: y + rowH / 2 + 4, class: 'value' }, `${Math.round(r.score)} ± ${Math.round(r.uncertainty)}`));
    chart.append(g);
  });
  return chart;
}

/// The section for voice `record` (a stored voice).
export function voiceTestSection({ ctx, record }) {
  const { scenes: flows, runs, manuscript, storage } = ctx;
  const prompt = el('textarea', { attrs: { id: 'vt-prompt', rows: '4', 'data-testid': 'vt-prompt',
    placeholder: `${record.name} tells a stranger how to row out through the fog.` } });
  const modelBox = el('fieldset', { cls: 'vt-models', attrs: { 'data-testid': 'vt-models' } }, [el('legend', { text: 'Models (2 to 5)' })]);
  const projectSelect = el('select', { attrs: { id: 'vt-project', 'data-testid': 'vt-project' } });
  const runButton = el('button', { text: 'Ask each model', attrs: { type: 'submit', 'data-testid': 'vt-run' } });
  const statusBox = el('div', { cls: 'vt-status', attrs: { 'data-testid': 'vt-status', 'aria-live': 'polite' } });
  const result = el('div', { cls: 'vt-result', attrs: { 'data-testid': 'vt-result' } });
  const errors = el('div');
  let stop = () => {};

  async function fill() {
    try {
      const [{ names }, projects] = await Promise.all([flows.modelNames(), manuscript.listProjects()]);
      modelBox.replaceChildren(el('legend', { text: 'Models (2 to 5)' }), ...names.map((n) => el('label', { cls: 'vt-model' }, [
        el('input', { attrs: { type: 'checkbox', value: n, 'data-testid': `vt-model-${n}` } }), ` ${n}`,
      ])));
      projectSelect.replaceChildren(el('option', { attrs: { value: '' }, text: 'no project' }),
        ...projects.map((p) => el('option', { attrs: { value: p.id }, text: p.title })));
      if (projects.length === 1) projectSelect.value = projects[0].id;
      const last = (await storage.listRuns({ limit: 200 }))
        .find((r) => r.workflow === 'voice_testing' && r.inputs?.character === record.name);
      if (last) follow(last.id);
    } catch (e) {
      errors.replaceChildren(errorBlock(e));
    }
  }

  // Shows run `id`: live progress per model while it runs, the comparison once it has one. The
  // stored run is read once; while it runs, its new events come with each change.
  function follow(id) {
    stop();
    const written = new Map();  // item i (model i) -> the text it has written so far
    const done = new Set();
    let lastSeq = 0;
    let record = null;
    let status = null;
    const fold = (events) => {
      for (const e of events ?? []) {
        if (e.seq <= lastSeq) continue;  // already folded in (the first read and a change overlap)
        lastSeq = e.seq;
        if (e.step !== 'drafts' || e.item == null) continue;
        if (e.type === 'step_output_delta') written.set(e.item, (written.get(e.item) ?? '') + (e.delta ?? ''));
        if (e.type === 'step_succeeded') done.add(e.item);
      }
    };
    const draw = async () => {
      if (!record) return;
      const link = el('a', { attrs: { href: `#/runs/${id}`, 'data-testid': 'vt-run-link' }, text: 'the run' });
      if (!FINISHED.has(status)) {
        const items = (record.inputs?.models ?? []).map((m, i) => {
          const text = written.get(i) ?? '';
          const words = text.trim() ? text.trim().split(/\s+/).length : 0;
          return el('li', { attrs: { 'data-model': m } }, [`${m}: `, el('span', { cls: 'help',
            text: done.has(i) ? `done, ${words} words` : words ? `${words} words so far` : 'waiting' })]);
        });
        statusBox.replaceChildren(el('p', {}, [`Asking ${items.length} models… (`, link, ')']), el('ul', {}, items));
        return;
      }
      statusBox.replaceChildren(el('p', { cls: 'help' }, [`${status === 'succeeded' ? 'Compared' : `The comparison ${status}`}: see `, link, '.']));
      if (status !== 'succeeded') {
        result.replaceChildren(record.error ? errorBlock(record.error, { testid: 'vt-error' }) : '');
        return;
      }
      const m = await flows.matrix(id);
      if (m) drawMatrix(m, record);
    };
    const redraw = () => draw().catch((e) => errors.replaceChildren(errorBlock(e)));
    let queued = false;  // one redraw at a time, however many changes come in meanwhile
    const unsubscribe = runs.subscribe((c) => {
      if (c.runId !== id) return;
      fold(c.events);
      if (c.record) record = c.record;
      status = c.record?.status ?? c.snapshot?.status ?? status;
      if (queued) return;
      queued = true;
      setTimeout(() => {
        queued = false;
        redraw();
      }, 100);
    });
    stop = unsubscribe;
    runs.view(id).then((view) => {
      if (!view) return;
      fold(view.events);
      record ??= view.record;
      status ??= view.snapshot?.status ?? view.record.status;
      redraw();
    }, (e) => errors.replaceChildren(errorBlock(e)));
  }

  function drawMatrix(m, runRecord) {
    const rows = m.rows.map((r) => el('tr', { cls: m.recommended === r.model ? 'best' : '', attrs: { 'data-model': r.model, 'data-rank': r.rank, 'data-tie': r.tie } }, [
      el('td', { text: `${r.tie ? '=' : ''}${r.rank}` }),
      el('th', { attrs: { scope: 'row' }, text: r.model }),
      el('td', { cls: 'num', text: `${Math.round(r.score)} ± ${Math.round(r.uncertainty)}` }),
      el('td', { text: confidenceLabel(r.confidence).text }),
      el('td', {}, [el('ul', { cls: 'vt-evidence' }, r.evidence.slice(0, 3).map((e) => el('li', { text: e.text })))]),
      el('td', { cls: 'num', text: `${r.tokens.input.toLocaleString('en')} in / ${r.tokens.output.toLocaleString('en')} out` }),
      el('td', { cls: 'num', text: formatDollars(r.cost_usd) }),
      el('td', { cls: 'num', text: seconds(r.latency_ms) }),
    ]));
    // The models that did not answer, last, with why (no key, no server, ...).
    for (const f of m.failed ?? []) {
      rows.push(el('tr', { cls: 'failed', attrs: { 'data-model': f.model, 'data-failed': 'true' } }, [
        el('td', { text: '—' }), el('th', { attrs: { scope: 'row' }, text: f.model }),
        el('td', { attrs: { colspan: '6' }, text: `did not answer: ${f.error ? `${f.error.code}: ${f.error.message}` : 'no text'}` }),
      ]));
    }
    const answers = el('details', { cls: 'vt-answers' }, [el('summary', { text: 'The answers' }),
      ...m.rows.map((r) => el('div', { attrs: { 'data-model': r.model } }, [el('h4', { text: r.model }), el('p', { cls: 'vt-answer', text: r.text })]))]);
    const makeDefault = el('div', { cls: 'actions' });
    const projectId = runRecord.link?.project ?? projectSelect.value;
    if (m.recommended && projectId) {
      makeDefault.append(el('button', { text: `Make ${m.recommended} the project's default model`, cls: 'secondary',
        attrs: { type: 'button', 'data-testid': 'vt-make-default' }, on: { click: async () => {
          try {
            const p = await manuscript.setDefaultModel(projectId, m.recommended);
            makeDefault.replaceChildren(el('p', { cls: 'note', attrs: { 'data-testid': 'vt-default-set' }, text: `${m.recommended} is now the default model of ${p.title}.` }));
          } catch (e) {
            makeDefault.append(errorBlock(e, { testid: 'vt-error' }));
          }
        } } }));
    }
    result.replaceChildren(
      el('p', { cls: 'vt-recommended', attrs: { 'data-testid': 'vt-recommended', 'data-model': m.recommended ?? '' }, text: m.recommended
        ? `Recommended: ${m.recommended} — its answer sounds most like ${m.character}.`
        : `No clear winner: the top answers are within each other's uncertainty (=). Try a longer prompt, or compare again.` }),
      scoreChart(m.rows),
      el('table', { cls: 'vt-matrix', attrs: { 'data-testid': 'vt-matrix' } }, [
        el('thead', {}, [el('tr', {}, ['rank', 'model', 'score', 'confidence', 'what differs', 'tokens', 'cost', 'time']
          .map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
        el('tbody', {}, rows),
      ]),
      makeDefault, answers,
    );
  }

  const form = el('form', { cls: 'vt-form', attrs: { novalidate: true } }, [
    el('label', { cls: 'field', attrs: { for: 'vt-prompt' } }, [el('span', { cls: 'label', text: 'The prompt every model gets' })]), prompt,
    modelBox,
    el('label', { cls: 'field inline', attrs: { for: 'vt-project' } }, [el('span', { cls: 'label', text: 'For the project' }), projectSelect]),
    el('div', { cls: 'actions' }, [runButton]),
    errors, statusBox, result,
  ]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    errors.replaceChildren();
    const models = [...modelBox.querySelectorAll('input:checked')].map((c) => c.value);
    runButton.disabled = true;
    try {
      const id = await flows.voiceTest({ projectId: projectSelect.value || undefined, prompt: prompt.value, models, character: record.name });
      result.replaceChildren();
      follow(id);
    } catch (e) {
      errors.replaceChildren(errorBlock(e, { testid: 'vt-error' }));
    } finally {
      runButton.disabled = false;
    }
  });
  fill();
  const section = el('details', { cls: 'vt', attrs: { 'data-testid': 'vt' } }, [
    el('summary', { text: `Which model writes as ${record.name}?` }),
    el('p', { cls: 'note', text: `The same prompt to each model at once; their answers ranked by how much they sound like ${record.name}.` }),
    form,
  ]);
  return { element: section, destroy: () => stop() };
}
