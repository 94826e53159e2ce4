// manuscript_view.js — the Manuscript view: the writer's projects and the selected project's
// outline (acts > chapters > scenes, word totals, scenes reordered by drag and drop or by the
// up/down buttons) on the left; on the right the selected scene's fields (saved on change), its
// text (autosaved a second after typing stops, on blur and when the page is hidden), a "Save
// revision" button, and its revisions (where each came from) with a word diff against the current
// text and Restore; the "Write with a model" box (scene_assist.js); what the models cost per
// scene, chapter and project, and the project's default model. Text goes in with textContent only.
import { el, errorBlock, formatTime } from './dom.js';
import { countWords } from '../manuscript.js';
import { formatSpend, sceneAssist } from './scene_assist.js';
import { SCENE_WORKFLOWS } from '../scenes.js';

const AUTOSAVE_DELAY_MS = 1000;
const TENSES = [['', '—'], ['past', 'past'], ['present', 'present']];
const STATUSES = ['idea', 'outline', 'draft', 'revised', 'final'];

// The last view's final save: the next view waits for it before reading the scene, so leaving a
// scene mid-sentence and coming back shows what was typed.
let lastFlush = Promise.resolve();

// The new-project title typed, kept over redraws.
const draft = { title: '' };

function words(n) {
  return `${Number(n ?? 0).toLocaleString('en')} word${n === 1 ? '' : 's'}`;
}

function button(text, testid, onClick, { cls = 'secondary small', label } = {}) {
  return el('button', { text, cls, attrs: { type: 'button', 'data-testid': testid, 'aria-label': label }, on: { click: onClick } });
}

/// Draws the Manuscript view into `root`; `arg` is '<projectId>/<sceneId>' (either may be
/// missing). Returns {destroy()}.
// A file name from a title: letters, digits, spaces and dashes kept, the rest dropped.
function fileName(title) {
  return String(title ?? '').replace(/[^\p{L}\p{N} _-]+/gu, '').trim().replace(/\s+/g, '-') || 'manuscript';
}

// Hands `blob` to the browser as a download named `name`.
function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', { attrs: { href: url, download: name } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Where a revision made by a run came from, in a line: "model local-a · voice 71 → 84 · edited".
function originText(o) {
  const parts = [];
  if (o.model) parts.push(`model ${o.model}`);
  if (o.scores?.before != null && o.scores?.after != null) parts.push(`${o.character ?? 'voice'} ${o.scores.before} → ${o.scores.after}`);
  else if (o.scores?.after != null) parts.push(`${o.character ?? 'voice'} ${o.scores.after}`);
  if (o.knowledge?.length) parts.push(`${o.knowledge.length} note${o.knowledge.length === 1 ? '' : 's'}`);
  if (o.edited) parts.push('edited');
  return parts.join(' · ');
}

export async function manuscriptView(root, ctx, arg) {
  const { manuscript } = ctx;
  if (!manuscript) {
    root.replaceChildren(el('section', { cls: 'panel' }, [el('h2', { text: 'Manuscript' }),
      el('p', { cls: 'note', text: 'The manuscript did not start; see the message above.' })]));
    return { destroy() {} };
  }
  await lastFlush.catch(() => {});
  const [projectId = null, sceneId = null] = (arg ?? '').split('/').map((s) => s || null);
  let gone = false;
  let project = null;
  let totals = null;
  let spend = null;  // scenes.js spend(): cost and tokens per scene, chapter and project

  const projectList = el('ul', { cls: 'ms-projects', attrs: { 'data-testid': 'ms-projects' } });
  const tree = el('div', { cls: 'ms-tree', attrs: { 'data-testid': 'ms-tree' } });
  const sideError = el('div');
  const main = el('section', { cls: 'panel main ms-main' });
  const titleInput = el('input', { attrs: { type: 'text', id: 'ms-project-title', 'data-testid': 'ms-project-title', placeholder: 'The Night Ferry', autocomplete: 'off', 'aria-label': 'New project title' } });
  titleInput.value = draft.title;
  titleInput.addEventListener('input', () => { draft.title = titleInput.value; });
  // A backup file restored as a new project (restoreProject checks it whole before writing).
  const restoreInput = el('input', { attrs: { type: 'file', accept: '.json,application/json', 'data-testid': 'ms-restore-backup', 'aria-label': 'Restore a project from a backup file' } });
  restoreInput.addEventListener('change', async () => {
    const file = restoreInput.files?.[0];
    restoreInput.value = '';
    if (!file) return;
    try {
      const { restoreProject } = await import('../export/backup.js');
      let data;
      try {
        data = JSON.parse(await file.text());
      } catch {
        throw new Error(`${file.name} is not a Loom project backup (not JSON).`);
      }
      const id = await restoreProject(ctx.storage, data);
      ctx.navigate(`#/manuscript/${id}`);
    } catch (e) {
      ctx.notify(e);
    }
  });
  const newProject = el('form', { cls: 'ms-new-project', attrs: { 'data-testid': 'ms-new-project' }, on: { submit: (e) => { e.preventDefault(); createProject(); } } }, [
    titleInput,
    el('button', { text: 'Create', cls: 'small', attrs: { type: 'submit', 'data-testid': 'ms-create-project' } }),
  ]);
  const page = el('div', { cls: 'split' }, [
    el('nav', { cls: 'panel side ms-side', attrs: { 'aria-label': 'Projects and outline' } }, [
      el('div', { cls: 'panel-head' }, [el('h2', { text: 'Projects' })]),
      newProject, el('label', { cls: 'help ms-restore' }, ['Restore a backup: ', restoreInput]), sideError, projectList, tree,
    ]),
    main,
  ]);

  const showSideError = (e) => sideError.replaceChildren(errorBlock(e, { testid: 'ms-error' }));

  async function createProject() {
    sideError.replaceChildren();
    try {
      const p = await manuscript.createProject(titleInput.value.trim() || 'Untitled');
      draft.title = '';
      ctx.navigate(`#/manuscript/${p.id}`);
    } catch (e) {
      showSideError(e);  // the title stays in the box
    }
  }

  async function drawProjects() {
    let all;
    try {
      all = await manuscript.listProjects();
    } catch (e) {
      projectList.replaceChildren(el('li', {}, [errorBlock(e)]));
      return;
    }
    if (gone) return;
    projectList.replaceChildren(...all.map((p) => el('li', {}, [el('a', {
      text: p.title, cls: p.id === projectId ? 'selected' : '',
      attrs: { href: `#/manuscript/${p.id}`, 'data-testid': `ms-project-${p.id}`, ...(p.id === projectId ? { 'aria-current': 'true' } : {}) },
    })])));
    if (!all.length) projectList.replaceChildren(el('li', { cls: 'note', text: 'No projects yet: give one a title above.' }));
  }

  // ---- the outline ----

  // Runs `fn` (a change to the outline), then redraws the tree; an error goes next to it.
  async function change(fn) {
    sideError.replaceChildren();
    try {
      const result = await fn();
      await drawTree();
      return result;
    } catch (e) {
      showSideError(e);
      return undefined;
    }
  }

  const allChapters = () => project.acts.flatMap((a) => a.chapters);

  function moveScene(id, delta) {
    return change(async () => {
      const chapters = allChapters();
      const ci = chapters.findIndex((c) => c.scenes.includes(id));
      const chapter = chapters[ci];
      const index = chapter.scenes.indexOf(id);
      const target = index + delta;
      if (target >= 0 && target < chapter.scenes.length) {
        await manuscript.move(project.id, { kind: 'scene', id, to: { index: target } });
      } else if (delta < 0 && ci > 0) {  // past the top: the end of the chapter before
        const prev = chapters[ci - 1];
        await manuscript.move(project.id, { kind: 'scene', id, to: { chapter: prev.id, index: prev.scenes.length } });
      } else if (delta > 0 && ci < chapters.length - 1) {  // past the end: the start of the next
        await manuscript.move(project.id, { kind: 'scene', id, to: { chapter: chapters[ci + 1].id, index: 0 } });
      }
    }).then(() => document.querySelector(`[data-testid="ms-${delta < 0 ? 'up' : 'down'}-${id}"]`)?.focus());
  }

  // An act or chapter one place up or down (a chapter past the first or last of its act goes to
  // the end of the act before or the start of the act after).
  function moveItem(kind, id, delta) {
    return change(async () => {
      if (kind === 'act') {
        const index = project.acts.findIndex((a) => a.id === id);
        const target = index + delta;
        if (target >= 0 && target < project.acts.length) await manuscript.move(project.id, { kind, id, to: { index: target } });
        return;
      }
      const ai = project.acts.findIndex((a) => a.chapters.some((c) => c.id === id));
      const act = project.acts[ai];
      const index = act.chapters.findIndex((c) => c.id === id);
      const target = index + delta;
      if (target >= 0 && target < act.chapters.length) {
        await manuscript.move(project.id, { kind, id, to: { index: target } });
      } else if (delta < 0 && ai > 0) {
        const prev = project.acts[ai - 1];
        await manuscript.move(project.id, { kind, id, to: { act: prev.id, index: prev.chapters.length } });
      } else if (delta > 0 && ai < project.acts.length - 1) {
        await manuscript.move(project.id, { kind, id, to: { act: project.acts[ai + 1].id, index: 0 } });
      }
    }).then(() => document.querySelector(`[data-testid="ms-${delta < 0 ? 'up' : 'down'}-${id}"]`)?.focus());
  }

  // Deletes a scene, chapter or act after the writer confirms, saying how many scenes and words go.
  async function removeItem(kind, id, title) {
    const ids = kind === 'scene' ? [id]
      : kind === 'chapter' ? allChapters().find((c) => c.id === id)?.scenes ?? []
        : project.acts.find((a) => a.id === id)?.chapters.flatMap((c) => c.scenes) ?? [];
    const count = ids.reduce((n, s) => n + (totals?.scenes[s] ?? 0), 0);
    const holds = kind === 'scene' ? `its ${words(count)} and all its revisions`
      : `its ${ids.length} scene${ids.length === 1 ? '' : 's'} (${words(count)}) and all their revisions`;
    if (!confirm(`Delete ${kind} "${title}" with ${holds}? This cannot be undone; a backup of the project keeps a copy.`)) return;
    const removed = await change(() => manuscript.removeItem(project.id, { kind, id }));
    if (removed && sceneId && ids.includes(sceneId)) ctx.navigate(`#/manuscript/${project.id}`);
  }

  // A title shown as text; clicking it (or Enter on it) edits it in place: Enter or leaving the
  // field saves, Escape cancels. A refused title keeps the field open with the error beside it.
  function editableTitle(text, testid, save, tag = 'span') {
    const shown = el(tag, { text, cls: 'ms-title', attrs: { 'data-testid': testid, tabindex: '0', role: 'button', title: 'Rename' } });
    const edit = () => {
      const field = el('input', { attrs: { type: 'text', 'data-testid': `${testid}-input`, 'aria-label': 'New title' } });
      field.value = text;
      let done = false;
      const finish = async (keep) => {
        if (done) return;
        done = true;
        if (keep && field.value.trim() !== text) await change(() => save(field.value.trim()));
        else field.replaceWith(shown);
      };
      field.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') finish(true);
        if (e.key === 'Escape') finish(false);
      });
      field.addEventListener('blur', () => finish(true));
      shown.replaceWith(field);
      field.focus();
      field.select();
    };
    shown.addEventListener('click', edit);
    shown.addEventListener('keydown', (e) => { if (e.key === 'Enter') edit(); });
    return shown;
  }

  function dropAct(event, beforeId) {
    const id = event.dataTransfer.getData('application/x-loom-act');
    if (!id) return;
    event.preventDefault();
    event.stopPropagation();
    if (id === beforeId) return;
    const rest = project.acts.filter((a) => a.id !== id);
    change(() => manuscript.move(project.id, { kind: 'act', id, to: { index: rest.findIndex((a) => a.id === beforeId) } }));
  }

  // Drop of a dragged chapter before chapter `beforeId` of act `actId`.
  function dropChapter(event, actId, beforeId) {
    event.preventDefault();
    event.stopPropagation();
    const id = event.dataTransfer.getData('application/x-loom-chapter');
    if (!id || id === beforeId) return;
    const act = project.acts.find((a) => a.id === actId);
    const rest = act.chapters.filter((c) => c.id !== id);
    change(() => manuscript.move(project.id, { kind: 'chapter', id, to: { act: actId, index: rest.findIndex((c) => c.id === beforeId) } }));
  }

  // Drop of a dragged scene before scene `beforeId` of chapter `chapterId` (null: at the end).
  function dropScene(event, chapterId, beforeId) {
    const id = event.dataTransfer.getData('application/x-loom-scene');
    if (!id) return;  // not a scene: a chapter or an act, for the elements around
    event.preventDefault();
    event.stopPropagation();
    if (id === beforeId) return;
    const chapter = allChapters().find((c) => c.id === chapterId);
    const rest = chapter.scenes.filter((s) => s !== id);
    const index = beforeId ? rest.indexOf(beforeId) : rest.length;
    change(() => manuscript.move(project.id, { kind: 'scene', id, to: { chapter: chapterId, index } }));
  }

  const allowDrop = (event) => {
    if (event.dataTransfer.types.includes('application/x-loom-scene')) event.preventDefault();
  };

  function sceneItem(id, chapterId) {
    const selected = id === sceneId;
    const n = totals?.scenes[id] ?? 0;
    const item = el('li', {
      cls: `ms-scene${selected ? ' selected' : ''}`,
      attrs: { draggable: 'true', 'data-testid': `ms-scene-${id}`, 'data-scene': id },
      on: {
        dragstart: (e) => {
          e.dataTransfer.setData('application/x-loom-scene', id);
          e.dataTransfer.effectAllowed = 'move';
        },
        dragover: allowDrop,
        drop: (e) => dropScene(e, chapterId, id),
      },
    }, [
      el('a', { cls: 'ms-scene-link', attrs: { href: `#/manuscript/${project.id}/${id}`, ...(selected ? { 'aria-current': 'true' } : {}) } }, [
        el('span', { cls: 'name', attrs: { 'data-scene-title': id }, text: '…' }),
        el('span', { cls: 'help', text: words(n) }),
      ]),
      button('↑', `ms-up-${id}`, () => moveScene(id, -1), { label: 'Move scene up' }),
      button('↓', `ms-down-${id}`, () => moveScene(id, +1), { label: 'Move scene down' }),
    ]);
    return item;
  }

  // The project's default model: the scene workflows use it when the writer picks none (the voice
  // test's recommendation can set it).
  function defaultModelPicker(p) {
    const picker = el('select', { attrs: { id: 'ms-default-model', 'data-testid': 'ms-default-model' } });
    const error = el('div');
    ctx.scenes?.modelNames().then(({ names, fallback }) => {
      const options = [...new Set([...(p.default_model ? [p.default_model] : []), ...names])];
      picker.replaceChildren(el('option', { attrs: { value: '' }, text: `the pool's default (${fallback || 'none'})` }),
        ...options.map((n) => el('option', { attrs: { value: n }, text: names.includes(n) ? n : `${n} (not in the pool)` })));
      picker.value = p.default_model ?? '';
    }).catch((e) => error.replaceChildren(errorBlock(e)));
    picker.addEventListener('change', async () => {
      try {
        await manuscript.setDefaultModel(p.id, picker.value);
        error.replaceChildren();
      } catch (e) {
        error.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
      }
    });
    return el('div', { cls: 'input ms-default-model' }, [
      el('label', { cls: 'field', attrs: { for: 'ms-default-model' } }, [el('span', { cls: 'label', text: 'Default model' })]), picker, error,
    ]);
  }

  // Which workflow this project runs for each scene entry point: the shipped one, or a copy the
  // writer made and edited in the Workflows view.
  function workflowPickers(p) {
    const error = el('div');
    const rows = Object.entries(SCENE_WORKFLOWS).map(([purpose, shipped]) => {
      const picker = el('select', { attrs: { id: `ms-workflow-${purpose}`, 'data-testid': `ms-workflow-${purpose}` } });
      const own = p.workflows?.[purpose] ?? '';
      picker.append(el('option', { attrs: { value: '' }, text: `${shipped} (shipped)` }));
      if (own) picker.append(el('option', { attrs: { value: own }, text: own }));
      picker.value = own;
      picker.addEventListener('change', async () => {
        try {
          project = await manuscript.setProjectWorkflow(p.id, purpose, picker.value);
          picker.dataset.saved = picker.value;
          error.replaceChildren();
        } catch (e) {
          error.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
        }
      });
      return [purpose, shipped, picker];
    });
    ctx.storage.listWorkflows().then((all) => {
      for (const [purpose, shipped, picker] of rows) {
        const own = p.workflows?.[purpose] ?? '';
        picker.replaceChildren(el('option', { attrs: { value: '' }, text: `${shipped} (shipped)` }),
          ...all.filter((w) => w.name !== shipped).map((w) => el('option', { attrs: { value: w.name }, text: w.name })));
        if (own && !all.some((w) => w.name === own)) picker.append(el('option', { attrs: { value: own }, text: `${own} (not in the library)` }));
        picker.value = own;
      }
    }).catch((e) => error.replaceChildren(errorBlock(e)));
    const label = { generate: 'Drafts with', enhance: 'Rewrites with', test: 'Compares models with' };
    return el('details', { cls: 'ms-workflows', attrs: { 'data-testid': 'ms-workflows' } }, [
      el('summary', { text: 'Workflows' }),
      ...rows.map(([purpose, , picker]) => el('div', { cls: 'input' }, [
        el('label', { cls: 'field', attrs: { for: picker.id } }, [el('span', { cls: 'label', text: label[purpose] })]), picker])),
      el('p', { cls: 'help', text: 'Make a copy of a workflow in the Workflows view, edit it, and pick it here for this project.' }),
      error,
    ]);
  }

  async function drawTree() {
    if (!projectId) {
      tree.replaceChildren();
      return;
    }
    let scenes;
    try {
      [project, totals, scenes, spend] = await Promise.all([manuscript.getProject(projectId), manuscript.totals(projectId).catch(() => null),
        manuscript.scenes(projectId), ctx.scenes?.spend(projectId).catch(() => null) ?? null]);
    } catch (e) {
      tree.replaceChildren(errorBlock(e));
      return;
    }
    if (gone) return;
    if (!project) {
      tree.replaceChildren(el('p', { cls: 'note', text: 'This project is not here (deleted, or in another browser).' }));
      return;
    }
    const titles = new Map(scenes.map((s) => [s.id, s.title]));
    const acts = project.acts.map((act, ai) => el('li', {
      cls: 'ms-act', attrs: { draggable: 'true', 'data-act': act.id },
      on: {
        dragstart: (e) => {
          if (e.target !== e.currentTarget) return;  // a chapter or scene inside is dragged
          e.dataTransfer.setData('application/x-loom-act', act.id);
          e.dataTransfer.effectAllowed = 'move';
        },
        dragover: (e) => { if (e.dataTransfer.types.includes('application/x-loom-act')) e.preventDefault(); },
        drop: (e) => dropAct(e, act.id),
      },
    }, [
      el('div', { cls: 'ms-row' }, [
        editableTitle(act.title || `Act ${ai + 1}`, `ms-act-title-${act.id}`, (title) => manuscript.renameItem(project.id, { kind: 'act', id: act.id, title }), 'strong'),
        el('span', { cls: 'help', attrs: { 'data-testid': `ms-words-${act.id}` }, text: words(totals?.acts[act.id]) }),
        button('+ chapter', `ms-add-chapter-${act.id}`, () => change(() => manuscript.addChapter(project.id,
          { act: act.id, title: `Chapter ${allChapters().length + 1}` }))),
        el('span', { cls: 'ms-tools' }, [
          button('↑', `ms-up-${act.id}`, () => moveItem('act', act.id, -1), { label: 'Move act up' }),
          button('↓', `ms-down-${act.id}`, () => moveItem('act', act.id, +1), { label: 'Move act down' }),
          button('✕', `ms-delete-${act.id}`, () => removeItem('act', act.id, act.title || 'this act'), { label: 'Delete act' }),
        ]),
      ]),
      el('ul', { cls: 'ms-chapters' }, act.chapters.map((chapter) => el('li', {
        cls: 'ms-chapter', attrs: { draggable: 'true', 'data-chapter': chapter.id },
        on: {
          dragstart: (e) => {
            if (e.target !== e.currentTarget) return;
            e.stopPropagation();
            e.dataTransfer.setData('application/x-loom-chapter', chapter.id);
            e.dataTransfer.effectAllowed = 'move';
          },
          dragover: (e) => {
            const types = e.dataTransfer.types;
            if (types.includes('application/x-loom-scene') || types.includes('application/x-loom-chapter')) e.preventDefault();
          },
          drop: (e) => (e.dataTransfer.types.includes('application/x-loom-chapter') ? dropChapter(e, act.id, chapter.id) : dropScene(e, chapter.id, null)),
        },
      }, [
        el('div', { cls: 'ms-row' }, [
          editableTitle(chapter.title || 'Chapter', `ms-chapter-title-${chapter.id}`, (title) => manuscript.renameItem(project.id, { kind: 'chapter', id: chapter.id, title })),
          el('span', { cls: 'help', attrs: { 'data-testid': `ms-words-${chapter.id}` }, text: words(totals?.chapters[chapter.id]) }),
          el('span', { cls: 'help ms-spend', attrs: { 'data-testid': `ms-spend-${chapter.id}` }, text: formatSpend(spend?.chapters[chapter.id]) }),
          button('+ scene', `ms-add-scene-${chapter.id}`, async () => {
            const sceneNo = allChapters().reduce((s, c) => s + c.scenes.length, 0);
            const scene = await change(() => manuscript.addScene(project.id, { chapter: chapter.id, title: `Scene ${sceneNo + 1}` }));
            if (scene) ctx.navigate(`#/manuscript/${project.id}/${scene.id}`);
          }),
          el('span', { cls: 'ms-tools' }, [
            button('↑', `ms-up-${chapter.id}`, () => moveItem('chapter', chapter.id, -1), { label: 'Move chapter up' }),
            button('↓', `ms-down-${chapter.id}`, () => moveItem('chapter', chapter.id, +1), { label: 'Move chapter down' }),
            button('✕', `ms-delete-${chapter.id}`, () => removeItem('chapter', chapter.id, chapter.title || 'this chapter'), { label: 'Delete chapter' }),
          ]),
        ]),
        el('ol', { cls: 'ms-scenes' }, chapter.scenes.map((id) => sceneItem(id, chapter.id))),
      ]))),
    ]));
    tree.replaceChildren(
      el('div', { cls: 'panel-head ms-project-head' }, [
        editableTitle(project.title, 'ms-title-project', async (title) => {
          await manuscript.renameProject(project.id, title);
          await drawProjects();
        }, 'h3'),
        button('Delete project', 'ms-delete-project', async () => {
          const n = totals?.project ?? 0;
          if (!confirm(`Delete the project "${project.title}" with all its scenes (${words(n)}) and their revisions? This cannot be undone; back it up first to keep a copy.`)) return;
          try {
            await flush();
            await manuscript.deleteProject(project.id);
            ctx.navigate('#/manuscript');
          } catch (e) {
            showSideError(e);
          }
        }, { cls: 'secondary small danger' }),
        el('span', { cls: 'help', attrs: { 'data-testid': 'ms-words-project' }, text: words(totals?.project) }),
      ]),
      el('p', { cls: 'help ms-spend', attrs: { 'data-testid': 'ms-spend-project' }, text: spend?.project.runs ? `Models: ${formatSpend(spend.project)}` : '' }),
      defaultModelPicker(project),
      workflowPickers(project),
      el('ul', { cls: 'ms-acts' }, acts),
      button('+ act', 'ms-add-act', () => change(() => manuscript.addAct(project.id, { title: `Act ${project.acts.length + 1}` }))),
      el('div', { cls: 'actions ms-export' }, [
        button('Markdown', 'ms-export-md', () => exportAs(project, 'md')),
        button('EPUB', 'ms-export-epub', () => exportAs(project, 'epub')),
        button('Word', 'ms-export-docx', () => exportAs(project, 'docx')),
        button('Back up', 'ms-backup', () => exportAs(project, 'backup')),
      ]),
    );
    for (const span of tree.querySelectorAll('[data-scene-title]')) {
      span.textContent = titles.get(span.dataset.sceneTitle) || 'Untitled scene';
    }
  }

  // ---- export and backup (docs/studio.md) ----

  // Saves what is being typed, then downloads the project as Markdown, EPUB or a backup file.
  async function exportAs(project, kind) {
    try {
      await flush();
      let blob;
      if (kind === 'md') {
        const { projectToMarkdown } = await import('../export/markdown.js');
        blob = new Blob([await projectToMarkdown(manuscript, project.id)], { type: 'text/markdown' });
      } else if (kind === 'docx') {
        const { projectToDocx } = await import('../export/docx.js');
        blob = new Blob([await projectToDocx(manuscript, project.id)], { type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' });
      } else if (kind === 'epub') {
        const { projectToEpub } = await import('../export/epub.js');
        blob = new Blob([await projectToEpub(manuscript, project.id)], { type: 'application/epub+zip' });
      } else {
        const { backupProject } = await import('../export/backup.js');
        blob = new Blob([JSON.stringify(await backupProject(ctx.storage, project.id))], { type: 'application/json' });
      }
      const ext = { md: 'md', epub: 'epub', docx: 'docx' }[kind] ?? 'loom-project.json';
      download(blob, `${fileName(project.title)}.${ext}`);
    } catch (e) {
      ctx.notify(e);
    }
  }

  // ---- the scene ----

  const cleanup = [];
  let flush = () => Promise.resolve();

  async function drawScene() {
    if (!projectId) {
      main.replaceChildren(el('h2', { text: 'Manuscript' }), el('p', { cls: 'note', text: 'Choose a project on the left, or create one.' }));
      return;
    }
    if (!sceneId) {
      main.replaceChildren(el('h2', { text: 'Manuscript' }), el('p', { cls: 'note', text: 'Choose a scene in the outline, or add one (an act, a chapter, then a scene).' }));
      return;
    }
    let scene;
    try {
      scene = await manuscript.getScene(sceneId);
    } catch (e) {
      main.replaceChildren(errorBlock(e));
      return;
    }
    if (gone) return;
    if (!scene) {
      main.replaceChildren(el('p', { cls: 'note', text: 'This scene is not here (deleted, or in another browser).' }));
      return;
    }

    const heading = el('h2', { text: scene.title || 'Untitled scene', attrs: { 'data-testid': 'ms-heading' } });
    // A field saved through updateScene when it changes; its error next to it, the value kept.
    function fieldRow(label, control, key, read) {
      const error = el('div', { cls: 'ms-field-error' });
      control.addEventListener('change', async () => {
        try {
          scene = await manuscript.updateScene(scene.id, { [key]: read(control) });
          error.replaceChildren();
          if (key === 'title') {
            heading.textContent = scene.title || 'Untitled scene';
            drawTree();
          }
        } catch (e) {
          error.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
        }
      });
      return el('div', { cls: 'input' }, [
        el('label', { cls: 'field', attrs: { for: control.id } }, [el('span', { cls: 'label', text: label })]),
        control, error,
      ]);
    }
    const input = (key, value) => {
      const c = el('input', { attrs: { type: 'text', id: `ms-${key}`, 'data-testid': `ms-${key}`, autocomplete: 'off' } });
      c.value = value ?? '';
      return c;
    };
    const select = (key, options, value) => {
      const c = el('select', { attrs: { id: `ms-${key}`, 'data-testid': `ms-${key}` } },
        options.map(([v, label]) => el('option', { text: label, attrs: { value: v } })));
      c.value = value ?? '';
      return c;
    };
    const area = (key, value, rows) => {
      const c = el('textarea', { attrs: { id: `ms-${key}`, 'data-testid': `ms-${key}`, rows: String(rows) } });
      c.value = value ?? '';
      return c;
    };
    const trimmed = (c) => c.value;
    const fields = el('div', { cls: 'ms-fields' }, [
      fieldRow('Title', input('title', scene.title), 'title', trimmed),
      fieldRow('Point of view', input('pov', scene.pov), 'pov', trimmed),
      fieldRow('Tense', select('tense', TENSES, scene.tense), 'tense', trimmed),
      fieldRow('Status', select('status', STATUSES.map((s) => [s, s]), scene.status), 'status', trimmed),
      fieldRow('Outline', area('outline', scene.outline, 3), 'outline', trimmed),
      fieldRow('Beats (one per line)', area('beats', (scene.beats ?? []).join('\n'), 4), 'beats',
        (c) => c.value.split('\n').map((s) => s.trim()).filter(Boolean)),
    ]);

    // The text: autosaved a second after typing stops, on blur and when the page is hidden.
    const text = el('textarea', { cls: 'ms-text', attrs: { id: 'ms-text', 'data-testid': 'ms-text', rows: '24', spellcheck: 'true', 'aria-label': 'Scene text' } });
    text.value = scene.text ?? '';
    const state = el('div', { cls: 'ms-save-state', attrs: { 'data-testid': 'ms-save-state', 'aria-live': 'polite' } });
    const count = el('span', { cls: 'help' });
    let lastSaved = text.value;
    let timer = null;
    let chain = Promise.resolve();
    function setState(kind, error) {
      state.dataset.state = kind;
      state.classList.toggle('bad', kind === 'failed');
      state.textContent = kind === 'saved' ? 'saved' : kind === 'saving' ? 'saving…' : kind === 'dirty' ? 'editing…'
        : `not saved: ${error?.message ?? error}`;
    }
    setState('saved');
    const showCount = () => { count.textContent = words(countWords(text.value)); };
    showCount();

    async function saveNow(origin) {
      const value = text.value;
      if (origin.kind === 'autosave' && value === lastSaved) {
        if (!timer && state.dataset.state !== 'failed') setState('saved');
        return null;
      }
      setState('saving');
      try {
        const revision = await manuscript.saveText(scene.id, value, origin);
        lastSaved = value;
        if (!gone) {
          setState(text.value === lastSaved ? 'saved' : 'dirty');
          drawTree();
          if (revisionsBox.open) drawRevisions();
        }
        return revision;
      } catch (e) {
        setState('failed', e);  // the text stays in the box; the next edit tries again
        throw e;
      }
    }
    flush = (origin = { kind: 'autosave' }) => {
      clearTimeout(timer);
      timer = null;
      const run = chain.then(() => saveNow(origin));
      chain = run.catch(() => {});
      return run;
    };
    text.addEventListener('input', () => {
      setState('dirty');
      showCount();
      clearTimeout(timer);
      timer = setTimeout(() => flush().catch(() => {}), AUTOSAVE_DELAY_MS);
    });
    text.addEventListener('blur', () => flush().catch(() => {}));
    const onHide = () => {
      if (document.visibilityState === 'hidden') flush().catch(() => {});
    };
    document.addEventListener('visibilitychange', onHide);
    window.addEventListener('pagehide', onHide);
    cleanup.push(() => {
      document.removeEventListener('visibilitychange', onHide);
      window.removeEventListener('pagehide', onHide);
    });

    // A model's revision of this scene saved meanwhile (a run approved in the run view or another
    // tab): shown at once, unless the writer is typing — then their text stays and a note says so.
    const modelNote = el('p', { cls: 'note', attrs: { 'data-testid': 'ms-model-revision', 'aria-live': 'polite' } });
    if (ctx.scenes) {
      cleanup.push(ctx.scenes.onSaved(async (revision) => {
        if (gone || revision.scene !== scene.id) return;
        if (text.value !== lastSaved || timer) {
          modelNote.textContent = `A model's draft was saved as revision #${revision.n}; your text is kept. Compare them under Revisions.`;
          return;
        }
        const fresh = await manuscript.getScene(scene.id);
        if (gone || !fresh || text.value !== lastSaved) return;
        text.value = fresh.text;
        lastSaved = fresh.text;
        showCount();
        setState('saved');
        modelNote.textContent = `Revision #${revision.n} (${revision.title ?? revision.origin?.kind}) is now the text.`;
        drawTree();
        if (revisionsBox.open) drawRevisions();
      }));
    }

    const revisionError = el('div');
    const saveRevision = el('button', { text: 'Save revision', cls: 'secondary', attrs: { type: 'button', 'data-testid': 'ms-save-revision' }, on: { click: async () => {
      revisionError.replaceChildren();
      try {
        await flush({ kind: 'manual' });
      } catch (e) {
        revisionError.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
      }
    } } });

    // ---- revisions ----
    const revisionList = el('ol', { cls: 'ms-revision-list', attrs: { 'data-testid': 'ms-revision-list' } });
    const diffBox = el('div', { cls: 'ms-diff-box' });
    const revisionsBox = el('details', { cls: 'ms-revisions', attrs: { 'data-testid': 'ms-revisions' } }, [
      el('summary', { text: 'Revisions', attrs: { 'data-testid': 'ms-revisions-open' } }),
      revisionList, diffBox,
    ]);
    let selectedRevision = null;
    revisionsBox.addEventListener('toggle', () => {
      if (revisionsBox.open) drawRevisions();
    });

    async function drawRevisions() {
      let all;
      try {
        all = await manuscript.revisions(scene.id, { text: true });
      } catch (e) {
        revisionList.replaceChildren(el('li', {}, [errorBlock(e)]));
        return;
      }
      if (gone) return;
      revisionList.dataset.count = String(all.length);
      revisionList.replaceChildren(...all.map((r) => el('li', {}, [el('button', {
        cls: `ms-revision${r.n === selectedRevision ? ' selected' : ''}`,
        attrs: { type: 'button', 'data-testid': `ms-revision-${r.n}`, 'aria-pressed': String(r.n === selectedRevision) },
        on: { click: () => showDiff(r.n) },
      }, [
        el('span', { cls: 'name', text: `#${r.n} ${r.title ? `${r.title} · ` : ''}${r.origin?.kind ?? ''}${r.origin?.restored_from ? ` (from #${r.origin.restored_from})` : ''}` }),
        r.origin?.run ? el('span', { cls: 'help', attrs: { 'data-testid': `ms-revision-origin-${r.n}` }, text: originText(r.origin) }) : '',
        el('span', { cls: 'help', text: `${formatTime(r.updated ?? r.created)} · ${words(countWords(r.text))}` }),
      ])])));
      if (!all.length) revisionList.replaceChildren(el('li', { cls: 'note', text: 'No revisions yet: the text is saved as you type.' }));
    }

    async function showDiff(n) {
      selectedRevision = n;
      diffBox.replaceChildren();
      try {
        await flush();  // the current text is the newest revision
        const [newest] = await manuscript.revisions(scene.id);
        const parts = await manuscript.diff(scene.id, n, newest.n);
        if (gone) return;
        const diff = el('div', { cls: 'ms-diff', attrs: { 'data-testid': 'ms-diff', 'data-from': String(n), 'data-to': String(newest.n) } },
          parts.map((p) => el(p.op === 'insert' ? 'ins' : p.op === 'delete' ? 'del' : 'span', { text: p.text })));
        diffBox.replaceChildren(
          el('p', { cls: 'help', text: n === newest.n ? `Revision #${n} is the current text.` : `From revision #${n} to the current text (#${newest.n}): inserted words underlined, deleted ones struck through.` }),
          diff,
          el('button', { text: `Restore revision #${n}`, cls: 'secondary', attrs: { type: 'button', 'data-testid': 'ms-restore' }, on: { click: () => restore(n) } }),
        );
      } catch (e) {
        diffBox.replaceChildren(errorBlock(e, { testid: 'ms-error' }));
      }
      drawRevisions();
    }

    async function restore(n) {
      try {
        await flush();
        const old = await manuscript.revision(scene.id, n);
        await manuscript.restore(scene.id, n);
        const fresh = await manuscript.getScene(scene.id);
        if (gone) return;
        text.value = fresh?.text ?? old.text;
        lastSaved = text.value;
        showCount();
        setState('saved');
        selectedRevision = null;
        diffBox.replaceChildren(el('p', { cls: 'note', attrs: { 'data-testid': 'ms-restored' }, text: `Revision #${n} restored (kept as a new revision).` }));
        drawRevisions();
        drawTree();
      } catch (e) {
        diffBox.append(errorBlock(e, { testid: 'ms-error' }));
      }
    }

    const assist = ctx.scenes ? sceneAssist({ ctx, scene, project: project ?? await manuscript.getProject(projectId), flush: () => flush() }) : '';
    if (gone) return;
    main.replaceChildren(
      el('div', { cls: 'panel-head' }, [heading, button('Delete scene', 'ms-delete-scene', async () => {
        await flush().catch(() => {});
        await removeItem('scene', scene.id, scene.title || 'Untitled scene');
      }, { cls: 'secondary small danger' })]),
      fields,
      el('div', { cls: 'ms-text-head' }, [el('label', { cls: 'label', text: 'Text', attrs: { for: 'ms-text' } }), count, state]),
      modelNote,
      text,
      el('div', { cls: 'actions' }, [saveRevision, revisionError]),
      revisionsBox,
      assist,
    );
  }

  // Drawn off the page, then shown whole: no half-drawn view between two.
  await Promise.all([drawProjects(), drawTree(), drawScene()]);
  if (!gone) root.replaceChildren(page);
  return {
    destroy() {
      lastFlush = flush().catch(() => {});
      gone = true;
      for (const fn of cleanup) fn();
    },
  };
}
