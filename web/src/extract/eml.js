// eml.js — an e-mail message (.eml, RFC 5322 + MIME) as text, with postal-mime.
//
//   const mail = await extractEml(bytes, { where: 'letter.eml' });
//   // {kind: 'eml', title: subject, text: the plain-text body (or the HTML body as text),
//   //  meta: {from, to, cc?, date?, attachments: [{name, type, size}], warnings}}
//
// Attachments are listed, never read: a writer adds an attached PDF as a file of its own.
import PostalMime from 'postal-mime';
import { ExtractError, excerpt, quoted } from './errors.js';
import { emailHtmlToText } from './html.js';
import { baseTitle, cleanText } from './text.js';

// A message has at least one of these; a text file that merely has "Word: value" lines does not.
const MAIL_HEADERS = new Set(['from', 'to', 'cc', 'subject', 'date', 'message-id', 'sender', 'received',
  'mime-version', 'return-path', 'delivered-to', 'reply-to', 'content-type']);

function mailbox(address) {
  if (!address) return null;
  if (Array.isArray(address.group)) {
    return `${address.name || 'group'}: ${address.group.map(mailbox).filter(Boolean).join(', ')}`;
  }
  const name = (address.name ?? '').trim();
  const addr = (address.address ?? '').trim();
  if (name && addr) return `${name} <${addr}>`;
  return name || addr || null;
}

const mailboxes = (list) => (Array.isArray(list) ? list.map(mailbox).filter(Boolean) : []);

// Whether the parser found an inline text/plain part. postal-mime fills `text` from the HTML
// part when there is none, so `text` alone cannot tell; its parts are in `textMap` (internal,
// hence the fallback: a text/plain Content-Type anywhere in the message's headers).
function hasPlainPart(parser, raw) {
  if (parser.textMap instanceof Map) {
    for (const entry of parser.textMap.values()) if (entry?.plain?.length) return true;
    return false;
  }
  const head = new TextDecoder('latin1').decode(raw.subarray(0, 1 << 20));
  return /^content-type:\s*text\/plain/im.test(head) || !/^content-type:/im.test(head);
}

function malformed(where, why, cause) {
  return new ExtractError('eml_malformed', `${quoted(where)} is not an e-mail message Loom can read: ${why}. Save ` +
    'the message again from your mail program ("Save as" or "Download message", as .eml) and add that file.',
  { where, cause });
}

/// The text of an e-mail given as bytes (Uint8Array). Rejects with ExtractError 'eml_malformed'
/// (no mail headers, or the MIME parser refused it), 'eml_no_text' (no plain-text or HTML body),
/// 'unavailable' (an HTML-only message and no HTML parser).
export async function extractEml(bytes, { where = '', name = where, parseHtml } = {}) {
  const parser = new PostalMime({ attachmentEncoding: 'arraybuffer' });
  let mail;
  try {
    mail = await parser.parse(bytes);
  } catch (e) {
    throw malformed(where, `its MIME structure is broken (${excerpt(e?.message ?? e, 80)})`, e);
  }
  const headers = Array.isArray(mail.headers) ? mail.headers : [];
  if (!headers.some((h) => MAIL_HEADERS.has(h.key))) {
    throw malformed(where, 'it does not start with mail headers (From, To, Subject, Date)');
  }
  const type = headers.find((h) => h.key === 'content-type')?.value ?? '';
  if (/^\s*multipart\//i.test(type) && !/boundary\s*=/i.test(type)) {
    throw malformed(where, 'it says it has several parts but not where they begin (no MIME boundary)');
  }

  const warnings = [];
  const attachments = (mail.attachments ?? []).map((a) => {
    const item = { name: a.filename || null, type: a.mimeType || 'application/octet-stream',
      size: a.content?.byteLength ?? (typeof a.content === 'string' ? a.content.length : 0) };
    if (a.disposition === 'inline' || a.related) item.inline = true;
    return item;
  });

  let text = '';
  let body = null;
  if (hasPlainPart(parser, bytes) && mail.text?.trim()) {
    text = cleanText(mail.text);
    body = 'text/plain';
  } else if (mail.html?.trim()) {
    text = emailHtmlToText(mail.html, { parseHtml, where });
    body = 'text/html';
  } else if (mail.text?.trim()) {
    text = cleanText(mail.text);
    body = 'text/plain';
  }
  if (!text.trim()) {
    const files = attachments.filter((a) => !a.inline).map((a) => a.name ?? a.type);
    const only = files.length
      ? `it only carries ${files.length === 1 ? 'an attachment' : 'attachments'} (${excerpt(files.join(', '), 120)}). ` +
        'Save the attachments from your mail program and add them as files'
      : 'its body is empty. Check that you saved the right message';
    throw new ExtractError('eml_no_text', `${quoted(where)} has no text to read: the message has neither a ` +
      `plain-text nor an HTML part; ${only}.`, { where });
  }

  const meta = { from: mailbox(mail.from), to: mailboxes(mail.to), body, attachments, warnings };
  const cc = mailboxes(mail.cc);
  if (cc.length) meta.cc = cc;
  if (mail.date) {
    const date = new Date(mail.date);
    if (Number.isNaN(date.getTime())) {
      meta.date = mail.date;
      warnings.push(`The Date header (${excerpt(mail.date, 60)}) is not a date.`);
    } else {
      meta.date = date.toISOString();
    }
  }
  if (mail.messageId) meta.messageId = mail.messageId;
  const subject = (mail.subject ?? '').trim();
  const title = subject || (name ? baseTitle(name) : `Message from ${meta.from ?? 'an unknown sender'}`);
  return { kind: 'eml', title, text, source: where, meta };
}
