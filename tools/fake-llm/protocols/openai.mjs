// protocols/openai.mjs — OpenAI Chat Completions, as fake-llm speaks it. TEST INFRASTRUCTURE.
//
//   POST /v1/chat/completions      Authorization: Bearer KEY
//   answer   chat.completion, or SSE `data: {chat.completion.chunk}` lines ending in `data: [DONE]`
//   errors   {error: {message, type, param, code}}
import { HttpError, brokenSseEvent, isCount, randomId, sseEvent } from '../wire.mjs';

const SSE = 'text/event-stream; charset=utf-8';
const JSON_TYPE = 'application/json';
const FINISH = { stop: 'stop', length: 'length', stop_sequence: 'stop', filter: 'content_filter' };

// Per status: [type, code, message] used when a fault or a refusal does not say more.
const ERRORS = {
  400: ['invalid_request_error', null, 'Invalid request (fake-llm injected fault).'],
  401: ['invalid_request_error', 'invalid_api_key', 'Incorrect API key provided (fake-llm injected fault).'],
  403: ['request_forbidden', 'unsupported_country_region_territory', 'Country, region, or territory not supported (fake-llm injected fault).'],
  404: ['invalid_request_error', 'model_not_found', 'The model does not exist or you do not have access to it (fake-llm injected fault).'],
  413: ['invalid_request_error', 'request_too_large', 'Request body too large.'],
  429: ['requests', 'rate_limit_exceeded', 'Rate limit reached for requests per min (RPM) (fake-llm injected fault). Please try again later.'],
  500: ['server_error', null, 'The server had an error while processing your request. Sorry about that! (fake-llm injected fault)'],
  503: ['server_error', null, 'The engine is currently overloaded, please try again later. (fake-llm injected fault)'],
};
const errorDefaults = (status) => ERRORS[status]
  || (status >= 500 ? ['server_error', null, `Server error ${status} (fake-llm injected fault).`]
    : ['invalid_request_error', null, `Request failed with status ${status} (fake-llm injected fault).`]);

/** The text of a message's content: a string, or an array of {type: "text", text} parts. */
function contentText(content) {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === 'text').map((p) => String(p.text ?? '')).join('\n');
  throw new HttpError(400, "Invalid type for 'messages[].content': expected a string or an array of content parts.", { param: 'messages' });
}

const limit = (body, name) => {
  const v = body[name];
  if (v == null) return null;
  if (!isCount(v, 1)) throw new HttpError(400, `Invalid '${name}': expected an integer of at least 1, got ${JSON.stringify(v)}.`, { param: name, code: 'integer_below_min_value' });
  return v;
};

export default {
  name: 'openai',

  route(method, pathname) {
    return method === 'POST' && pathname === '/v1/chat/completions' ? {} : null;
  },

  key(req) {
    const h = req.headers.authorization;
    if (!h) return '';
    const m = h.match(/^\s*bearer\s+(.*)$/i);
    return (m ? m[1] : h).trim();
  },

  modelOf: (body) => (body && typeof body.model === 'string' ? body.model : ''),
  streamOf: (body) => Boolean(body && body.stream === true),

  checkHeaders: () => null,
  headers: () => ({ 'x-request-id': `req_${randomId(32)}` }),
  badJson: () => new HttpError(400, 'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.'),

  normalize(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'The request body must be a JSON object.');
    if (typeof body.model !== 'string' || !body.model) throw new HttpError(400, 'you must provide a model parameter', { param: 'model' });
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      throw new HttpError(400, "Missing required parameter: 'messages'.", { param: 'messages', code: 'missing_required_parameter' });
    }
    const system = [];
    const messages = [];
    for (const m of body.messages) {
      if (!m || typeof m.role !== 'string') throw new HttpError(400, "Missing required parameter: 'messages[].role'.", { param: 'messages' });
      const text = contentText(m.content);
      if (m.role === 'system' || m.role === 'developer') system.push(text);
      else messages.push({ role: m.role, text });
    }
    const stop = body.stop == null ? [] : Array.isArray(body.stop) ? body.stop.map(String) : [String(body.stop)];
    const maxTokens = limit(body, 'max_completion_tokens') ?? limit(body, 'max_tokens');
    return {
      model: body.model,
      stream: body.stream === true,
      system: system.join('\n'),
      messages,
      maxTokens,
      stop,
      includeUsage: Boolean(body.stream_options && body.stream_options.include_usage === true),
    };
  },

  error(err) {
    const [type, code, message] = errorDefaults(err.status);
    const e = err.extra;
    const body = { error: { message: err.message || message, type: e.type ?? type, param: e.param ?? null, code: e.code !== undefined ? e.code : code } };
    return { status: err.status, contentType: JSON_TYPE, text: JSON.stringify(body, null, 2) };
  },

  faultError: (status) => new HttpError(status, errorDefaults(status)[2]),

  authMissing: () => new HttpError(401, "You didn't provide an API key. Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).", { code: null }),

  authBad: (key) => new HttpError(401, `Incorrect API key provided: ${key}. You can find your API key at https://platform.openai.com/account/api-keys.`, { code: 'invalid_api_key' }),

  contextTooLong: (inputTokens) => new HttpError(400,
    `This model's maximum context length is 128000 tokens. However, your messages resulted in ${128000 + inputTokens} tokens. Please reduce the length of the messages.`,
    { param: 'messages', code: 'context_length_exceeded' }),

  context(req) {
    return { id: `chatcmpl-${randomId(29)}`, created: Math.floor(Date.now() / 1000), fingerprint: 'fp_fakellm0', ...req };
  },

  usage(reply) {
    return {
      prompt_tokens: reply.inputTokens,
      completion_tokens: reply.outputTokens,
      total_tokens: reply.inputTokens + reply.outputTokens,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
  },

  body(reply, ctx) {
    return {
      id: ctx.id,
      object: 'chat.completion',
      created: ctx.created,
      model: ctx.model,
      choices: [{
        index: 0,
        message: { role: 'assistant', content: reply.text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: FINISH[reply.finish],
      }],
      usage: this.usage(reply),
      service_tier: 'default',
      system_fingerprint: ctx.fingerprint,
    };
  },

  answer(reply, ctx) {
    return { contentType: JSON_TYPE, text: JSON.stringify(this.body(reply, ctx), null, 2) };
  },

  chunk(ctx, choices, extra = {}) {
    const c = { id: ctx.id, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, service_tier: 'default', system_fingerprint: ctx.fingerprint, choices };
    if (ctx.includeUsage) c.usage = null;
    return { ...c, ...extra };
  },

  stream(reply, ctx) {
    const choice = (delta, finish = null) => [{ index: 0, delta, logprobs: null, finish_reason: finish }];
    const end = [sseEvent(this.chunk(ctx, choice({}, FINISH[reply.finish])))];
    if (ctx.includeUsage) end.push(sseEvent(this.chunk(ctx, [], { usage: this.usage(reply) })));
    end.push(sseEvent('[DONE]'));
    return {
      contentType: SSE,
      start: [sseEvent(this.chunk(ctx, choice({ role: 'assistant', content: '', refusal: null })))],
      deltas: reply.deltas.map((d) => sseEvent(this.chunk(ctx, choice({ content: d })))),
      end,
    };
  },

  brokenStream(reply, ctx) {
    return { contentType: SSE, chunks: [brokenSseEvent(this.chunk(ctx, [{ index: 0, delta: { role: 'assistant', content: reply.deltas[0] ?? '' }, logprobs: null, finish_reason: null }]))] };
  },
};
