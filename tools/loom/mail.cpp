#include "mail.hpp"

#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <mutex>

namespace loom::cli {
namespace {

std::string str(const char* s) { return s ? valid_utf8(s) : std::string(); }

// Adds the mailboxes of `list` (groups expanded) to `out`; the first name to `*first_name`.
void add_addresses(InternetAddressList* list, Json& out, std::string* first_name = nullptr) {
  if (!list) return;
  for (int i = 0; i < internet_address_list_length(list); ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      add_addresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out,
                    first_name);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      out.push_back(
          ascii_lower(str(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)))));
      if (first_name && first_name->empty()) *first_name = str(internet_address_get_name(ia));
    }
  }
}

// A leaf part's content: transfer encoding undone, converted from its charset to UTF-8, CRLF to LF.
std::string part_text(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return {};
  GMimeStream* mem = g_mime_stream_mem_new();
  GMimeStream* filtered = g_mime_stream_filter_new(mem);
  const char* charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  if (charset && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
      g_ascii_strcasecmp(charset, "us-ascii") != 0) {
    if (GMimeFilter* f = g_mime_filter_charset_new(charset, "UTF-8")) {
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), f);
      g_object_unref(f);
    }
  }
  GMimeFilter* dos2unix = g_mime_filter_dos2unix_new(FALSE);
  g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), dos2unix);
  g_object_unref(dos2unix);
  g_mime_data_wrapper_write_to_stream(content, filtered);
  g_mime_stream_flush(filtered);
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
  std::string text(reinterpret_cast<const char*>(bytes->data), bytes->len);
  g_object_unref(filtered);
  g_object_unref(mem);
  return valid_utf8(text);
}

struct Parts {
  std::string text, html;
  bool has_text = false, has_html = false;
  Json attachments = Json::array();
};

void visit_part(GMimeObject* /*parent*/, GMimeObject* part, gpointer data) {
  auto* parts = static_cast<Parts*>(data);
  if (!GMIME_IS_PART(part)) return;  // multiparts are walked into; message/rfc822 parts are not
  GMimePart* leaf = GMIME_PART(part);
  GMimeContentType* type = g_mime_object_get_content_type(part);
  if (g_mime_part_is_attachment(leaf)) {
    std::string text = part_text(leaf);
    parts->attachments.push_back(
        {{"filename", str(g_mime_part_get_filename(leaf))},
         {"content_type", ascii_lower(str(g_mime_content_type_get_mime_type(type)))},
         {"size", text.size()}});
    return;
  }
  if (g_mime_content_type_is_type(type, "text", "plain") && !parts->has_text) {
    parts->text = part_text(leaf);
    parts->has_text = true;
  } else if (g_mime_content_type_is_type(type, "text", "html") && !parts->has_html) {
    parts->html = part_text(leaf);
    parts->has_html = true;
  }
}

// The shape every e-mail takes, before its fields are filled in.
Json empty_email() {
  return {{"from", ""},
          {"from_name", ""},
          {"to", Json::array()},
          {"cc", Json::array()},
          {"subject", ""},
          {"date", ""},
          {"message_id", ""},
          {"text", ""},
          {"html", ""},
          {"headers", Json::object()},
          {"attachments", Json::array()}};
}

}  // namespace

std::string ascii_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  return s;
}

void mail_init() { g_mime_init(); }

Result<Json> parse_rfc822(std::string_view raw) {
  // GMime keeps some global state (charset tables, the parser's caches): one message at a time.
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  g_object_unref(stream);
  GMimeMessage* message = g_mime_parser_construct_message(parser, nullptr);
  g_object_unref(parser);
  if (!message) {
    return make_error(
        ErrorCode::kBadArgument, "the body is not an RFC 822 message",
        "send the raw message (headers, a blank line, the body), or JSON with Content-Type "
        "application/json");
  }
  Json email = empty_email();
  std::string from_name;
  Json from = Json::array();
  add_addresses(g_mime_message_get_from(message), from, &from_name);
  if (!from.empty()) email["from"] = from[0];
  email["from_name"] = from_name;
  add_addresses(g_mime_message_get_to(message), email["to"]);
  add_addresses(g_mime_message_get_cc(message), email["cc"]);
  email["subject"] = str(g_mime_message_get_subject(message));
  email["message_id"] = str(g_mime_message_get_message_id(message));
  if (GDateTime* date = g_mime_message_get_date(message)) {
    gchar* iso = g_date_time_format_iso8601(date);
    email["date"] = str(iso);
    g_free(iso);
  }
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(message));
  for (int i = 0; headers && i < g_mime_header_list_get_count(headers); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
    std::string name = ascii_lower(str(g_mime_header_get_name(h)));
    if (!email["headers"].contains(name)) email["headers"][name] = str(g_mime_header_get_value(h));
  }
  Parts parts;
  g_mime_message_foreach(message, visit_part,
                         &parts);  // the top part too, then a multipart's parts
  g_object_unref(message);
  email["html"] = parts.html;
  email["text"] = parts.has_text ? parts.text : html_to_text(parts.html);
  email["attachments"] = parts.attachments;
  if (email["from"] == "" && email["to"].empty() && email["subject"] == "" &&
      email["headers"].empty()) {
    return make_error(ErrorCode::kBadArgument,
                      "the body is not an RFC 822 message: it has no headers",
                      "send the raw message (headers, a blank line, the body)");
  }
  return email;
}

Result<Json> email_from_json(const Json& given) {
  if (!given.is_object())
    return make_error(ErrorCode::kBadArgument, "the e-mail must be a JSON object");
  Json email = empty_email();
  for (auto it = given.begin(); it != given.end(); ++it) {
    const std::string& key = it.key();
    if (!email.contains(key)) {
      return make_error(
          ErrorCode::kBadArgument, "unknown e-mail field '" + key + "'",
          "the fields are from, from_name, to, cc, subject, date, message_id, text, html, headers");
    }
    const Json& v = it.value();
    if (key == "to" || key == "cc") {
      Json list = v.is_array() ? v : Json::array({v});
      for (const auto& a : list) {
        if (!a.is_string())
          return make_error(ErrorCode::kBadArgument, "'" + key + "' must hold strings");
      }
      email[key] = Json::array();
      for (const auto& a : list) email[key].push_back(ascii_lower(a.get<std::string>()));
    } else if (key == "headers" || key == "attachments") {
      if (v.type() != email[key].type()) {
        return make_error(ErrorCode::kBadArgument,
                          "'" + key + "' must be a JSON " + email[key].type_name());
      }
      email[key] = v;
    } else {
      if (!v.is_string())
        return make_error(ErrorCode::kBadArgument, "'" + key + "' must be a string");
      email[key] = key == "from" ? ascii_lower(v.get<std::string>()) : v.get<std::string>();
    }
  }
  if (email["text"] == "" && email["html"] != "")
    email["text"] = html_to_text(email["html"].get<std::string>());
  return email;
}

std::string html_to_text(std::string_view html) {
  static const std::pair<const char*, const char*> kEntities[] = {
      {"&amp;", "&"}, {"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
      {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
  std::string out;
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      std::size_t end = html.find('>', i);
      if (end == std::string_view::npos) break;
      std::string tag = ascii_lower(std::string(html.substr(i + 1, end - i - 1)));
      std::string name = tag.substr(0, tag.find_first_of(" \t\r\n/", tag[0] == '/' ? 1 : 0));
      if (name == "script" || name == "style") {  // their content is not text
        std::size_t close = ascii_lower(std::string(html.substr(end))).find("</" + name);
        i = close == std::string::npos ? html.size() : html.find('>', end + close);
        i = i == std::string_view::npos ? html.size() : i + 1;
        continue;
      }
      if (name == "br" || name == "/p" || name == "/div" || name == "/li" || name == "/tr" ||
          name == "/h1" || name == "/h2" || name == "/h3" || name == "p") {
        if (!out.empty() && out.back() != '\n') out += '\n';
        if (name == "/p") out += '\n';
      }
      i = end + 1;
      continue;
    }
    if (c == '&') {
      bool matched = false;
      for (const auto& [entity, text] : kEntities) {
        if (html.substr(i, std::char_traits<char>::length(entity)) == entity) {
          out += text;
          i += std::char_traits<char>::length(entity);
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    if (c == '\r') {
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  // Trim trailing blank space line by line.
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return valid_utf8(out);
}

}  // namespace loom::cli
