// protocols/gemini.mjs — Google Gemini generateContent, as fake-llm speaks it. TEST INFRASTRUCTURE.
//
//   POST /v1beta/models/{model}:generateContent
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   SSE `data: {GenerateContentResponse}`
//   POST /v1beta/models/{model}:streamGenerateContent           a JSON array written progressively:
//                                                               `[` obj `,\r\n` obj ... `]`
//   key      x-goog-api-key header, or ?key=
//   errors   {error: {code, message, status}}; on the JSON-array stream wrapped in `[...]`, as the
//            real endpoint does
import { HttpError, brokenSseEvent, halfJson, isCount, randomId, sseEvent } from '../wire.mjs';

const JSON_TYPE = 'application/json; charset=UTF-8';
const SSE = 'text/event-stream';
const FINISH = { stop: 'STOP', length: 'MAX_TOKENS', stop_sequence: 'STOP' };
const PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

const ERRORS = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument. (fake-llm injected fault)'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials. (fake-llm injected fault)'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission. (fake-llm injected fault)'],
  404: ['NOT_FOUND', 'Requested entity was not found. (fake-llm injected fault)'],
  413: ['INVALID_ARGUMENT', 'Request payload size exceeds the limit.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota). (fake-llm injected fault)'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry. (fake-llm injected fault)'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later. (fake-llm injected fault)'],
  504: ['DEADLINE_EXCEEDED', 'The request timed out. Please try again. (fake-llm injected fault)'],
};
const errorDefaults = (status) => ERRORS[status]
  || (status >= 500 ? ['UNAVAILABLE', `The service is currently unavailable (${status}). (fake-llm injected fault)`]
    : ['FAILED_PRECONDITION', `Request failed with status ${status}. (fake-llm injected fault)`]);

const SAFETY = ['HARM_CATEGORY_SEXUALLY_EXPLICIT', 'HARM_CATEGORY_HATE_SPEECH', 'HARM_CATEGORY_HARASSMENT', 'HARM_CATEGORY_DANGEROUS_CONTENT'];

function partsText(content, where) {
  if (content == null) return '';
  if (!Array.isArray(content.parts)) throw new HttpError(400, `Invalid value at '${where}.parts': expected a list of parts.`);
  return content.parts.filter((p) => p && typeof p.text === 'string').map((p) => p.text).join('\n');
}

const pretty = (v) => JSON.stringify(v, null, 2);

export default {
  name: 'gemini',

  route(method, pathname, search) {
    const m = method === 'POST' && pathname.match(PATH);
    if (!m) return null;
    const stream = m[2] === 'streamGenerateContent';
    return { model: decodeURIComponent(m[1]), stream, sse: stream && search.get('alt') === 'sse', jsonArray: stream && search.get('alt') !== 'sse' };
  },

  key: (req, search) => String(req.headers['x-goog-api-key'] ?? search.get('key') ?? '').trim(),
  modelOf: (body, route) => route.model,
  streamOf: (body, route) => route.stream,
  checkHeaders: () => null,
  headers: () => ({}),
  badJson: () => new HttpError(400, 'Invalid JSON payload received. The body is not valid JSON.'),

  normalize(body, route) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'Invalid JSON payload received. Expected an object.');
    if (!Array.isArray(body.contents) || body.contents.length === 0) throw new HttpError(400, '* GenerateContentRequest.contents: contents is not specified');
    const messages = body.contents.map((c, i) => {
      const role = c && c.role != null ? c.role : 'user';
      if (role !== 'user' && role !== 'model') throw new HttpError(400, `Please use a valid role: user, model. (contents[${i}].role)`);
      return { role: role === 'model' ? 'assistant' : 'user', text: partsText(c, `contents[${i}]`) };
    });
    const system = body.systemInstruction ?? body.system_instruction;
    const config = body.generationConfig ?? body.generation_config ?? {};
    const max = config.maxOutputTokens ?? config.max_output_tokens;
    if (max != null && !isCount(max, 1)) throw new HttpError(400, `Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), ${JSON.stringify(max)}`);
    const stop = config.stopSequences ?? config.stop_sequences;
    return {
      model: route.model,
      stream: route.stream,
      system: partsText(system, 'system_instruction'),
      messages,
      maxTokens: max ?? null,
      stop: Array.isArray(stop) ? stop.map(String) : [],
    };
  },

  error(err, route) {
    const [status, message] = errorDefaults(err.status);
    const error = { code: err.status, message: err.message || message, status: err.extra.status ?? status };
    if (err.extra.retryAfter != null) {
      error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${err.extra.retryAfter}s` }];
    }
    const body = route && route.jsonArray ? [{ error }] : { error };
    return { status: err.status, contentType: JSON_TYPE, text: pretty(body) };
  },

  faultError: (status) => new HttpError(status, errorDefaults(status)[1]),
  authMissing: () => new HttpError(401, 'API key not found. Please pass a valid API key (x-goog-api-key header or ?key=).'),
  authBad: (key) => new HttpError(401, `API key not valid: ${key}. Please pass a valid API key.`),
  contextTooLong: (inputTokens) => new HttpError(400, `The input token count (${1048576 + inputTokens}) exceeds the maximum number of tokens allowed (1048576).`),

  context(req) {
    return { responseId: randomId(22), ...req };
  },

  usage(reply, outputTokens = reply.outputTokens) {
    return {
      promptTokenCount: reply.inputTokens,
      candidatesTokenCount: outputTokens,
      totalTokenCount: reply.inputTokens + outputTokens,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: reply.inputTokens }],
    };
  },

  filtered(reply, ctx) {
    return {
      promptFeedback: { blockReason: 'SAFETY', safetyRatings: SAFETY.map((category) => ({ category, probability: category === 'HARM_CATEGORY_DANGEROUS_CONTENT' ? 'HIGH' : 'NEGLIGIBLE' })) },
      usageMetadata: { promptTokenCount: reply.inputTokens, totalTokenCount: reply.inputTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: reply.inputTokens }] },
      modelVersion: ctx.model,
      responseId: ctx.responseId,
    };
  },

  response(reply, ctx, text, finishReason, outputTokens) {
    const candidate = { content: { parts: [{ text }], role: 'model' } };
    if (finishReason) candidate.finishReason = finishReason;
    candidate.index = 0;
    return { candidates: [candidate], usageMetadata: this.usage(reply, outputTokens), modelVersion: ctx.model, responseId: ctx.responseId };
  },

  body(reply, ctx) {
    return reply.finish === 'filter' ? this.filtered(reply, ctx) : this.response(reply, ctx, reply.text, FINISH[reply.finish], reply.outputTokens);
  },

  answer(reply, ctx) {
    return { contentType: JSON_TYPE, text: pretty(this.body(reply, ctx)) };
  },

  /** The stream's objects: one per delta, the last with finishReason (none at all when ctx.cut). */
  events(reply, ctx) {
    if (reply.finish === 'filter') return [this.filtered(reply, ctx)];
    const deltas = reply.deltas.length ? reply.deltas : [''];
    let words = 0;
    return deltas.map((d, i) => {
      words += d.trim() ? d.trim().split(/\s+/).length : 0;
      const last = i === deltas.length - 1 && !ctx.cut;
      return this.response(reply, ctx, d, last ? FINISH[reply.finish] : undefined, words);
    });
  },

  stream(reply, ctx) {
    const events = this.events(reply, ctx);
    if (ctx.sse) return { contentType: SSE, start: [], deltas: events.map((e) => sseEvent(e)), end: [] };
    return { contentType: JSON_TYPE, start: [], deltas: events.map((e, i) => (i === 0 ? '[' : ',\r\n') + pretty(e)), end: [']'] };
  },

  brokenStream(reply, ctx) {
    const first = this.events(reply, ctx)[0];
    if (ctx.sse) return { contentType: SSE, chunks: [brokenSseEvent(first)] };
    return { contentType: JSON_TYPE, chunks: [`[${halfJson(pretty(first))}`] };
  },
};
