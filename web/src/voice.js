// voice.js — the studio's voice service: the writer's voices (a name, the reference passages, the
// engine's profile of them, when it was built) kept in IndexedDB, and the background every score
// is measured against, loaded once per page and only when first needed (it is a few MB).
//
//   const voices = createVoices({ storage });
//   await voices.list();                                   // no background needed
//   const { record } = await voices.build({ name: 'Mara', references: text });
//   const s = await voices.score('Mara', passage);         // {score, confidence, evidence, ...}
//
// The voices live in the settings store under one key, 'voices' ({format, voices: [records]}):
// few records, read and written whole, under a Web Lock so two tabs do not overwrite each other's.
// A record is {name, references: [string], source: {kind, character?, aliases?, lines?}, built,
// profile} (the engine's profile without its references, which the record holds once). A profile
// names the background it was built against; one built against another background (a new
// release) is rebuilt from its references when it is next used.
import { loadVoiceBackground } from './engine.js';

/// Where the studio serves the background (web/vite.config.js copies build/voice/background.loomvb).
export const BACKGROUND_URL = '/voice/background.loomvb';
export const VOICES_KEY = 'voices';
const FORMAT = 'loom.voices/1';
const LOCK = 'loom-voices';

/// The service's own errors (the engine's are EngineError): 'bad_argument' for a missing name or
/// text, 'not_found' for a voice that is not stored, 'unavailable' when the background cannot be
/// loaded.
export class VoiceError extends Error {
  constructor(code, message, { hint = '', cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.hint = hint;
  }

  get name() {
    return 'VoiceError';
  }
}

/// Reference passages from what the writer pasted: a string is cut at blank lines; a list is
/// taken as it is. Empty passages are dropped, each is trimmed.
export function splitPassages(text) {
  const parts = Array.isArray(text) ? text : String(text ?? '').split(/\n[ \t]*\r?\n/);
  return parts.map((p) => String(p ?? '').trim()).filter(Boolean);
}

/// A score's confidence (0..1) for a person: {level: 'low' | 'medium' | 'high', text: 'high
/// confidence (0.82)'}.
export function confidenceLabel(confidence) {
  const c = Number(confidence) || 0;
  const level = c >= 0.7 ? 'high' : c >= 0.4 ? 'medium' : 'low';
  return { level, text: `${level} confidence (${c.toFixed(2)})` };
}

/// Whether a workflow's text uses a voice.* agent, so that its run needs the background (a false
/// match only loads it early).
export function usesVoice(yaml) {
  return /\bagent:\s*["']?voice\.(profile|score|rank)\b/.test(String(yaml ?? ''));
}

/// A list of names from "Mara, the Quill girl" or an array; trimmed, empty ones dropped.
export function splitNames(value) {
  const parts = Array.isArray(value) ? value : String(value ?? '').split(',');
  return [...new Set(parts.map((p) => String(p ?? '').trim()).filter(Boolean))];
}

// The background from the studio's server (precached by the service worker for offline use).
async function fetchBackground(url = BACKGROUND_URL) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new VoiceError('unavailable', `The voice background (${url}) could not be fetched: ${e?.message ?? e}.`,
      { hint: 'Open the studio once while online so it can keep the background for offline use.', cause: e });
  }
  if (!response.ok) {
    throw new VoiceError('unavailable', `The voice background (${url}) is missing: the server answered ${response.status}.`,
      { hint: 'The studio was built without it: run tools/build --wasm, then tools/build --web.' });
  }
  return loadVoiceBackground(new Uint8Array(await response.arrayBuffer()));
}

/// The voice service over `storage` (storage.js). `loadBackground` resolves a VoiceBackground
/// (default: fetch BACKGROUND_URL and load it into the engine); it is called once, on first need,
/// and again only after it failed. `onLoad(background)` is called once it has loaded (the studio
/// binds the runs' voice.* steps to it); what it throws is ignored. `locks` is navigator.locks
/// where there is one.
export function createVoices({ storage, loadBackground = fetchBackground, onLoad, locks = globalThis.navigator?.locks, now = Date.now } = {}) {
  return new Voices({ storage, loadBackground, onLoad, locks, now });
}

// The stored record as a profile the engine reads (it rebuilds the statistics from the references).
function profileOf(record) {
  return { ...record.profile, references: record.references };
}

// The engine's profile as stored: its references live in the record.
function storedProfile(profile) {
  const { references, ...rest } = profile;
  return rest;
}

class Voices {
  #storage;
  #loadBackground;
  #onLoad;
  #locks;
  #now;
  #background = null;  // a promise of the VoiceBackground
  #info = null;
  #queue = Promise.resolve();  // this tab's writes, one after the other

  constructor({ storage, loadBackground, onLoad, locks, now }) {
    this.#storage = storage;
    this.#loadBackground = loadBackground;
    this.#onLoad = onLoad;
    this.#locks = locks;
    this.#now = now;
  }

  /// True once the background has loaded.
  get loaded() {
    return this.#info !== null;
  }

  /// The background's {passages, words, fingerprint}, or null before it has loaded.
  get info() {
    return this.#info;
  }

  /// The VoiceBackground, loading it on the first call. A failed load is not remembered: the next
  /// call tries again.
  background() {
    if (!this.#background) {
      const pending = (async () => {
        const bg = await this.#loadBackground();
        this.#info = bg.info();
        try {
          this.#onLoad?.(bg);
        } catch {
          // the panel works without it; only workflows' voice.* steps would miss the background
        }
        return bg;
      })();
      pending.catch(() => {
        if (this.#background === pending) this.#background = null;
      });
      this.#background = pending;
    }
    return this.#background;
  }

  /// Every stored voice, sorted by name. Needs no background.
  async list() {
    const all = await this.#read();
    return all.sort((a, b) => a.name.localeCompare(b.name));
  }

  /// The stored voice `name`, or undefined.
  async get(name) {
    return (await this.#read()).find((v) => v.name === name);
  }

  /// The dialogue of `names[0]` (its aliases after it) in manuscript `text`: [{speaker, text,
  /// begin, end}] of that character's lines only.
  async linesOf(text, names) {
    const wanted = splitNames(names);
    if (!wanted.length) throw new VoiceError('bad_argument', 'Name the character whose lines to find.');
    const bg = await this.background();
    return bg.dialogue(String(text ?? ''), wanted).filter((l) => wanted.includes(l.speaker));
  }

  /// Builds the voice and stores it, replacing one of the same name. `references`: pasted
  /// passages (a string cut at blank lines, or a list); `manuscript` + `character` (+ `aliases`):
  /// that character's dialogue is added to them. Resolves {record, lines} (lines: the
  /// character's, when from a manuscript). Throws the engine's EngineError (INVALID_VALUE under 100
  /// words) or VoiceError('bad_argument'); nothing is stored then.
  async build({ name, references, manuscript, character, aliases, source } = {}) {
    const clean = String(name ?? '').trim();
    if (!clean) throw new VoiceError('bad_argument', 'A voice needs a name (the character, or the author).');
    const passages = splitPassages(references);
    const text = String(manuscript ?? '').trim();
    const who = String(character ?? '').trim();
    const others = splitNames(aliases).filter((a) => a !== who);
    if (text && !who) throw new VoiceError('bad_argument', 'Say whose lines to take from the manuscript (the character\'s name).');
    if (!text && !passages.length) {
      throw new VoiceError('bad_argument', 'Paste some of the voice\'s own words: reference passages, or a manuscript and the character\'s name.');
    }
    const bg = await this.background();
    const request = { name: clean, references: passages };
    let lines;
    if (text) {
      Object.assign(request, { text, character: who, aliases: others });
      lines = bg.dialogue(text, [who, ...others]).filter((l) => l.speaker === who || others.includes(l.speaker));
    }
    const profile = bg.profile(request);
    const record = {
      name: clean,
      references: profile.references ?? passages,
      source: source ?? (text ? { kind: 'manuscript', character: who, aliases: others, lines: profile.lines ?? lines.length, passages: passages.length }
        : { kind: 'references', passages: passages.length }),
      built: this.#now(),
      profile: storedProfile(profile),
    };
    await this.#write((all) => [...all.filter((v) => v.name !== clean), record]);
    return { record, lines };
  }

  /// The stored voice `name`, its profile rebuilt from its references (and stored) when it was
  /// made against another background. Throws VoiceError('not_found').
  async current(name) {
    const record = await this.get(name);
    if (!record) throw new VoiceError('not_found', `There is no voice called '${name}'.`);
    const bg = await this.background();
    if (record.profile?.background === this.#info.fingerprint) return record;
    const profile = bg.profile({ name: record.name, references: record.references });
    const rebuilt = { ...record, profile: storedProfile(profile), built: this.#now() };
    await this.#write((all) => all.map((v) => (v.name === record.name ? rebuilt : v)));
    return rebuilt;
  }

  /// How close `text` is to voice `name` (a name or a stored record): the engine's score. `cast`
  /// names other stored voices to score relative to ("Mara rather than Ives?").
  async score(name, text, { cast = [] } = {}) {
    const record = typeof name === 'string' ? await this.current(name) : name;
    return (await this.background()).score(profileOf(record), String(text ?? ''), await this.#cast(cast, record.name));
  }

  /// `candidates` ([string | {label, text}]) ranked by how close they are to voice `name`; `cast` as in score().
  async rank(name, candidates, { cast = [] } = {}) {
    const record = typeof name === 'string' ? await this.current(name) : name;
    return (await this.background()).rank(profileOf(record), candidates, await this.#cast(cast, record.name));
  }

  // The profiles of the named voices, leaving out `self` and names that are not stored.
  async #cast(names, self) {
    if (!names.length) return [];
    const stored = new Map((await this.#read()).map((v) => [v.name, v]));
    return names.filter((n) => n !== self && stored.has(n))
      .map((n) => ({ name: n, references: stored.get(n).references }));
  }

  /// Removes voice `name` (nothing when there is none).
  async remove(name) {
    await this.#write((all) => all.filter((v) => v.name !== name));
  }

  async #read() {
    const stored = await this.#storage.getSetting(VOICES_KEY, null);
    return Array.isArray(stored?.voices) ? [...stored.voices] : [];
  }

  // Read, change and write the list: one at a time in this tab, and under a Web Lock across tabs.
  #write(change) {
    const step = async () => {
      const next = change(await this.#read());
      await this.#storage.putSetting(VOICES_KEY, { format: FORMAT, voices: next });
    };
    const locked = () => (typeof this.#locks?.request === 'function' ? this.#locks.request(LOCK, step) : step());
    const result = this.#queue.then(locked, locked);
    this.#queue = result.catch(() => {});
    return result;
  }
}
