// peers.mjs — one adapter per library, all with the same shape, used by lib.mjs:
//
//   const a = await ADAPTERS[name]({ analysis });   // loads the library (not timed)
//   a.unavailable                                   // a reason to skip it (no number is made up)
//   const index = await a.build(chunks, analyze);   // timed: build_ms
//   a.search(index, query, 10)                      // -> ids, best first (maybe a promise)
//   const snap = await a.snapshot(index);           // {data, bytes}: the library's own serialization
//   const again = await a.load(snap.data, analyze); // timed: load_ms
//   a.wasmBytes?.()                                 // the wasm peers' linear memory, in bytes
//   a.wasmUsedBytes?.(index)                        // ... and what the library says it allocated
//   a.stats?.(index)                                // extra figures for the JSON line
//   a.free?.(index)
//
// analysis 'shared' (the default): every library indexes the terms of analysis.mjs (Loom's
// steps), handed over through the library's tokenizer hook, so that top-10 agreement compares
// ranking, not tokenizers. 'native': each library's own analysis (English stemming where the
// library has it); agreement then also counts the analysis differences.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K1 = 1.2, B = 0.75;

const utf8Bytes = (s) => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------- Loom (wasm)

// The engine's WebAssembly.Memory, caught as the module instantiates (engine.js keeps the module
// to itself): its buffer's byteLength is the linear memory.
function catchWasmMemory() {
  const found = { memory: null };
  const look = (instance) => {
    for (const v of Object.values(instance?.exports ?? {})) {
      if (v instanceof WebAssembly.Memory) found.memory = v;
    }
  };
  const wrap = (name) => {
    const orig = WebAssembly[name];
    WebAssembly[name] = async function (...args) {
      const r = await orig.apply(this, args);
      look(r.instance ?? r);
      return r;
    };
    return () => { WebAssembly[name] = orig; };
  };
  const undo = [wrap('instantiate'), wrap('instantiateStreaming')];
  return { found, restore: () => undo.forEach((u) => u()) };
}

async function loom() {
  const catcher = catchWasmMemory();
  let engine;
  try {
    const { loadEngine } = await import(pathToFileURL(path.join(ROOT, 'web/src/engine.js')).href);
    engine = await loadEngine();
  } catch (e) {
    return { unavailable: `loom: the engine's wasm is not built (${e.message.split('\n')[0]})` };
  } finally {
    catcher.restore();
  }
  if (typeof engine.createKnowledgeBase !== 'function') {
    return { unavailable: 'loom: the knowledge binding is not built yet' };
  }
  const options = { k1: K1, b: B, chunk_chars: 4096, chunk_overlap: 0 };
  const toEntry = (c) => ({
    // One chunk, one entry: chunk_chars 4096 > any chunk (2 KB), so Loom does not re-chunk it.
    // The name is required and indexed (boosted): the chunk's number, a term no query has.
    id: String(c.id), name: String(c.id), aliases: [], category: 'research', inclusion: 'by_relevance',
    text: c.text, source: c.source,
  });
  return {
    engine,
    wasmBytes: () => catcher.found.memory?.buffer.byteLength ?? null,
    build(chunks) {
      const kb = engine.createKnowledgeBase(options);
      for (let i = 0; i < chunks.length; i += 1000) kb.putMany(chunks.slice(i, i + 1000).map(toEntry));
      return kb;
    },
    search: (kb, q, k) => kb.searchRanked(q, { k }).map(([id]) => Number(id)),
    snapshot(kb) {
      const data = kb.snapshot();
      return { data, bytes: data.byteLength };
    },
    load: (data) => engine.loadKnowledgeBase(data),
    // the index's own count of its bytes (kb.stats().memory_bytes); the engine allocates nothing else
    wasmUsedBytes: (kb) => (kb ? kb.stats().memory_bytes : 0),
    stats: (kb) => {
      const s = kb.stats();
      return { loom_entries: s.entries, loom_chunks: s.chunks, loom_terms: s.terms };
    },
    free: (kb) => kb.delete(),
  };
}

// ---------------------------------------------------------------- minisearch

async function minisearch({ analysis }) {
  const { default: MiniSearch } = await import('minisearch');
  const make = (analyze) => (analysis === 'shared'
    ? {
      fields: ['text'], storeFields: [],
      tokenize: (text) => analyze(text), processTerm: (t) => t,
      // d: 0 turns MiniSearch's default BM25+ (k 1.2, b 0.7, d 0.5) into plain BM25.
      searchOptions: { combineWith: 'OR', bm25: { k: K1, b: B, d: 0 } },
    }
    : { fields: ['text'], storeFields: [] });  // its defaults: no stemming, BM25+
  let opts;
  return {
    build(chunks, analyze) {
      opts = make(analyze);
      const ms = new MiniSearch(opts);
      ms.addAll(chunks.map((c) => ({ id: c.id, text: c.text })));
      return ms;
    },
    search: (ms, q, k) => ms.search(q).slice(0, k).map((r) => r.id),
    snapshot(ms) {
      const data = JSON.stringify(ms);
      return { data, bytes: utf8Bytes(data) };
    },
    load: (data, analyze) => MiniSearch.loadJSON(data, make(analyze)),
  };
}

// ---------------------------------------------------------------- lunr

async function lunr({ analysis }) {
  const lunr = require('lunr');
  return {
    build(chunks, analyze) {
      return lunr(function () {
        this.ref('id');
        this.field('text');
        this.k1(K1);
        this.b(B);
        if (analysis === 'shared') {
          this.tokenizer = (text) => (text == null ? [] : analyze(String(text)).map((t) => new lunr.Token(t, {})));
          this.pipeline.reset();
          this.searchPipeline.reset();
        }
        for (const c of chunks) this.add({ id: String(c.id), text: c.text });
      });
    },
    search(idx, q, k, analyze) {
      if (analysis !== 'shared') return idx.search(q.replace(/[:~^+*-]/g, ' ')).slice(0, k).map((r) => Number(r.ref));
      const terms = analyze(q);
      return idx.query((query) => {
        for (const t of terms) {
          query.term(t, { usePipeline: false, wildcard: lunr.Query.wildcard.NONE, presence: lunr.Query.presence.OPTIONAL });
        }
      }).slice(0, k).map((r) => Number(r.ref));
    },
    snapshot(idx) {
      const data = JSON.stringify(idx);
      return { data, bytes: utf8Bytes(data) };
    },
    load: (data) => lunr.Index.load(JSON.parse(data)),
  };
}

// ---------------------------------------------------------------- flexsearch

async function flexsearch({ analysis }) {
  const { Index } = await import('flexsearch');
  // Its own scoring: a term's place in the document (resolution slots), not BM25.
  const make = (analyze) => (analysis === 'shared'
    ? new Index({ tokenize: 'strict', resolution: 9, encode: (text) => analyze(text) })
    : new Index({ tokenize: 'strict', resolution: 9 }));
  return {
    build(chunks, analyze) {
      const idx = make(analyze);
      for (const c of chunks) idx.add(c.id, c.text);
      return idx;
    },
    // suggest: a document need not have every query term (OR, as BM25 ranks)
    search: (idx, q, k) => idx.search(q, { limit: k, suggest: true }),
    async snapshot(idx) {
      const parts = [];
      await idx.export((key, data) => { parts.push([key, data]); });
      return { data: parts, bytes: parts.reduce((a, [key, d]) => a + utf8Bytes(key) + utf8Bytes(typeof d === 'string' ? d : JSON.stringify(d)), 0) };
    },
    async load(parts, analyze) {
      const idx = make(analyze);
      for (const [key, data] of parts) await idx.import(key, data);
      return idx;
    },
  };
}

// ---------------------------------------------------------------- orama

async function orama({ analysis }) {
  const { create, insert, search, save, load } = await import('@orama/orama');
  // Orama finds a search term as a prefix of indexed words; each term ends with \u0001 so that it
  // matches only itself. Its tokenizer gives each distinct term once (as Orama's own does), so
  // its BM25 has no term frequency: tf is 1 / (distinct terms in the document).
  const tokenizer = (analyze) => ({
    language: 'english',
    normalizationCache: new Map(),
    tokenize: (raw) => (typeof raw === 'string' ? [...new Set(analyze(raw))].map((t) => `${t}\u0001`) : [raw]),
  });
  const make = (analyze) => create({
    schema: { text: 'string' },
    components: analysis === 'shared' ? { tokenizer: tokenizer(analyze) } : { tokenizer: { stemming: true } },
  });
  const relevance = analysis === 'shared' ? { k: K1, b: B, d: 0 } : undefined;  // default d 0.5: BM25+
  return {
    async build(chunks, analyze) {
      const db = make(analyze);
      for (const c of chunks) {
        const r = insert(db, { id: String(c.id), text: c.text });
        if (r && typeof r.then === 'function') await r;
      }
      return db;
    },
    search(db, q, k) {
      const r = search(db, { term: q, properties: ['text'], limit: k, threshold: 1, ...(relevance ? { relevance } : {}) });
      const ids = (res) => res.hits.map((h) => Number(h.id));
      return r && typeof r.then === 'function' ? r.then(ids) : ids(r);
    },
    snapshot(db) {
      const data = JSON.stringify(save(db));
      return { data, bytes: utf8Bytes(data) };
    },
    load(data, analyze) {
      const db = make(analyze);
      load(db, JSON.parse(data));
      return db;
    },
  };
}

// ---------------------------------------------------------------- wink-bm25-text-search

async function wink({ analysis }) {
  const bm25 = require('wink-bm25-text-search');
  const nlp = require('wink-nlp-utils');
  const prep = (analyze) => (analysis === 'shared'
    ? [(text) => analyze(text)]
    // its README's pipeline: Porter2 stems, its stopword list, negations propagated
    : [nlp.string.lowerCase, nlp.string.tokenize0, nlp.tokens.removeWords, nlp.tokens.stem, nlp.tokens.propagateNegations]);
  const make = (analyze) => {
    const e = bm25();
    e.defineConfig({ fldWeights: { text: 1 }, bm25Params: { k1: K1, b: B, k: 1 } });  // k 1: Lucene's idf
    e.definePrepTasks(prep(analyze));
    return e;
  };
  return {
    build(chunks, analyze) {
      const e = make(analyze);
      for (const c of chunks) e.addDoc({ text: c.text }, c.id);
      e.consolidate();  // its default: scores kept to 4 decimals
      return e;
    },
    search: (e, q, k) => e.search(q, k).map(([id]) => Number(id)),
    snapshot(e) {
      const data = e.exportJSON();
      return { data, bytes: utf8Bytes(data) };
    },
    load(data, analyze) {
      const e = make(analyze);
      e.importJSON(data);
      return e;
    },
  };
}

// ---------------------------------------------------------------- SQLite FTS5 (wasm)

async function fts5({ analysis }) {
  const { default: init } = await import('@sqlite.org/sqlite-wasm');
  const sqlite3 = await init();
  const { capi, wasm } = sqlite3;
  // shared: the analyzed terms, space separated, into a contentless table whose ascii tokenizer
  // (apostrophe a token character; non-ASCII always one) gives back exactly those terms.
  // native: the text itself, stored, with the porter stemmer over unicode61.
  const ddl = analysis === 'shared'
    ? "create virtual table idx using fts5(terms, content='', tokenize=\"ascii tokenchars ''''\")"
    : "create virtual table idx using fts5(text, tokenize='porter unicode61 remove_diacritics 2')";
  const stmts = new WeakMap();
  const prepared = (db) => {
    let s = stmts.get(db);
    if (!s) stmts.set(db, (s = db.prepare('select rowid from idx where idx match ? order by bm25(idx) limit ?')));
    return s;
  };
  const quote = (t) => `"${t.replaceAll('"', '""')}"`;
  const matchExpr = (q, analyze) => {
    const terms = analysis === 'shared' ? [...new Set(analyze(q))] : (q.match(/[\p{L}\p{N}]+/gu) ?? []);
    return terms.map(quote).join(' OR ');
  };
  return {
    sqlite3,
    wasmBytes: () => wasm.memory.buffer.byteLength,
    build(chunks, analyze) {
      const db = new sqlite3.oo1.DB(':memory:');
      db.exec(ddl);
      db.exec('begin');
      const ins = db.prepare(`insert into idx(rowid, ${analysis === 'shared' ? 'terms' : 'text'}) values (?, ?)`);
      for (const c of chunks) {
        ins.bind([c.id, analysis === 'shared' ? analyze(c.text).join(' ') : c.text]).stepReset();
      }
      ins.finalize();
      db.exec('commit');
      return db;
    },
    search(db, q, k, analyze) {
      const expr = matchExpr(q, analyze);
      if (!expr) return [];
      const s = prepared(db);
      const ids = [];
      s.bind([expr, k]);
      while (s.step()) ids.push(s.get(0));
      s.reset();
      return ids;
    },
    snapshot(db) {
      const data = capi.sqlite3_js_db_export(db);  // the database file's bytes
      return { data, bytes: data.byteLength };
    },
    load(data) {
      const db = new sqlite3.oo1.DB(':memory:');
      const p = wasm.allocFromTypedArray(data);
      const rc = capi.sqlite3_deserialize(db.pointer, 'main', p, data.byteLength, data.byteLength,
        capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE);
      if (rc) throw new Error(`sqlite3_deserialize: ${capi.sqlite3_js_rc_str(rc)}`);
      return db;
    },
    // SQLite's own count of the bytes it has allocated (sqlite3_status64 SQLITE_STATUS_MEMORY_USED)
    wasmUsedBytes() {
      const sp = wasm.pstack.pointer;
      try {
        const [cur, high] = wasm.pstack.allocChunks(2, 8);
        if (capi.sqlite3_status64(capi.SQLITE_STATUS_MEMORY_USED, cur, high, 0) !== 0) return null;
        return Number(wasm.peek(cur, 'i64'));
      } finally {
        wasm.pstack.restore(sp);
      }
    },
    free(db) {
      stmts.get(db)?.finalize();
      db.close();
    },
  };
}

export const LIBS = ['loom', 'minisearch', 'lunr', 'flexsearch', 'orama', 'wink', 'fts5'];
export const ADAPTERS = { loom, minisearch, lunr, flexsearch, orama, wink, fts5 };
export const LABELS = {
  loom: 'loom (wasm)', minisearch: 'minisearch', lunr: 'lunr', flexsearch: 'flexsearch',
  orama: '@orama/orama', wink: 'wink-bm25-text-search', fts5: 'sqlite fts5 (wasm)',
};
