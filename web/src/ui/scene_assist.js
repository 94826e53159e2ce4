// scene_assist.js — the scene editor's "Write with a model" box: draft the scene from its outline
// (scene_generation) or rewrite it in a character's voice (scene_enhancement), this scene's runs
// with what became of them, and what they cost. Starting a run opens its run view, where it
// streams and then asks for approval; the approved text comes back as a new revision (scenes.js).
import { el, errorBlock, formatDollars } from './dom.js';

/// "$0.0123 · 1,234 tokens (3 runs)", or '' when nothing was spent.
export function formatSpend(spend) {
  if (!spend?.runs) return '';
  const tokens = (spend.input_tokens + spend.output_tokens).toLocaleString('en');
  return `${formatDollars(spend.cost_usd)} · ${tokens} tokens (${spend.runs} run${spend.runs === 1 ? '' : 's'})`;
}

const OUTCOME = {
  approve: 'kept', edit: 'kept, edited', reject: 'rejected', unchanged: 'already in the voice',
};

/// The box for scene `scene` of `project`. `flush()` saves the text being typed first (the
/// rewrite starts from it).
export function sceneAssist({ ctx, scene, project, flush }) {
  const flows = ctx.scenes;
  const error = el('div', { attrs: { 'data-testid': 'ms-ai-error' } });
  const modelSelect = el('select', { attrs: { id: 'ms-ai-model', 'data-testid': 'ms-ai-model' } });
  const words = el('input', { attrs: { type: 'number', id: 'ms-gen-words', 'data-testid': 'ms-gen-words', min: '50', max: '6000', step: '50', value: '800' } });
  const character = el('input', { attrs: { type: 'text', id: 'ms-enh-character', 'data-testid': 'ms-enh-character', autocomplete: 'off', placeholder: 'the POV character' } });
  const target = el('input', { attrs: { type: 'number', id: 'ms-enh-target', 'data-testid': 'ms-enh-target', min: '50', max: '95', step: '1', value: '75' } });
  const iterations = el('input', { attrs: { type: 'number', id: 'ms-enh-iterations', 'data-testid': 'ms-enh-iterations', min: '1', max: '6', step: '1', value: '3' } });
  const runList = el('ul', { cls: 'ms-runs', attrs: { 'data-testid': 'ms-runs' } });
  const spent = el('p', { cls: 'help', attrs: { 'data-testid': 'ms-spend-scene' } });

  const field = (label, control) => el('label', { cls: 'field inline', attrs: { for: control.id } }, [el('span', { cls: 'label', text: label }), control]);
  const chosenModel = () => modelSelect.value || undefined;

  async function start(kind) {
    error.replaceChildren();
    try {
      await flush();
      const id = kind === 'generate'
        ? await flows.generate(scene.id, { model: chosenModel(), targetWords: Number(words.value) || 800 })
        : await flows.enhance(scene.id, { character: character.value.trim() || undefined, model: chosenModel(),
          targetScore: Number(target.value) || 75, maxIterations: Math.min(6, Math.max(1, Number(iterations.value) || 3)) });
      ctx.navigate(`#/runs/${id}`);
    } catch (e) {
      error.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
    }
  }

  async function fill() {
    try {
      const [{ names, fallback }, linked, spend] = await Promise.all([flows.modelNames(), flows.runsOf(scene.id), flows.spend(project.id)]);
      const mine = spend.scenes[scene.id];
      spent.textContent = mine?.runs ? `Spent on this scene: ${formatSpend(mine)}` : '';
      const projectDefault = project.default_model && names.includes(project.default_model) ? project.default_model : '';
      modelSelect.replaceChildren(
        el('option', { attrs: { value: '' }, text: projectDefault ? `the project's default (${projectDefault})` : `the pool's default (${fallback || 'none'})` }),
        ...names.map((n) => el('option', { attrs: { value: n }, text: n })),
      );
      runList.replaceChildren(...linked.map((r) => el('li', { attrs: { 'data-testid': `ms-run-${r.id}` } }, [
        el('a', { attrs: { href: `#/runs/${r.id}` }, text: r.workflow === 'scene_enhancement' ? 'voice rewrite' : 'draft' }),
        el('span', { cls: 'help', text: ` ${r.status === 'succeeded' ? OUTCOME[r.outputs?.decision] ?? 'done' : r.status}` +
          `${r.applied?.saved ? ` → revision #${r.applied.revision}` : ''}` +
          `${r.cost_usd ? ` · ${formatDollars(r.cost_usd)}` : ''}` }),
      ])));
      if (!linked.length) runList.replaceChildren(el('li', { cls: 'note', text: 'No model has worked on this scene yet.' }));
    } catch (e) {
      error.replaceChildren(errorBlock(e));
    }
  }
  fill();

  return el('details', { cls: 'ms-assist', attrs: { 'data-testid': 'ms-assist', open: '' } }, [
    el('summary', { text: 'Write with a model' }),
    el('div', { cls: 'ms-assist-row' }, [field('Model', modelSelect)]),
    el('div', { cls: 'ms-assist-row' }, [
      field('About this many words', words),
      el('button', { text: 'Draft this scene', attrs: { type: 'button', 'data-testid': 'ms-generate' }, on: { click: () => start('generate') } }),
    ]),
    el('p', { cls: 'help', text: 'From the outline and beats, with what the knowledge base says about them, scored in the POV character\'s voice. You approve, edit or reject the draft before it becomes a revision.' }),
    el('div', { cls: 'ms-assist-row' }, [
      field('In the voice of', character), field('until it scores', target), field('at most, rewrites', iterations),
      el('button', { text: 'Rewrite in this voice', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'ms-enhance' }, on: { click: () => start('enhance') } }),
    ]),
    el('p', { cls: 'help', text: 'The voice comes from the Voice panel\'s voice of that name, the character\'s knowledge entry and their lines in the other scenes.' }),
    error,
    el('h4', { text: 'Runs for this scene' }),
    runList,
    spent,
  ]);
}
