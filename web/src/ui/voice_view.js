// voice_view.js — the voice panel: "does this still sound like Mara?" The writer's voices on the
// left (built from pasted passages, from a character's dialogue in the manuscript, or from a
// knowledge entry); on the right the selected voice's style against the background (a bar chart
// of each feature's distance from everyone else), its signature words, and a passage scored
// against it (0-100 with how sure, and the reasons in plain words) or several ranked.
import { el, errorBlock, formatTime, svg } from './dom.js';
import { confidenceLabel } from '../voice.js';
import { voiceTestSection } from './voice_test.js';

const COMPARE_SLOTS = 5;

// What the writer typed, kept for the page's life: choosing a voice redraws the view, and a
// half-pasted manuscript or the passage being scored must survive that (and any error).
const draft = { name: '', references: '', manuscript: '', character: '', aliases: '', candidate: '',
  compare: Array(COMPARE_SLOTS).fill('') };

function wordCount(text) {
  return (String(text).match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? []).length;
}

function number(v) {
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return Number(v).toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function signed(z) {
  return `${z < 0 ? '−' : '+'}${Math.abs(z).toFixed(1)}`;
}

// A <textarea>/<input> bound to draft[key].
function bound(control, key) {
  control.value = draft[key];
  control.addEventListener('input', () => {
    draft[key] = control.value;
  });
  return control;
}

function field(label, control, help) {
  return el('div', { cls: 'input' }, [
    el('label', { cls: 'field', attrs: { for: control.id } }, [el('span', { cls: 'label', text: label }), help ? el('span', { cls: 'help', text: help }) : '']),
    control,
  ]);
}

/// The profile's features as an SVG bar chart: one row per feature, its bar drawn from the centre
/// line (the background's mean) to the right when the voice has more of it, to the left when less,
/// by how many of the background's standard deviations; the value in its unit on the right.
export function featureChart(features, { name = 'this voice' } = {}) {
  const rowH = 24;
  const labelW = 190;
  const barW = 300;
  const valueW = 250;
  const top = 36;  // the axis' words, then the ticks, above the rows
  const width = labelW + barW + valueW;
  const height = top + rowH * features.length + 8;
  const centre = labelW + barW / 2;
  const limit = 4;  // standard deviations shown; beyond, the bar stops at the edge with an arrow
  const scale = (barW / 2 - 4) / limit;
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'voice-chart', role: 'img', 'data-testid': 'voice-chart',
    'aria-label': `${name}'s style against the background: each bar is how far from everyone else, in standard deviations`,
  });
  for (const sd of [-3, -2, -1, 1, 2, 3]) {
    const x = centre + sd * scale;
    chart.append(svg('line', { x1: x, x2: x, y1: top - 4, y2: height - 6, class: 'grid' }));
    chart.append(svg('text', { x, y: top - 8, class: 'tick', 'text-anchor': 'middle' }, `${sd > 0 ? '+' : '−'}${Math.abs(sd)}`));
  }
  chart.append(svg('text', { x: centre - 8, y: 11, class: 'axis', 'text-anchor': 'end' }, '← less than the background'));
  chart.append(svg('text', { x: centre + 8, y: 11, class: 'axis', 'text-anchor': 'start' }, 'more →'));
  features.forEach((f, i) => {
    const y = top + i * rowH;
    const z = Number(f.z) || 0;
    const clamped = Math.max(-limit, Math.min(limit, z));
    const w = Math.max(1, Math.abs(clamped) * scale);
    const row = svg('g', { class: 'row', 'data-feature': f.id });
    row.append(svg('title', {}, `${f.label}: ${number(f.value)} ${f.unit} (the background: ${number(f.background_mean)}; ${signed(z)} sd)`));
    row.append(svg('text', { x: labelW - 8, y: y + rowH / 2 + 4, class: 'label', 'text-anchor': 'end' }, f.label));
    row.append(svg('rect', {
      x: clamped < 0 ? centre - w : centre, y: y + 4, width: w, height: rowH - 8,
      class: `bar ${z < 0 ? 'less' : 'more'}${Math.abs(z) >= 2 ? ' far' : ''}`,
      'data-testid': `voice-bar-${f.id}`, 'data-z': z.toFixed(3),
    }));
    if (Math.abs(z) > limit) {
      const edge = clamped < 0 ? centre - w : centre + w;
      row.append(svg('text', { x: edge + (clamped < 0 ? -2 : 2), y: y + rowH / 2 + 4, class: 'overflow', 'text-anchor': clamped < 0 ? 'end' : 'start' }, clamped < 0 ? '◂' : '▸'));
    }
    row.append(svg('text', { x: labelW + barW + 8, y: y + rowH / 2 + 4, class: 'value' }, `${number(f.value)} ${f.unit}`));
    chart.append(row);
  });
  chart.append(svg('line', { x1: centre, x2: centre, y1: top - 4, y2: height - 6, class: 'centre' }));
  return chart;
}

// The lines found for a character, collapsible.
function linesBlock(lines, who) {
  if (!lines.length) {
    return el('div', { cls: 'voice-lines', attrs: { 'data-testid': 'voice-lines' } }, [
      el('p', { cls: 'note', attrs: { 'data-testid': 'voice-lines-count' },
        text: `No lines by ${who} were found. The manuscript needs quoted speech attributed to them (“…,” said ${who}) or script lines (${who.toUpperCase()}: …).` }),
    ]);
  }
  const words = lines.reduce((n, l) => n + wordCount(l.text), 0);
  return el('div', { cls: 'voice-lines', attrs: { 'data-testid': 'voice-lines' } }, [
    el('p', { attrs: { 'data-testid': 'voice-lines-count' },
      text: `Found ${lines.length} line${lines.length === 1 ? '' : 's'} by ${who} (${words.toLocaleString('en')} words)${words < 100 ? ': a voice needs at least 100 words' : ''}.` }),
    el('details', {}, [
      el('summary', { text: 'Show the lines' }),
      el('ol', {}, lines.map((l) => el('li', { text: l.speaker && l.speaker !== who ? `${l.speaker}: ${l.text}` : l.text }))),
    ]),
  ]);
}

function sourceText(record) {
  const s = record.source ?? {};
  if (s.kind === 'manuscript') {
    const also = s.passages ? ` and ${s.passages} pasted passage${s.passages === 1 ? '' : 's'}` : '';
    return `${s.lines ?? '?'} line${s.lines === 1 ? '' : 's'} of ${s.character}'s dialogue from a manuscript${also}`;
  }
  if (s.kind === 'knowledge') return `the knowledge entry ${s.entry ?? ''}`.trim();
  const n = record.references?.length ?? 0;
  return `${n} pasted passage${n === 1 ? '' : 's'}`;
}

/// Draws the voice panel into `root`; `selected` is the voice shown. Returns {destroy()}.
export async function voiceView(root, ctx, selected) {
  const { voices } = ctx;
  if (!voices) {
    root.replaceChildren(el('section', { cls: 'panel' }, [el('h2', { text: 'Voice' }),
      el('p', { cls: 'note', text: 'The voice panel did not start; see the message above.' })]));
    return { destroy() {} };
  }
  let gone = false;
  let stopModelTest = () => {};  // the model comparison follows its run until the view goes
  const list = el('ul', { cls: 'voice-list', attrs: { 'data-testid': 'voice-list' } });
  const bgStatus = el('div', { cls: 'note voice-bg', attrs: { 'data-testid': 'voice-background', 'aria-live': 'polite' } });
  const main = el('section', { cls: 'panel main voice-main' });
  root.replaceChildren(el('div', { cls: 'split' }, [
    el('nav', { cls: 'panel side', attrs: { 'aria-label': 'Voices' } }, [
      el('div', { cls: 'panel-head' }, [
        el('h2', { text: 'Voices' }),
        el('button', { text: 'New voice', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'voice-new' }, on: { click: () => ctx.navigate('#/voice') } }),
      ]),
      list, bgStatus,
    ]),
    main,
  ]));

  // The background: loaded once per page, when the panel first opens.
  function showBackground() {
    if (voices.loaded) {
      const { passages, words } = voices.info;
      bgStatus.replaceChildren(el('span', { text: `Measured against ${Number(passages).toLocaleString('en')} passages (${Number(words).toLocaleString('en')} words) of other writers.` }));
      bgStatus.dataset.state = 'ready';
      return;
    }
    bgStatus.dataset.state = 'loading';
    bgStatus.replaceChildren(el('span', { cls: 'voice-loading', attrs: { 'data-testid': 'voice-loading' }, text: 'Loading the background…' }));
    voices.background().then(() => {
      if (!gone) showBackground();
    }, (e) => {
      if (gone) return;
      bgStatus.dataset.state = 'failed';
      bgStatus.replaceChildren(errorBlock(e, { testid: 'voice-background-error' }),
        el('button', { text: 'Try again', cls: 'secondary small', attrs: { type: 'button' }, on: { click: showBackground } }));
    });
  }

  let records = [];
  async function drawList() {
    try {
      records = await voices.list();
    } catch (e) {
      list.replaceChildren(el('li', {}, [errorBlock(e)]));
      return;
    }
    if (gone) return;
    list.replaceChildren(...records.map((r) => el('li', {}, [el('a', {
      cls: r.name === selected ? 'selected' : '',
      attrs: { href: `#/voice/${encodeURIComponent(r.name)}`, 'data-testid': `voice-item-${r.name}`, ...(r.name === selected ? { 'aria-current': 'true' } : {}) },
    }, [
      el('span', { cls: 'name', text: r.name }),
      el('span', { cls: 'help', text: `${Number(r.profile?.words ?? 0).toLocaleString('en')} words · built ${formatTime(r.built)}` }),
    ])])));
    if (!records.length) list.replaceChildren(el('li', { cls: 'note', text: 'No voices yet: build one from a character\'s lines or an author\'s pages.' }));
  }

  // ---- a new voice ----

  async function newVoiceForm(note) {
    const name = bound(el('input', { attrs: { type: 'text', id: 'voice-name', 'data-testid': 'voice-name', autocomplete: 'off', placeholder: 'Mara' } }), 'name');
    const references = bound(el('textarea', { attrs: { id: 'voice-references', rows: '10', 'data-testid': 'voice-references' } }), 'references');
    const manuscript = bound(el('textarea', { attrs: { id: 'voice-manuscript', rows: '8', 'data-testid': 'voice-manuscript' } }), 'manuscript');
    const character = bound(el('input', { attrs: { type: 'text', id: 'voice-character', 'data-testid': 'voice-character', autocomplete: 'off' } }), 'character');
    const aliases = bound(el('input', { attrs: { type: 'text', id: 'voice-aliases', 'data-testid': 'voice-aliases', autocomplete: 'off' } }), 'aliases');
    const lines = el('div', { attrs: { 'aria-live': 'polite' } });
    const errors = el('div', { cls: 'errors', attrs: { 'aria-live': 'assertive' } });
    const status = el('p', { cls: 'note', attrs: { 'data-testid': 'voice-status', 'aria-live': 'polite' } });
    const build = el('button', { text: 'Build the voice', attrs: { type: 'submit', 'data-testid': 'voice-build' } });

    // The knowledge base's characters, as a quick source of text.
    let fromKnowledge = '';
    const characters = ctx.knowledge ? (await ctx.knowledge.list().catch(() => [])).filter((e) => e.category === 'character' && e.text.trim()) : [];
    if (characters.length) {
      const pick = el('select', { attrs: { id: 'voice-knowledge', 'data-testid': 'voice-knowledge' } }, [
        el('option', { text: 'a character entry…', attrs: { value: '' } }),
        ...characters.map((e) => el('option', { text: e.name, attrs: { value: e.id } })),
      ]);
      pick.addEventListener('change', () => {
        const entry = characters.find((e) => e.id === pick.value);
        if (!entry) return;
        references.value = [references.value.trim(), entry.text.trim()].filter(Boolean).join('\n\n');
        draft.references = references.value;
        if (!name.value.trim()) name.value = draft.name = entry.name;
        pick.value = '';
      });
      fromKnowledge = field('from the knowledge base', pick, 'adds the entry\'s text to the passages (best when it holds the character\'s own words)');
    }

    async function findLines() {
      errors.replaceChildren();
      const who = character.value.trim();
      try {
        const found = await voices.linesOf(manuscript.value, [who, ...aliases.value.split(',')]);
        lines.replaceChildren(linesBlock(found, who));
      } catch (e) {
        errors.replaceChildren(errorBlock(e, { testid: 'voice-error' }));
      }
    }

    const form = el('form', { cls: 'voice-form', attrs: { 'data-testid': 'voice-form', novalidate: true } }, [
      el('h2', { text: 'New voice' }),
      note ? el('p', { cls: 'note', text: note }) : '',
      el('p', { cls: 'note', text: 'A voice is built from its own words, at least 100 of them; a few thousand give steadier scores.' }),
      field('name', name, 'the character or the author; building again under the same name replaces the voice'),
      field('reference passages', references, 'the voice\'s own words; separate passages with a blank line'),
      fromKnowledge,
      el('fieldset', { cls: 'voice-manuscript' }, [
        el('legend', { text: 'or from the manuscript' }),
        field('manuscript', manuscript, 'paste chapters; the character\'s quoted speech (“…,” said Mara) and script lines (MARA: …) are taken'),
        el('div', { cls: 'scope' }, [
          field('character', character, 'as the manuscript names them'),
          field('aliases', aliases, 'other names, separated by commas'),
        ]),
        el('div', { cls: 'actions' }, [el('button', { text: 'Find the lines', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'voice-find-lines' }, on: { click: findLines } })]),
        lines,
      ]),
      el('div', { cls: 'actions' }, [build, status]),
      errors,
    ]);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      errors.replaceChildren();
      build.disabled = true;
      status.textContent = voices.loaded ? 'Building…' : 'Loading the background, then building…';
      try {
        const fromManuscript = manuscript.value.trim() !== '';
        const { record, lines: found } = await voices.build({
          name: name.value, references: references.value,
          manuscript: fromManuscript ? manuscript.value : undefined,
          character: character.value, aliases: aliases.value,
        });
        if (found) lines.replaceChildren(linesBlock(found, character.value.trim()));
        for (const key of ['name', 'references', 'manuscript', 'character', 'aliases']) draft[key] = '';
        ctx.navigate(`#/voice/${encodeURIComponent(record.name)}`);
      } catch (e) {
        // What the writer typed stays where it is; the error says what to change.
        status.textContent = '';
        errors.replaceChildren(errorBlock(e, { testid: 'voice-error' }));
        if (manuscript.value.trim() && character.value.trim() && e?.code !== 'unavailable') {
          voices.linesOf(manuscript.value, [character.value, ...aliases.value.split(',')])
            .then((found) => lines.replaceChildren(linesBlock(found, character.value.trim())), () => {});
        }
      } finally {
        build.disabled = false;
      }
    });
    main.replaceChildren(form);
  }

  // ---- a voice ----

  function voiceDetail(record) {
    const chartBox = el('div', { cls: 'voice-chart-box' });
    const signature = el('ul', { cls: 'voice-signature', attrs: { 'data-testid': 'voice-signature' } });
    const refs = el('details', { cls: 'voice-refs' });
    const facts = el('dl', { cls: 'facts' });
    function drawProfile(r) {
      const p = r.profile ?? {};
      chartBox.replaceChildren(featureChart(p.features ?? [], { name: r.name }));
      const words = p.signature_words ?? [];
      signature.replaceChildren(...(words.length
        ? words.map((w) => el('li', { text: w.word, attrs: { title: `${Number(w.weight).toFixed(2)}` } }))
        : [el('li', { cls: 'note', text: 'No word stands out yet (a signature word is one the voice uses at least 3 times, far more than others do).' })]));
      refs.replaceChildren(
        el('summary', { text: `The references: ${sourceText(r)}` }),
        el('ol', {}, (r.references ?? []).map((t) => el('li', { text: t }))),
      );
      facts.replaceChildren(
        el('dt', { text: 'words' }), el('dd', { text: Number(p.words ?? 0).toLocaleString('en') }),
        el('dt', { text: 'built' }), el('dd', { text: formatTime(r.built) }),
      );
    }
    drawProfile(record);

    const candidate = bound(el('textarea', { attrs: { id: 'voice-candidate', rows: '8', 'data-testid': 'voice-candidate' } }), 'candidate');
    const result = el('div', { cls: 'voice-result', attrs: { 'data-testid': 'voice-result', 'aria-live': 'polite' } });
    const scoreButton = el('button', { text: 'Score', attrs: { type: 'submit', 'data-testid': 'voice-score-button' } });
    // "Rather than the others?": the score relative to the writer's other voices (docs/voice.md).
    const relative = el('input', { attrs: { type: 'checkbox', id: 'voice-relative', 'data-testid': 'voice-relative' } });
    const relativeLabel = el('label', { attrs: { for: 'voice-relative' } }, [
      relative, ` relative to my other voices (${record.name} rather than them?)`]);
    const castNames = async () => (relative.checked ? (await voices.list()).map((v) => v.name) : []);
    const scoreForm = el('form', { cls: 'voice-score-form', attrs: { novalidate: true } }, [
      field('passage', candidate, `a draft passage: how much does it sound like ${record.name}?`),
      el('div', { cls: 'actions' }, [relativeLabel, scoreButton]),
      result,
    ]);
    scoreForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      scoreButton.disabled = true;
      result.replaceChildren(el('p', { cls: 'note', text: voices.loaded ? 'Scoring…' : 'Loading the background…' }));
      try {
        const s = await voices.score(record.name, candidate.value, { cast: await castNames() });
        if (!gone) result.replaceChildren(...scoreBlock(s, record.name));
      } catch (e) {
        result.replaceChildren(errorBlock(e, { testid: 'voice-score-error' }));
      } finally {
        scoreButton.disabled = false;
        result.dataset.done = String(Number(result.dataset.done ?? 0) + 1);  // how many answers so far
      }
    });

    const slots = draft.compare.map((_, i) => {
      const t = el('textarea', { attrs: { id: `voice-compare-${i + 1}`, rows: '4', 'data-testid': `voice-compare-${i + 1}` } });
      t.value = draft.compare[i];
      t.addEventListener('input', () => {
        draft.compare[i] = t.value;
      });
      return t;
    });
    const ranking = el('div', { attrs: { 'aria-live': 'polite', 'data-testid': 'voice-rank-result' } });
    const rankButton = el('button', { text: 'Rank them', attrs: { type: 'submit', 'data-testid': 'voice-rank-button' } });
    const compareForm = el('form', { cls: 'voice-compare', attrs: { novalidate: true } }, [
      el('p', { cls: 'note', text: `Up to ${COMPARE_SLOTS} versions of a passage, ranked by how much each sounds like ${record.name}.` }),
      ...slots.map((t, i) => field(`passage ${i + 1}`, t)),
      el('div', { cls: 'actions' }, [rankButton]),
      ranking,
    ]);
    compareForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const candidates = slots.map((t, i) => ({ label: `passage ${i + 1}`, text: t.value })).filter((c) => c.text.trim());
      if (candidates.length < 2) {
        ranking.replaceChildren(errorBlock(Object.assign(new Error('Paste two passages or more to compare them.'), { code: 'bad_argument' }), { testid: 'voice-rank-error' }));
        return;
      }
      rankButton.disabled = true;
      ranking.replaceChildren(el('p', { cls: 'note', text: voices.loaded ? 'Ranking…' : 'Loading the background…' }));
      try {
        const r = await voices.rank(record.name, candidates, { cast: await castNames() });
        if (!gone) ranking.replaceChildren(...rankingBlock(r, candidates));
      } catch (e) {
        ranking.replaceChildren(errorBlock(e, { testid: 'voice-rank-error' }));
      } finally {
        rankButton.disabled = false;
        ranking.dataset.done = String(Number(ranking.dataset.done ?? 0) + 1);
      }
    });

    // Which model writes as this voice (voice_testing), when the studio has its scene workflows.
    stopModelTest();
    const modelTest = ctx.scenes ? voiceTestSection({ ctx, record }) : null;
    stopModelTest = () => modelTest?.destroy();

    const errors = el('div', { cls: 'errors' });
    async function remove() {
      if (!confirm(`Delete the voice ${record.name}? Its references go with it.`)) return;
      try {
        await voices.remove(record.name);
        ctx.navigate('#/voice');
      } catch (e) {
        errors.replaceChildren(errorBlock(e));
      }
    }

    main.replaceChildren(el('article', { attrs: { 'data-testid': 'voice-detail', 'data-voice': record.name } }, [
      el('div', { cls: 'panel-head' }, [
        el('h2', { text: record.name }),
        el('button', { text: 'Delete', cls: 'secondary danger small', attrs: { type: 'button', 'data-testid': 'voice-delete' }, on: { click: remove } }),
      ]),
      errors, facts, refs,
      el('h3', { text: `How ${record.name} writes, against everyone else` }),
      chartBox,
      el('h3', { text: 'Signature words' }),
      signature,
      el('h3', { text: 'Score a passage' }),
      scoreForm,
      el('details', { cls: 'voice-compare-box' }, [el('summary', { text: 'Compare passages' }), compareForm]),
      modelTest ? modelTest.element : '',
    ]));

    // A profile made against another background (an older release) is rebuilt from its references.
    voices.current(record.name).then((fresh) => {
      if (!gone && fresh.built !== record.built) drawProfile(fresh);
    }, (e) => {
      if (!gone && voices.loaded) errors.replaceChildren(errorBlock(e));  // a background that failed to load is shown on the left
    });
  }

  function scoreBlock(s, name) {
    const conf = confidenceLabel(s.confidence);
    return [
      el('div', { cls: 'voice-score-line' }, [
        el('span', { cls: 'voice-score', attrs: { 'data-testid': 'voice-score', 'data-score': s.score }, text: String(Math.round(s.score)) }),
        el('span', { cls: 'voice-uncertainty', text: `± ${Math.round(s.uncertainty)}` }),
        el('span', { cls: `voice-confidence ${conf.level}`, attrs: { 'data-testid': 'voice-confidence', 'data-level': conf.level }, text: conf.text }),
      ]),
      el('p', { cls: 'note', text: `out of 100 over ${Number(s.words).toLocaleString('en')} words · 50: as close as an unrelated voice · 90: as close as ${name}'s own other passages` }),
      el('ul', { cls: 'voice-evidence', attrs: { 'data-testid': 'voice-evidence' } }, (s.evidence ?? []).map((e) => el('li', {
        cls: Math.abs(e.z) >= 2 ? 'far' : '', attrs: { 'data-feature': e.feature }, text: e.text,
      }))),
    ];
  }

  function rankingBlock(r, candidates) {
    const rows = r.ranking.map((x) => {
      const conf = confidenceLabel(x.confidence);
      return el('tr', { cls: r.best === x.candidate ? 'best' : '', attrs: { 'data-candidate': x.candidate, 'data-rank': x.rank, 'data-tie': x.tie } }, [
        el('td', { text: `${x.tie ? '=' : ''}${x.rank}` }),
        el('th', { attrs: { scope: 'row' }, text: x.label ?? candidates[x.candidate]?.label ?? `passage ${x.candidate + 1}` }),
        el('td', { cls: 'num', text: `${Math.round(x.score)} ± ${Math.round(x.uncertainty)}` }),
        el('td', { text: conf.text }),
        el('td', { cls: 'num', text: Number(x.words).toLocaleString('en') }),
      ]);
    });
    return [
      el('table', { cls: 'voice-ranking', attrs: { 'data-testid': 'voice-ranking' } }, [
        el('thead', {}, [el('tr', {}, ['rank', 'passage', 'score', 'confidence', 'words'].map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
        el('tbody', {}, rows),
      ]),
      el('p', { cls: 'note', text: r.best == null
        ? 'The top is a tie: those passages are too close to call at these lengths (=).'
        : `Closest: ${r.ranking.find((x) => x.candidate === r.best)?.label ?? `passage ${r.best + 1}`}.` }),
    ];
  }

  showBackground();
  await drawList();
  const record = selected ? records.find((r) => r.name === selected) : null;
  if (record) voiceDetail(record);
  else await newVoiceForm(selected ? `There is no voice called ${selected}; build it here.` : '');
  return {
    destroy() {
      gone = true;
      stopModelTest();
    },
  };
}
