// Inbound e-mail for `loom serve`: a raw RFC 822 message (parsed with GMime 3) or a JSON object,
// both turned into the one JSON shape that triggers match on and templates read as `email`:
//
//   {from, from_name, to: [...], cc: [...], subject, date, message_id, text, html,
//    headers: {lower-case name: value}, attachments: [{filename, content_type, size}]}
//
// `text` is the first text/plain part, decoded (transfer encoding and charset) to UTF-8 with
// LF line ends; when there is none, the text of the first text/html part.
#pragma once

#include <string>
#include <string_view>

#include "loom/loom.hpp"

namespace loom::cli {

/// `s` with A-Z lowered (addresses, header names and media types compare this way).
std::string ascii_lower(std::string s);

/// Initializes GMime; call once, before any thread parses mail.
void mail_init();

/// Parses a raw RFC 822 message. kBadArgument when it is not one (no headers).
Result<Json> parse_rfc822(std::string_view raw);

/// Checks and completes a JSON e-mail ({from, to, subject, text, html?, cc?, date?, ...}; `to`
/// and `cc` a string or a list of strings). kBadArgument naming the field that is wrong.
Result<Json> email_from_json(const Json& given);

/// The text of an HTML document: tags dropped, scripts and styles removed, block ends as line
/// breaks, the common entities decoded.
std::string html_to_text(std::string_view html);

}  // namespace loom::cli
