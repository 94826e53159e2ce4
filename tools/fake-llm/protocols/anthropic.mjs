// protocols/anthropic.mjs — Anthropic Messages, as fake-llm speaks it. TEST INFRASTRUCTURE.
//
//   POST /v1/messages      x-api-key: KEY, anthropic-version: 2023-06-01 (required)
//   answer   {type: "message", ...}, or SSE with `event:` lines: message_start, content_block_start,
//            ping, content_block_delta..., content_block_stop, message_delta, message_stop
//   errors   {type: "error", error: {type, message}, request_id}
import { HttpError, brokenSseEvent, isCount, randomId, sseEvent } from '../wire.mjs';

const SSE = 'text/event-stream; charset=utf-8';
const JSON_TYPE = 'application/json';
const STOP = { stop: 'end_turn', length: 'max_tokens', stop_sequence: 'stop_sequence', filter: 'refusal' };

const ERRORS = {
  400: ['invalid_request_error', 'Invalid request (fake-llm injected fault).'],
  401: ['authentication_error', 'invalid x-api-key (fake-llm injected fault)'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource (fake-llm injected fault).'],
  404: ['not_found_error', 'The requested resource could not be found (fake-llm injected fault).'],
  413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
  429: ['rate_limit_error', 'This request would exceed the rate limit for your organization (fake-llm injected fault). Please try again later.'],
  500: ['api_error', 'Internal server error (fake-llm injected fault)'],
  529: ['overloaded_error', 'Overloaded (fake-llm injected fault)'],
};
const errorDefaults = (status) => ERRORS[status]
  || (status >= 500 ? ['api_error', `Server error ${status} (fake-llm injected fault)`]
    : ['invalid_request_error', `Request failed with status ${status} (fake-llm injected fault).`]);

/** The text of a content value: a string, or an array of blocks of which the text ones count. */
function blocksText(content, where) {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.filter((b) => b && b.type === 'text').map((b) => String(b.text ?? '')).join('\n');
  throw new HttpError(400, `${where}: Input should be a valid string or a list of content blocks`);
}

export default {
  name: 'anthropic',

  route(method, pathname) {
    return method === 'POST' && pathname === '/v1/messages' ? {} : null;
  },

  key: (req) => String(req.headers['x-api-key'] ?? '').trim(),
  headers: () => ({ 'request-id': `req_${randomId(24)}` }),
  badJson: () => new HttpError(400, 'There was an issue with the format of your request: the body is not valid JSON.'),
  modelOf: (body) => (body && typeof body.model === 'string' ? body.model : ''),
  streamOf: (body) => Boolean(body && body.stream === true),

  checkHeaders(req) {
    return req.headers['anthropic-version'] ? null : new HttpError(400, 'anthropic-version: header is required');
  },

  normalize(body) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'The request body must be a JSON object.');
    if (typeof body.model !== 'string' || !body.model) throw new HttpError(400, 'model: Field required');
    if (body.max_tokens == null) throw new HttpError(400, 'max_tokens: Field required');
    if (!isCount(body.max_tokens, 1)) throw new HttpError(400, 'max_tokens: Input should be an integer greater than or equal to 1');
    if (!Array.isArray(body.messages) || body.messages.length === 0) throw new HttpError(400, 'messages: Field required');
    const messages = body.messages.map((m, i) => {
      if (!m || (m.role !== 'user' && m.role !== 'assistant')) throw new HttpError(400, `messages.${i}.role: Input should be 'user' or 'assistant'`);
      return { role: m.role, text: blocksText(m.content, `messages.${i}.content`) };
    });
    const stop = Array.isArray(body.stop_sequences) ? body.stop_sequences.map(String) : [];
    return {
      model: body.model,
      stream: body.stream === true,
      system: blocksText(body.system, 'system'),
      messages,
      maxTokens: body.max_tokens,
      stop,
    };
  },

  error(err) {
    const [type, message] = errorDefaults(err.status);
    const body = { type: 'error', error: { type: err.extra.type ?? type, message: err.message || message }, request_id: `req_${randomId(24)}` };
    return { status: err.status, contentType: JSON_TYPE, text: JSON.stringify(body), headers: { 'request-id': body.request_id } };
  },

  faultError: (status) => new HttpError(status, errorDefaults(status)[1]),
  authMissing: () => new HttpError(401, 'x-api-key header is required'),
  authBad: (key) => new HttpError(401, `invalid x-api-key: ${key}`),
  contextTooLong: (inputTokens) => new HttpError(400, `prompt is too long: ${200000 + inputTokens} tokens > 200000 maximum`),

  context(req) {
    return { id: `msg_01${randomId(22)}`, ...req };
  },


  body(reply, ctx) {
    return {
      id: ctx.id,
      type: 'message',
      role: 'assistant',
      model: ctx.model,
      content: reply.finish === 'filter' ? [] : [{ type: 'text', text: reply.text }],
      stop_reason: STOP[reply.finish],
      stop_sequence: reply.stopSequence ?? null,
      usage: { input_tokens: reply.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: reply.outputTokens, service_tier: 'standard' },
    };
  },

  answer(reply, ctx) {
    return { contentType: JSON_TYPE, text: JSON.stringify(this.body(reply, ctx)) };
  },

  messageStart(reply, ctx) {
    return {
      type: 'message_start',
      message: {
        id: ctx.id, type: 'message', role: 'assistant', model: ctx.model, content: [], stop_reason: null, stop_sequence: null,
        // As the real API does, message_start carries the input count and a token or so of output;
        // message_delta carries the final (cumulative) output count.
        usage: { input_tokens: reply.inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: Math.min(1, reply.outputTokens), service_tier: 'standard' },
      },
    };
  },

  stream(reply, ctx) {
    const start = [sseEvent(this.messageStart(reply, ctx), 'message_start')];
    const end = [];
    const block = reply.finish !== 'filter';
    if (block) {
      start.push(sseEvent({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start'));
      start.push(sseEvent({ type: 'ping' }, 'ping'));
      end.push(sseEvent({ type: 'content_block_stop', index: 0 }, 'content_block_stop'));
    }
    end.push(sseEvent({ type: 'message_delta', delta: { stop_reason: STOP[reply.finish], stop_sequence: reply.stopSequence ?? null }, usage: { output_tokens: reply.outputTokens } }, 'message_delta'));
    end.push(sseEvent({ type: 'message_stop' }, 'message_stop'));
    return {
      contentType: SSE,
      start,
      deltas: reply.deltas.map((d) => sseEvent({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: d } }, 'content_block_delta')),
      end,
    };
  },

  brokenStream(reply, ctx) {
    return { contentType: SSE, chunks: [brokenSseEvent(this.messageStart(reply, ctx), 'message_start')] };
  },
};
