// manuscript.js — the writer's manuscript in IndexedDB: projects, their outline (acts -> chapters
// -> scenes, order being array order), the scenes, and every saved version of a scene's text.
// Each operation is one transaction (storage.transaction()), so a failed write (a full disk, a
// closed tab mid-commit) leaves what was saved before exactly as it was; saving a scene's text and
// recording its revision happen together or not at all.
//
//   const ms = createManuscript({ storage });
//   const project = await ms.createProject('The Night Ferry');
//   const act = await ms.addAct(project.id, { title: 'Act I' });
//   const chapter = await ms.addChapter(project.id, { act: act.id, title: 'Fog' });
//   const scene = await ms.addScene(project.id, { chapter: chapter.id, title: 'Dawn crossing', pov: 'Mara' });
//   await ms.saveText(scene.id, text, { kind: 'autosave' });   // the editor, every few seconds
//   await ms.revisions(scene.id);                              // newest first, without their text
//
// Records (stores of schema v3, see storage.js):
//   project   {id, title, created, updated, default_model?, workflows?: {purpose: name}, acts: [{id, title, chapters: [{id, title,
//             scenes: [sceneId]}]}]}
//   scene     {id, project, title, pov, tense, outline, beats, text, status, order, created, updated}
//             (`order`: the scene's position in the whole project, 0 first, kept up to date)
//   revision  {scene, n, text, title?, created, updated?, origin: {kind, run?, workflow?,
//             workflow_version?, model?, model_id?, prompt?, knowledge?, scores?: {before?, after?},
//             character?, edited?, restored_from?}}

import { diffWords } from 'diff';
import { StorageError } from './storage.js';

const TENSES = ['past', 'present', ''];
/// What a project can run its own copy of a workflow for (scenes.js's entry points).
export const WORKFLOW_PURPOSES = ['generate', 'enhance', 'test'];
const STATUSES = ['idea', 'outline', 'draft', 'revised', 'final'];
const ORIGINS = ['autosave', 'generated', 'enhanced', 'restored', 'manual'];
const ORIGIN_FIELDS = ['kind', 'run', 'workflow', 'workflow_version', 'model', 'model_id', 'prompt', 'knowledge',
  'scores', 'character', 'edited', 'restored_from'];

/// How long autosaves of one scene coalesce: an autosave less than this many milliseconds after the
/// first autosave of the revision it would follow replaces that revision's text instead of adding
/// one. The window is anchored at the revision's `created`, so a writer typing without pause still
/// gets a revision at least every minute.
export const AUTOSAVE_WINDOW_MS = 60_000;

const isString = (v) => typeof v === 'string';
// What updateScene (and addScene) accept: field -> [check, what it accepts].
const SCENE_FIELDS = {
  title: [isString, 'a string'],
  pov: [isString, 'a string (the point-of-view character\'s name, or \'\')'],
  tense: [(v) => TENSES.includes(v), `one of 'past', 'present', ''`],
  outline: [isString, 'a string'],
  beats: [(v) => Array.isArray(v) && v.every(isString), 'a list of strings'],
  status: [(v) => STATUSES.includes(v), `one of ${STATUSES.map((s) => `'${s}'`).join(', ')}`],
};

function newId() {
  return globalThis.crypto.randomUUID();
}

function bad(what, message) {
  return new StorageError('bad_argument', `${what} failed: ${message}; nothing was saved.`);
}

function notFound(what, message) {
  return new StorageError('not_found', `${what} failed: ${message} (it may have been deleted in another tab); ` +
    'nothing was saved.');
}

/// The number of words in `text`: runs of letters or digits, with inner apostrophes and hyphens
/// ("don't", "well-known" are one word); punctuation and dashes alone are not words.
export function countWords(text) {
  return (String(text ?? '').match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? []).length;
}

// Checks `fields` against SCENE_FIELDS (and `text` when allowText); throws bad_argument naming the
// first wrong field. Returns a copy of the fields given.
function checkSceneFields(fields, what, { allowText = false, skip = [] } = {}) {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    throw bad(what, 'the scene\'s fields must be an object');
  }
  const out = {};
  for (const [key, value] of Object.entries(fields)) {
    if (skip.includes(key)) continue;
    if (key === 'text') {
      if (!allowText) {
        throw bad(what, 'field \'text\' cannot be changed here: use saveText(), which records a revision');
      }
      if (!isString(value)) throw bad(what, 'field \'text\' must be a string');
      out.text = value;
      continue;
    }
    const rule = SCENE_FIELDS[key];
    if (!rule) {
      throw bad(what, `unknown field '${key}': a scene has ${Object.keys(SCENE_FIELDS).join(', ')} (and its text, ` +
        'saved with saveText())');
    }
    if (!rule[0](value)) throw bad(what, `field '${key}' must be ${rule[1]} (got ${JSON.stringify(value)})`);
    out[key] = key === 'beats' ? [...value] : value;
  }
  return out;
}

function checkOrigin(origin, what) {
  if (origin === null || typeof origin !== 'object' || Array.isArray(origin)) {
    throw bad(what, `the origin must be an object {kind: ${ORIGINS.map((o) => `'${o}'`).join(' | ')}, ...}`);
  }
  if (!ORIGINS.includes(origin.kind)) {
    throw bad(what, `field 'origin.kind' must be one of ${ORIGINS.map((o) => `'${o}'`).join(', ')} ` +
      `(got ${JSON.stringify(origin.kind)})`);
  }
  for (const key of Object.keys(origin)) {
    if (!ORIGIN_FIELDS.includes(key)) throw bad(what, `unknown field 'origin.${key}': an origin has ${ORIGIN_FIELDS.join(', ')}`);
  }
  if (origin.knowledge !== undefined && !Array.isArray(origin.knowledge)) {
    throw bad(what, 'field \'origin.knowledge\' must be a list');
  }
  if (origin.scores !== undefined && (origin.scores === null || typeof origin.scores !== 'object')) {
    throw bad(what, 'field \'origin.scores\' must be an object {before?, after?}');
  }
  return { ...origin };
}

function checkTitle(title, what) {
  if (!isString(title)) throw bad(what, `field 'title' must be a string (got ${JSON.stringify(title)})`);
  return title.trim();
}

// Inserts `item` into `list` at `position` (the end when undefined); bad_argument when the position
// is not an integer from 0 to list.length.
function insertAt(list, item, position, what) {
  const index = position === undefined ? list.length : position;
  if (!Number.isInteger(index) || index < 0 || index > list.length) {
    throw bad(what, `field 'index' must be an integer from 0 to ${list.length} (got ${JSON.stringify(position)})`);
  }
  list.splice(index, 0, item);
}

// The IDBKeyRange over scene `id`'s revisions.
function revisionRange(id) {
  return globalThis.IDBKeyRange.bound([id, 0], [id, Infinity]);
}

function withoutText({ text, ...rest }) {
  return rest;
}

/// The manuscript over `storage` (openStorage()'s result, schema v3 or later); `now()` stamps
/// created/updated and decides autosave coalescing. Every method is async and rejects with a
/// StorageError: 'bad_argument' (a wrong field, named in the message; nothing stored), 'not_found'
/// (no such project, act, chapter, scene or revision), or storage's codes ('quota_exceeded', ...).
export function createManuscript({ storage, now = Date.now }) {
  const tx = (stores, mode, what, fn) => storage.transaction(stores, mode, what, fn);

  async function loadProject(t, projectId, what) {
    const project = await t.objectStore('projects').get(projectId);
    if (!project) throw notFound(what, `there is no project '${projectId}'`);
    return project;
  }

  function findAct(project, actId, what) {
    const act = project.acts.find((a) => a.id === actId);
    if (!act) throw notFound(what, `project '${project.title}' has no act '${actId}'`);
    return act;
  }

  function findChapter(project, chapterId, what) {
    for (const act of project.acts) {
      const index = act.chapters.findIndex((c) => c.id === chapterId);
      if (index >= 0) return { act, chapter: act.chapters[index], index };
    }
    throw notFound(what, `project '${project.title}' has no chapter '${chapterId}'`);
  }

  function findScene(project, sceneId, what) {
    for (const act of project.acts) {
      for (const chapter of act.chapters) {
        const index = chapter.scenes.indexOf(sceneId);
        if (index >= 0) return { act, chapter, index };
      }
    }
    throw notFound(what, `project '${project.title}' has no scene '${sceneId}'`);
  }

  // Stores `project` (updated now) and brings every scene's `order` in line with the tree.
  async function saveTree(t, project) {
    project.updated = now();
    await t.objectStore('projects').put(project);
    const scenes = t.objectStore('scenes');
    let order = 0;
    for (const act of project.acts) {
      for (const chapter of act.chapters) {
        for (const id of chapter.scenes) {
          const scene = await scenes.get(id);
          if (scene && scene.order !== order) await scenes.put({ ...scene, order });
          order += 1;
        }
      }
    }
  }

  // The newest revision of scene `id`, or undefined.
  async function lastRevision(t, id) {
    const cursor = await t.objectStore('revisions').openCursor(revisionRange(id), 'prev');
    return cursor?.value;
  }

  // Stores `text` as scene's text and records it as a revision (or, for an autosave within the
  // window of the previous autosave, into that revision). Returns the revision without its text.
  async function writeText(t, scene, text, origin, title) {
    const stamp = now();
    const revisions = t.objectStore('revisions');
    const last = await lastRevision(t, scene.id);
    let revision;
    if (origin.kind === 'autosave' && last?.origin?.kind === 'autosave' && stamp - last.created < AUTOSAVE_WINDOW_MS) {
      revision = { ...last, text, updated: stamp };
      await revisions.put(revision);
    } else {
      revision = { scene: scene.id, n: (last?.n ?? 0) + 1, text, created: stamp, origin };
      if (title !== undefined) revision.title = title;
      await revisions.add(revision);
    }
    await t.objectStore('scenes').put({ ...scene, text, updated: stamp });
    return withoutText(revision);
  }

  return {
    // ---- projects ----

    /// Creates an empty project called `title` and resolves its record.
    createProject(title) {
      const what = `Creating project '${title}'`;
      return tx('projects', 'readwrite', what, async (t) => {
        const stamp = now();
        const project = { id: newId(), title: checkTitle(title, what), created: stamp, updated: stamp, acts: [] };
        await t.store.add(project);
        return project;
      });
    },

    /// Every project, the most recently changed first.
    listProjects() {
      return tx('projects', 'readonly', 'Reading the projects', async (t) => {
        const all = await t.store.getAll();
        return all.sort((a, b) => b.updated - a.updated);
      });
    },

    /// Project `id` with its outline tree, or undefined.
    getProject(id) {
      return tx('projects', 'readonly', `Reading project '${id}'`, (t) => t.store.get(id));
    },

    /// Renames project `id`; resolves the record.
    renameProject(id, title) {
      const what = `Renaming project '${id}'`;
      return tx('projects', 'readwrite', what, async (t) => {
        const project = await loadProject(t, id, what);
        project.title = checkTitle(title, what);
        project.updated = now();
        await t.store.put(project);
        return project;
      });
    },

    /// Sets project `id`'s default model (a name of the model pool; '' for the pool's own default):
    /// the scene workflows use it when the writer picks none. Resolves the record.
    setDefaultModel(id, model) {
      const what = `Setting the default model of project '${id}'`;
      return tx('projects', 'readwrite', what, async (t) => {
        if (!isString(model)) throw bad(what, `the model must be a name of the model pool (got ${JSON.stringify(model)})`);
        const project = await loadProject(t, id, what);
        project.default_model = model.trim();
        project.updated = now();
        await t.store.put(project);
        return project;
      });
    },

    /// Makes project `id` run workflow `name` of the library for `purpose` ('generate' | 'enhance'
    /// | 'test': the scene workflows, see scenes.js) instead of the shipped one; '' goes back to
    /// the shipped one. Resolves the record.
    setProjectWorkflow(id, purpose, name) {
      const what = `Choosing the ${purpose} workflow of project '${id}'`;
      return tx('projects', 'readwrite', what, async (t) => {
        if (!WORKFLOW_PURPOSES.includes(purpose)) throw bad(what, `the purpose must be one of ${WORKFLOW_PURPOSES.join(', ')}`);
        if (!isString(name)) throw bad(what, `the workflow must be a name of the library (got ${JSON.stringify(name)})`);
        const project = await loadProject(t, id, what);
        const workflows = { ...(project.workflows ?? {}) };
        if (name.trim()) workflows[purpose] = name.trim();
        else delete workflows[purpose];
        project.workflows = workflows;
        project.updated = now();
        await t.store.put(project);
        return project;
      });
    },

    /// Deletes project `id`, its scenes and their revisions, in one transaction; nothing of any
    /// other project is touched. Deleting a project that is not there does nothing.
    deleteProject(id) {
      return tx(['projects', 'scenes', 'revisions'], 'readwrite', `Deleting project '${id}'`, async (t) => {
        const sceneIds = await t.objectStore('scenes').index('by_project').getAllKeys(id);
        for (const sceneId of sceneIds) {
          await t.objectStore('revisions').delete(revisionRange(sceneId));
          await t.objectStore('scenes').delete(sceneId);
        }
        await t.objectStore('projects').delete(id);
      });
    },

    // ---- the outline ----

    /// Adds an act {title} to project `projectId` at `position` (the end by default); resolves the
    /// act {id, title, chapters: []}.
    addAct(projectId, { title = '' } = {}, position) {
      const what = `Adding an act to project '${projectId}'`;
      return tx(['projects', 'scenes'], 'readwrite', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        const act = { id: newId(), title: checkTitle(title, what), chapters: [] };
        insertAt(project.acts, act, position, what);
        await saveTree(t, project);
        return act;
      });
    },

    /// Adds a chapter {act, title} to act `act` of project `projectId` at `position` within the act
    /// (the end by default); resolves the chapter {id, title, scenes: []}.
    addChapter(projectId, { act: actId, title = '' } = {}, position) {
      const what = `Adding a chapter to project '${projectId}'`;
      return tx(['projects', 'scenes'], 'readwrite', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        const act = findAct(project, actId, what);
        const chapter = { id: newId(), title: checkTitle(title, what), scenes: [] };
        insertAt(act.chapters, chapter, position, what);
        await saveTree(t, project);
        return chapter;
      });
    },

    /// Adds a scene to chapter `chapter` of project `projectId` at `position` within the chapter
    /// (the end by default). `fields` may set title, pov, tense, outline, beats, status (checked as
    /// in updateScene) and text (then recorded as revision 1, origin 'manual'). Resolves the scene.
    addScene(projectId, fields = {}, position) {
      const what = `Adding a scene to project '${projectId}'`;
      return tx(['projects', 'scenes', 'revisions'], 'readwrite', what, async (t) => {
        const given = checkSceneFields(fields, what, { allowText: true, skip: ['chapter'] });
        const project = await loadProject(t, projectId, what);
        const { chapter } = findChapter(project, fields.chapter, what);
        const stamp = now();
        const scene = {
          id: newId(), project: projectId, title: '', pov: '', tense: '', outline: '', beats: [], text: '',
          status: 'idea', order: 0, created: stamp, updated: stamp, ...given,
        };
        scene.text = '';
        insertAt(chapter.scenes, scene.id, position, what);
        await t.objectStore('scenes').add(scene);
        await saveTree(t, project);
        const stored = await t.objectStore('scenes').get(scene.id);
        if (given.text) {
          await writeText(t, stored, given.text, { kind: 'manual' });
          return t.objectStore('scenes').get(scene.id);
        }
        return stored;
      });
    },

    /// The scene `id` (with its text), or undefined.
    getScene(id) {
      return tx('scenes', 'readonly', `Reading scene '${id}'`, (t) => t.store.get(id));
    },

    /// Every scene of project `projectId` in outline order.
    scenes(projectId) {
      return tx('scenes', 'readonly', `Reading the scenes of project '${projectId}'`, async (t) => {
        const all = await t.store.index('by_project').getAll(projectId);
        return all.sort((a, b) => a.order - b.order);
      });
    },

    /// Merges `patch` into scene `id` and resolves the new record. Only title, pov, tense ('past' |
    /// 'present' | ''), outline, beats (a list of strings) and status ('idea' | 'outline' | 'draft' |
    /// 'revised' | 'final') can be patched; an unknown field or a wrong type (the text, too: it goes
    /// through saveText()) rejects 'bad_argument' naming the field, and nothing is stored.
    updateScene(id, patch) {
      const what = `Updating scene '${id}'`;
      return tx('scenes', 'readwrite', what, async (t) => {
        const changes = checkSceneFields(patch, what);
        const scene = await t.store.get(id);
        if (!scene) throw notFound(what, `there is no scene '${id}'`);
        const updated = { ...scene, ...changes, updated: now() };
        await t.store.put(updated);
        return updated;
      });
    },

    /// Moves a scene, chapter or act of project `projectId` (drag and drop): `kind` 'scene' with
    /// `to: {chapter?, index}` (chapter: the destination, by default the scene's own; it may be in
    /// another act), 'chapter' with `to: {act?, index}`, 'act' with `to: {index}`. `index` is the
    /// position in the destination list once the item is taken out (0 first). Resolves the project.
    move(projectId, { kind, id, to = {} } = {}) {
      const what = `Moving ${kind} '${id}' in project '${projectId}'`;
      return tx(['projects', 'scenes'], 'readwrite', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        if (kind === 'scene') {
          const from = findScene(project, id, what);
          const dest = to.chapter === undefined ? from.chapter : findChapter(project, to.chapter, what).chapter;
          from.chapter.scenes.splice(from.index, 1);
          insertAt(dest.scenes, id, to.index, what);
        } else if (kind === 'chapter') {
          const from = findChapter(project, id, what);
          const dest = to.act === undefined ? from.act : findAct(project, to.act, what);
          from.act.chapters.splice(from.index, 1);
          insertAt(dest.chapters, from.chapter, to.index, what);
        } else if (kind === 'act') {
          const index = project.acts.findIndex((a) => a.id === id);
          if (index < 0) throw notFound(what, `project '${project.title}' has no act '${id}'`);
          const [act] = project.acts.splice(index, 1);
          insertAt(project.acts, act, to.index, what);
        } else {
          throw bad(what, `field 'kind' must be 'scene', 'chapter' or 'act' (got ${JSON.stringify(kind)})`);
        }
        await saveTree(t, project);
        return project;
      });
    },

    /// Renames act or chapter `id` of project `projectId` (`kind` 'act' | 'chapter'; a scene's
    /// title goes through updateScene). Resolves the project.
    renameItem(projectId, { kind, id, title } = {}) {
      const what = `Renaming ${kind} '${id}' in project '${projectId}'`;
      return tx(['projects', 'scenes'], 'readwrite', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        if (kind === 'act') findAct(project, id, what).title = checkTitle(title, what);
        else if (kind === 'chapter') findChapter(project, id, what).chapter.title = checkTitle(title, what);
        else throw bad(what, `field 'kind' must be 'act' or 'chapter' (got ${JSON.stringify(kind)})`);
        await saveTree(t, project);
        return project;
      });
    },

    /// Deletes scene, chapter or act `id` of project `projectId`, with every scene it holds and
    /// their revisions, in one transaction (all or nothing). Resolves {project, scenes: the number
    /// of scenes deleted}. The view asks the writer first: this cannot be undone.
    removeItem(projectId, { kind, id } = {}) {
      const what = `Deleting ${kind} '${id}' from project '${projectId}'`;
      return tx(['projects', 'scenes', 'revisions'], 'readwrite', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        let gone;
        if (kind === 'scene') {
          const at = findScene(project, id, what);
          at.chapter.scenes.splice(at.index, 1);
          gone = [id];
        } else if (kind === 'chapter') {
          const at = findChapter(project, id, what);
          at.act.chapters.splice(at.index, 1);
          gone = at.chapter.scenes;
        } else if (kind === 'act') {
          const index = project.acts.findIndex((a) => a.id === id);
          if (index < 0) throw notFound(what, `project '${project.title}' has no act '${id}'`);
          const [act] = project.acts.splice(index, 1);
          gone = act.chapters.flatMap((c) => c.scenes);
        } else {
          throw bad(what, `field 'kind' must be 'scene', 'chapter' or 'act' (got ${JSON.stringify(kind)})`);
        }
        for (const sceneId of gone) {
          await t.objectStore('revisions').delete(revisionRange(sceneId));
          await t.objectStore('scenes').delete(sceneId);
        }
        await saveTree(t, project);
        return { project, scenes: gone.length };
      });
    },

    // ---- the text and its revisions ----

    /// Stores `text` as scene `sceneId`'s text and records it as a revision, in one transaction:
    /// either both are stored or neither. `origin` is {kind: 'autosave' | 'generated' | 'enhanced' |
    /// 'restored' | 'manual', run?, workflow?, workflow_version?, model?, prompt?, knowledge?: [...],
    /// scores?: {before?, after?}}; `title` optionally names the revision. An autosave less than
    /// AUTOSAVE_WINDOW_MS after the previous autosave revision of the scene replaces that revision's
    /// text (its `updated` is set) rather than adding one; any other origin always adds a revision,
    /// numbered n = the last one's + 1. An autosave of the text already stored does nothing.
    /// Resolves the revision, without its text (null for the autosave that did nothing).
    saveText(sceneId, text, origin = { kind: 'manual' }, { title } = {}) {
      const what = `Saving the text of scene '${sceneId}'`;
      return tx(['scenes', 'revisions'], 'readwrite', what, async (t) => {
        if (!isString(text)) throw bad(what, `field 'text' must be a string (got ${typeof text})`);
        const checked = checkOrigin(origin, what);
        if (title !== undefined && !isString(title)) throw bad(what, 'field \'title\' must be a string');
        const scene = await t.objectStore('scenes').get(sceneId);
        if (!scene) throw notFound(what, `there is no scene '${sceneId}'`);
        if (checked.kind === 'autosave' && scene.text === text) return null;
        return writeText(t, scene, text, checked, title);
      });
    },

    /// Scene `sceneId`'s revisions, newest first, without their text unless `{text: true}`.
    revisions(sceneId, { text = false } = {}) {
      return tx('revisions', 'readonly', `Reading the revisions of scene '${sceneId}'`, async (t) => {
        const all = (await t.store.getAll(revisionRange(sceneId))).reverse();
        return text ? all : all.map(withoutText);
      });
    },

    /// Revision `n` of scene `sceneId`, with its text, or undefined.
    revision(sceneId, n) {
      return tx('revisions', 'readonly', `Reading revision ${n} of scene '${sceneId}'`,
        (t) => t.store.get([sceneId, n]));
    },

    /// Makes revision `n`'s text the scene's text again, recorded as a new revision {origin: {kind:
    /// 'restored', restored_from: n}}; no revision is deleted. Resolves the new revision (no text).
    restore(sceneId, n) {
      const what = `Restoring revision ${n} of scene '${sceneId}'`;
      return tx(['scenes', 'revisions'], 'readwrite', what, async (t) => {
        const old = Number.isInteger(n) ? await t.objectStore('revisions').get([sceneId, n]) : undefined;
        if (!old) throw notFound(what, `scene '${sceneId}' has no revision ${JSON.stringify(n)}`);
        const scene = await t.objectStore('scenes').get(sceneId);
        if (!scene) throw notFound(what, `there is no scene '${sceneId}'`);
        return writeText(t, scene, old.text, { kind: 'restored', restored_from: n });
      });
    },

    /// The word-level difference from revision `a` to revision `b` of scene `sceneId` (by jsdiff's
    /// diffWords): [{op: 'equal' | 'insert' | 'delete', text}], whose 'equal' and 'delete' parts
    /// make a's text and 'equal' and 'insert' parts b's.
    diff(sceneId, a, b) {
      const what = `Comparing revisions ${a} and ${b} of scene '${sceneId}'`;
      return tx('revisions', 'readonly', what, async (t) => {
        const [ra, rb] = [await t.store.get([sceneId, a]), await t.store.get([sceneId, b])];
        if (!ra || !rb) throw notFound(what, `scene '${sceneId}' has no revision ${!ra ? a : b}`);
        const out = [];
        for (const part of diffWords(ra.text, rb.text)) {
          const op = part.added ? 'insert' : part.removed ? 'delete' : 'equal';
          if (out.length && out[out.length - 1].op === op) out[out.length - 1].text += part.value;
          else out.push({ op, text: part.value });
        }
        return out;
      });
    },

    /// Word counts (countWords) of project `projectId`: {project, acts: {id: n}, chapters: {id: n},
    /// scenes: {id: n}}.
    totals(projectId) {
      const what = `Counting the words of project '${projectId}'`;
      return tx(['projects', 'scenes'], 'readonly', what, async (t) => {
        const project = await loadProject(t, projectId, what);
        const out = { project: 0, acts: {}, chapters: {}, scenes: {} };
        for (const act of project.acts) {
          out.acts[act.id] = 0;
          for (const chapter of act.chapters) {
            out.chapters[chapter.id] = 0;
            for (const id of chapter.scenes) {
              const words = countWords((await t.objectStore('scenes').get(id))?.text);
              out.scenes[id] = words;
              out.chapters[chapter.id] += words;
              out.acts[act.id] += words;
              out.project += words;
            }
          }
        }
        return out;
      });
    },
  };
}
