#include "workflow/yaml_reader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

namespace loom::detail {

SourcePos pos_of(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

// Plain YAML scalars get JSON types (true, 3, 2.5, null); quoted ones stay strings.
Json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return Json(s);  // quoted
  if (s == "true" || s == "True" || s == "TRUE") return Json(true);
  if (s == "false" || s == "False" || s == "FALSE") return Json(false);
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Json(nullptr);
  if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+' || s[0] == '.')) {
    char* end = nullptr;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0') return Json(static_cast<std::int64_t>(i));
    double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0' && std::isfinite(d)) return Json(d);
  }
  return Json(s);
}

Json to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& x : n) out.push_back(to_json(x));
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : n) out[kv.first.as<std::string>()] = to_json(kv.second);
      return out;
    }
    default: return Json(nullptr);
  }
}

void YamlReader::add(ErrorCode code, SourcePos pos, std::string message, std::string hint) {
  Error e = make_error(code, std::move(message), std::move(hint));
  e.file = file_;
  e.line = pos.line;
  e.column = pos.column;
  errors_.push_back(std::move(e));
}

void YamlReader::unknown_key(const YAML::Node& key, const std::string& where,
                             const std::vector<std::string>& allowed) {
  std::string k = key.Scalar();
  std::string near = nearest(k, allowed);
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  add(ErrorCode::kUnknownKey, pos_of(key), "unknown key '" + k + "' in " + where,
      near.empty() ? "allowed keys: " + list : "did you mean '" + near + "'?");
}

bool YamlReader::check_map(const YAML::Node& n, const std::string& where,
               const std::vector<std::string>& allowed) {
  return check_keys(n, where, &allowed);
}

bool YamlReader::check_keys(const YAML::Node& n, const std::string& where,
                const std::vector<std::string>* allowed) {
  if (!n.IsMap()) {
    add(ErrorCode::kInvalidValue, pos_of(n), where + " must be a mapping of keys to values",
        "write it as key: value lines, indented under its parent");
    return false;
  }
  std::set<std::string> seen;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (!seen.insert(k).second) {
      add(ErrorCode::kInvalidValue, pos_of(kv.first), "duplicate key '" + k + "' in " + where,
          "remove one of them");
    } else if (allowed && std::find(allowed->begin(), allowed->end(), k) == allowed->end()) {
      unknown_key(kv.first, where, *allowed);
    }
  }
  return true;
}

bool YamlReader::get_string(const YAML::Node& n, const std::string& what, std::string* out) {
  if (!n.IsScalar()) {
    add(ErrorCode::kInvalidValue, pos_of(n), what + " must be a string",
        "write plain text, quoted if it holds a colon");
    return false;
  }
  *out = n.Scalar();
  return true;
}

bool YamlReader::get_int(const YAML::Node& n, const std::string& what, int lo, int* out) {
  Json v = n.IsScalar() ? scalar_to_json(n) : Json();
  if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > 1000000000) {
    add(ErrorCode::kInvalidValue, pos_of(n), what + " must be a whole number >= " + std::to_string(lo),
        "for example " + std::to_string(std::max(lo, 3)));
    return false;
  }
  *out = static_cast<int>(v.get<std::int64_t>());
  return true;
}

bool YamlReader::get_bool(const YAML::Node& n, const std::string& what, bool* out) {
  Json v = n.IsScalar() ? scalar_to_json(n) : Json();
  if (!v.is_boolean()) {
    add(ErrorCode::kInvalidValue, pos_of(n), what + " must be true or false",
        "write true or false, without quotes");
    return false;
  }
  *out = v.get<bool>();
  return true;
}

bool YamlReader::get_duration(const YAML::Node& n, const std::string& what, std::int64_t* out) {
  if (!n.IsScalar()) {
    add(ErrorCode::kInvalidValue, pos_of(n), what + " must be a duration like 2s or 500ms",
        "write a number with a unit: 250ms, 2s, 1.5m, 1h");
    return false;
  }
  auto d = parse_duration(n.Scalar());
  if (!d) {
    add(ErrorCode::kInvalidValue, pos_of(n), what + ": " + d.error().message, d.error().hint);
    return false;
  }
  *out = *d;
  return true;
}

bool YamlReader::get_number(const YAML::Node& n, const std::string& what, double lo, double hi, double* out) {
  Json v = n.IsScalar() ? scalar_to_json(n) : Json();
  if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
    add(ErrorCode::kInvalidValue, pos_of(n),
        what + " must be a number from " + Json(lo).dump() + " to " + Json(hi).dump(), "write it without quotes");
    return false;
  }
  *out = v.get<double>();
  return true;
}

bool YamlReader::parse(std::string_view text, YAML::Node* root) {
  try {
    *root = YAML::Load(std::string(text));
    return true;
  } catch (const YAML::Exception& e) {
    Error err = make_error(ErrorCode::kYamlSyntax, "invalid YAML: " + e.msg,
                           "check indentation, colons and quotes around this point");
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.file = file_;
    errors_.push_back(err);
    return false;
  }
}

}  // namespace loom::detail
