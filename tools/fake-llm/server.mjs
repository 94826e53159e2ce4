// server.mjs — fake-llm: a local HTTP server speaking the OpenAI Chat Completions, Anthropic
// Messages and Gemini generateContent wire protocols with deterministic text.
//
// TEST INFRASTRUCTURE ONLY. It is not a model and answers no question: every answer is made
// from the request by text.mjs. Tests start it in-process:
//
//   import { startFakeLlm } from '../../tools/fake-llm/server.mjs';
//   const fake = await startFakeLlm({ port: 0, chunkDelayMs: 0 });
//   await fetch(`${fake.url}/v1/chat/completions`, ...);
//   await fake.close();
//
// or as a process: `npm run fake-llm -- --port 8090` (main.mjs). README.md has the whole API:
// the three protocols, the auth rules, fault injection (/_fake/faults) and the counters.
import { createServer } from 'node:http';
import anthropic from './protocols/anthropic.mjs';
import gemini from './protocols/gemini.mjs';
import openai from './protocols/openai.mjs';
import { composeReply, countWords, splitDeltas } from './text.mjs';
import { HttpError, halfJson, isCount } from './wire.mjs';

export const PROTOCOLS = [openai, anthropic, gemini];
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
export const REQUEST_LOG_SIZE = 100;
export const DEFAULT_HANG_MS = 600000;
export const FAULT_TYPES = ['latency', 'status', 'hang', 'malformed', 'cut', 'filter', 'context_too_long', 'reply'];

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'retry-after, request-id, x-request-id',
};

/** Checks one fault of a POST /_fake/faults body; returns it normalized or throws a message. */
export function checkFault(f) {
  if (!f || typeof f !== 'object' || Array.isArray(f)) throw new Error('each fault must be an object with a "type"');
  const where = `fault ${JSON.stringify(f)}`;
  switch (f.type) {
    case 'latency':
      if (!isCount(f.ms)) throw new Error(`${where}: "ms" must be a whole number of milliseconds`);
      return { type: 'latency', ms: f.ms };
    case 'status':
      if (!Number.isInteger(f.status) || f.status < 400 || f.status > 599) throw new Error(`${where}: "status" must be an HTTP status from 400 to 599`);
      if (f.retry_after != null && !(typeof f.retry_after === 'number' && f.retry_after >= 0)) throw new Error(`${where}: "retry_after" must be a number of seconds`);
      return f.retry_after != null ? { type: 'status', status: f.status, retry_after: f.retry_after } : { type: 'status', status: f.status };
    case 'hang':
      if (f.ms != null && !isCount(f.ms)) throw new Error(`${where}: "ms" must be a whole number of milliseconds`);
      return { type: 'hang', ms: f.ms ?? DEFAULT_HANG_MS };
    case 'cut':
      if (f.after != null && !isCount(f.after)) throw new Error(`${where}: "after" must be a whole number of deltas`);
      return { type: 'cut', after: f.after ?? 0 };
    case 'malformed':
    case 'filter':
    case 'context_too_long':
      return { type: f.type };
    case 'reply':
      if (typeof f.text !== 'string') throw new Error(`${where}: "text" must be the answer's text (a string)`);
      return { type: 'reply', text: f.text };
    default:
      throw new Error(`${where}: unknown type; expected one of ${FAULT_TYPES.join(', ')}`);
  }
}

/** Reads a request body; resolves null when it is over MAX_BODY_BYTES (the rest is drained). */
function readBody(req) {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
      req.resume();
      resolve(null);
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
      else chunks.length = 0;
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => { if (!req.complete) reject(new Error('request aborted')); });
  });
}

/**
 * Starts fake-llm. Resolves to {url, port, close()}; close() ends every open connection
 * (hanging ones too) and resolves when the server has stopped.
 *   port          0 picks a free port
 *   host          '127.0.0.1' unless told
 *   chunkDelayMs  the pause between streamed deltas (5 unless told)
 *   log           optional function(line) told of each provider request (never a key)
 */
export async function startFakeLlm({ port = 0, host = '127.0.0.1', chunkDelayMs = 5, log = null } = {}) {
  const timers = new Set();
  let state;
  const reset = () => { state = { total: 0, models: new Map(), queues: new Map(), requests: [] }; };
  reset();

  // Waits ms; resolves false early when the response closes first (the client went away).
  const sleep = (ms, res) => new Promise((resolve) => {
    if (res.destroyed) { resolve(false); return; }
    const onClose = () => { clearTimeout(t); timers.delete(t); resolve(false); };
    const t = setTimeout(() => { timers.delete(t); res.off('close', onClose); resolve(true); }, ms);
    timers.add(t);
    res.once('close', onClose);
  });
  const pause = (res) => (chunkDelayMs > 0 ? sleep(chunkDelayMs, res) : Promise.resolve(!res.destroyed));

  const statsFor = (model) => {
    if (!state.models.has(model)) state.models.set(model, { requests: 0, completed: 0, faults: 0, streamed: 0 });
    return state.models.get(model);
  };

  // Writes a chunk; resolves true once it is flushed, false when the connection is gone.
  const write = (res, chunk) => new Promise((resolve) => {
    if (res.destroyed || res.writableEnded) { resolve(false); return; }
    const onClose = () => resolve(false);
    res.once('close', onClose);
    res.write(chunk, (err) => { res.off('close', onClose); resolve(!err && !res.destroyed); });
  });

  function sendText(res, status, contentType, text, headers = {}) {
    res.writeHead(status, { ...CORS, ...headers, 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
  const sendJson = (res, status, value) => sendText(res, status, 'application/json', `${JSON.stringify(value, null, 2)}\n`);

  function sendError(res, proto, route, err) {
    const e = proto.error(err, route);
    const headers = { ...proto.headers(), ...(e.headers || {}) };
    if (err.extra.retryAfter != null) headers['retry-after'] = String(err.extra.retryAfter);
    sendText(res, e.status, e.contentType, e.text, headers);
  }

  // A normal (or content-filtered) answer, whole or streamed. A normal answer counts as completed
  // once its last byte is handed to the socket (before the client can have read it).
  async function answer(res, proto, reply, ctx, stream, normal) {
    const done = () => { if (normal && !res.destroyed) statsFor(ctx.model).completed += 1; };
    if (!stream) {
      const a = proto.answer(reply, ctx);
      done();
      sendText(res, 200, a.contentType, a.text, proto.headers());
      return;
    }
    const s = proto.stream(reply, ctx);
    startStream(res, proto, s.contentType);
    for (const chunk of s.start) if (!await write(res, chunk)) return;
    for (const chunk of s.deltas) {
      if (!await pause(res) || !await write(res, chunk)) return;
    }
    if (!await pause(res)) return;
    for (const chunk of s.end.slice(0, -1)) if (!await write(res, chunk)) return;
    if (res.destroyed) return;
    done();
    res.end(s.end.at(-1));
  }

  function startStream(res, proto, contentType) {
    res.writeHead(200, { ...CORS, ...proto.headers(), 'content-type': contentType, 'cache-control': 'no-cache' });
    res.flushHeaders();
    if (res.socket) res.socket.setNoDelay(true);
  }

  // The `cut` fault: part of the answer, then the connection is destroyed.
  async function cut(res, proto, reply, ctx, stream, after) {
    if (!stream) {
      const a = proto.answer(reply, ctx);
      res.writeHead(200, { ...CORS, ...proto.headers(), 'content-type': a.contentType, 'content-length': Buffer.byteLength(a.text) });
      await write(res, halfJson(a.text));
      res.destroy();
      return;
    }
    const s = proto.stream(reply, { ...ctx, cut: true });
    startStream(res, proto, s.contentType);
    for (const chunk of s.start) if (!await write(res, chunk)) return;
    for (const chunk of s.deltas.slice(0, after)) {
      if (!await pause(res) || !await write(res, chunk)) return;
    }
    res.destroy();
  }

  // The `malformed` fault: a 200 whose JSON is broken (for a stream: one broken event, then the end).
  async function malformed(res, proto, reply, ctx, stream) {
    if (!stream) {
      const a = proto.answer(reply, ctx);
      sendText(res, 200, a.contentType, halfJson(a.text), proto.headers());
      return;
    }
    const b = proto.brokenStream(reply, ctx);
    startStream(res, proto, b.contentType);
    for (const chunk of b.chunks) if (!await write(res, chunk)) return;
    res.end();
  }

  // The `hang` fault: nothing is sent; after ms the socket is closed.
  function hang(req, ms) {
    const socket = req.socket;
    const t = setTimeout(() => { timers.delete(t); socket.destroy(); }, ms);
    timers.add(t);
    socket.once('close', () => { clearTimeout(t); timers.delete(t); });
  }

  async function provider(proto, route, req, res, url) {
    const buf = await readBody(req);
    const fail = (err) => sendError(res, proto, route, err);
    state.total += 1;
    let body;
    let badJson = false;
    if (buf) {
      try { body = JSON.parse(buf.toString('utf8')); } catch { badJson = true; }
    }
    const model = proto.modelOf(body, route) || '';
    const stream = proto.streamOf(body, route);
    const key = proto.key(req, url.searchParams);
    state.requests.push({ protocol: proto.name, path: url.pathname, model: model || null, stream, body: body ?? null, auth: key ? 'present' : 'absent' });
    if (state.requests.length > REQUEST_LOG_SIZE) state.requests.splice(0, state.requests.length - REQUEST_LOG_SIZE);
    if (model) {
      const s = statsFor(model);
      s.requests += 1;
      if (stream) s.streamed += 1;
    }
    const note = (what) => { if (log) log(`${req.method} ${url.pathname} model=${model || '-'} stream=${stream} auth=${key ? 'present' : 'absent'} -> ${what}`); };

    if (!buf) { note('413'); return fail(new HttpError(413, '')); }
    if (badJson) { note('400 bad JSON'); return fail(proto.badJson()); }
    if (!key && !model.startsWith('local')) { note('401 no key'); return fail(proto.authMissing()); }
    if (key.startsWith('bad-')) { note('401 bad key'); return fail(proto.authBad(key)); }
    const headerError = proto.checkHeaders(req);
    if (headerError) { note(`${headerError.status} header`); return fail(headerError); }
    let request;
    try {
      request = proto.normalize(body, route);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      note(`${e.status} invalid request`);
      return fail(e);
    }

    const queue = state.queues.get(model);
    const fault = queue && queue.length ? queue.shift() : null;
    if (fault) statsFor(model).faults += 1;
    note(fault ? `fault ${JSON.stringify(fault)}` : 'answer');

    let reply = composeReply(request);
    const ctx = proto.context({ model: request.model, includeUsage: Boolean(request.includeUsage), sse: Boolean(route.sse), jsonArray: Boolean(route.jsonArray) });
    switch (fault && fault.type) {
      case 'latency':
        if (!await sleep(fault.ms, res)) return undefined;
        return answer(res, proto, reply, ctx, request.stream, true);
      case 'status': {
        const err = proto.faultError(fault.status);
        if (fault.retry_after != null) err.extra.retryAfter = fault.retry_after;
        return fail(err);
      }
      case 'hang':
        return hang(req, fault.ms);
      case 'context_too_long':
        return fail(proto.contextTooLong(reply.inputTokens));
      case 'filter':
        reply = { ...reply, text: '', deltas: [], outputTokens: 0, finish: 'filter', stopSequence: null };
        return answer(res, proto, reply, ctx, request.stream, false);
      case 'malformed':
        return malformed(res, proto, reply, ctx, request.stream);
      case 'reply':
        // A scripted answer: this text instead of the made-up one, with its own counts and deltas.
        reply = { ...reply, text: fault.text, deltas: splitDeltas(fault.text, reply.seed), outputTokens: countWords(fault.text), finish: 'stop', stopSequence: null };
        return answer(res, proto, reply, ctx, request.stream, true);
      case 'cut':
        return cut(res, proto, reply, ctx, request.stream, fault.after);
      default:
        return answer(res, proto, reply, ctx, request.stream, true);
    }
  }

  async function control(req, res, url) {
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'POST /_fake/faults': {
        const buf = await readBody(req);
        if (!buf) return sendJson(res, 413, { error: 'body over 10 MB' });
        let body;
        try { body = JSON.parse(buf.toString('utf8')); } catch { return sendJson(res, 400, { error: 'the body is not valid JSON' }); }
        if (!body || typeof body.model !== 'string' || !body.model) return sendJson(res, 400, { error: 'expected {model: "name", faults: [...]}: "model" is missing' });
        if (!Array.isArray(body.faults)) return sendJson(res, 400, { error: 'expected {model: "name", faults: [...]}: "faults" must be an array' });
        let faults;
        try { faults = body.faults.map(checkFault); } catch (e) { return sendJson(res, 400, { error: e.message }); }
        if (!state.queues.has(body.model)) state.queues.set(body.model, []);
        state.queues.get(body.model).push(...faults);
        return sendJson(res, 200, { model: body.model, queued: state.queues.get(body.model).length });
      }
      case 'GET /_fake/faults':
        return sendJson(res, 200, Object.fromEntries([...state.queues].filter(([, q]) => q.length)));
      case 'GET /_fake/stats':
        return sendJson(res, 200, { total: state.total, models: Object.fromEntries(state.models) });
      case 'GET /_fake/requests':
        return sendJson(res, 200, state.requests);
      case 'POST /_fake/reset':
        reset();
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: `fake-llm: no control route ${route}` });
    }
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://fake-llm.invalid');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...CORS,
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] || '*',
        'access-control-max-age': '600',
      });
      res.end();
      return undefined;
    }
    if (url.pathname.startsWith('/_fake/')) return control(req, res, url);
    for (const proto of PROTOCOLS) {
      const route = proto.route(req.method, url.pathname, url.searchParams);
      if (route) return provider(proto, route, req, res, url);
    }
    req.resume();
    return sendJson(res, 404, { error: { message: `fake-llm: no route for ${req.method} ${url.pathname}`, type: 'not_found', code: 404 } });
  }

  const server = createServer((req, res) => {
    req.on('error', () => {});  // a client that goes away mid-request is not the server's failure
    handle(req, res).catch((err) => {
      if (res.headersSent || res.destroyed) { res.destroy(); return; }
      if (err && err.message === 'request aborted') { res.destroy(); return; }
      sendJson(res, 500, { error: { message: `fake-llm internal error: ${err && err.message}`, type: 'server_error' } });
    });
  });
  server.on('clientError', (err, socket) => { socket.destroy(); });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const actual = server.address().port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing = null;
  return {
    url: `http://${shownHost}:${actual}`,
    port: actual,
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          for (const t of timers) clearTimeout(t);
          timers.clear();
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      return closing;
    },
  };
}
