// errors.js — ExtractError, and the short names of inputs that the messages quote.

/// Why a file or a web page could not be turned into text. `code` is one of:
///   'unsupported_type'  not a kind of file Loom reads (the message lists those it does)
///   'empty'             a file or page with nothing in it
///   'unreadable'        the browser could not read the file, or it is not text
///   'too_large'         over the size limit
///   'pdf_encrypted'     a PDF that needs a password to open
///   'pdf_no_text'       a PDF without a text layer (a scan: Loom does no OCR)
///   'pdf_broken'        a damaged, truncated or not-really PDF
///   'eml_no_text'       an e-mail with neither a plain-text nor an HTML body
///   'eml_malformed'     not an e-mail message (no headers) or one the MIME parser refused
///   'bad_url'           not an http(s) address
///   'cors'              the browser refused to let the page read the site (fetch's TypeError)
///   'connect_policy'    the page's Content-Security-Policy (connect-src) does not list the site
///   'http_status'       the site answered with a status other than 2xx (`status` holds it)
///   'no_content'        a web page without readable text
///   'aborted'           the caller's AbortSignal fired
///   'unavailable'       this environment lacks what the extraction needs (no HTML parser)
/// `where` is the file's name or the URL. `cause` is the original error, if any. A message says
/// what happened and what to do, and quotes at most a short excerpt of the input.
export class ExtractError extends Error {
  constructor(code, message, { where = '', cause, status } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.where = where;
    if (status !== undefined) this.status = status;
  }

  get name() {
    return 'ExtractError';
  }
}

/// `text` cut to at most `max` characters (an ellipsis marks a cut), control characters as spaces.
export function excerpt(text, max = 80) {
  const flat = String(text ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/// How a message names the input: 'notes.pdf' (quoted, shortened), or `fallback`.
export function quoted(where, fallback = 'the file') {
  return where ? `'${excerpt(where, 100)}'` : fallback;
}

/// Rejects with an 'aborted' ExtractError when `signal` has fired.
export function checkAborted(signal, where) {
  if (signal?.aborted) {
    throw new ExtractError('aborted', `Adding ${quoted(where, 'the reference')} was cancelled; nothing was added.`,
      { where, cause: signal.reason });
  }
}
