// Reading YAML documents the engine accepts (workflows, models files) into values and Errors.
// yaml-cpp throws; these helpers never do, and every problem they find becomes an Error with
// the file, line and column of the offending node and a hint.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loom/error.hpp"
#include "loom/json.hpp"
#include "loom/workflow.hpp"

namespace loom::detail {

/// Where a node is (1-based), {0, 0} when yaml-cpp does not know.
SourcePos pos_of(const YAML::Node& n);
/// Plain YAML scalars get JSON types (true, 3, 2.5, null); quoted ones stay strings.
Json scalar_to_json(const YAML::Node& n);
/// A whole YAML value as JSON, scalars typed as scalar_to_json does.
Json to_json(const YAML::Node& n);

/// Collects errors about one file while a loader walks its YAML.
class YamlReader {
 public:
  explicit YamlReader(std::string_view file) : file_(file) {}

  /// Records an error at `pos`.
  void add(ErrorCode code, SourcePos pos, std::string message, std::string hint = {});
  /// Records kUnknownKey for `key`, hinting the nearest of `allowed` (or listing them).
  void unknown_key(const YAML::Node& key, const std::string& where, const std::vector<std::string>& allowed);
  /// Checks that a mapping holds only allowed keys, each once. False if it is not a mapping.
  bool check_map(const YAML::Node& n, const std::string& where, const std::vector<std::string>& allowed);
  /// Checks that a mapping holds each key once; with `allowed`, only those keys.
  bool check_keys(const YAML::Node& n, const std::string& where, const std::vector<std::string>* allowed);
  bool get_string(const YAML::Node& n, const std::string& what, std::string* out);
  bool get_int(const YAML::Node& n, const std::string& what, int lo, int* out);
  /// A number (integer or not) in [lo, hi].
  bool get_number(const YAML::Node& n, const std::string& what, double lo, double hi, double* out);
  bool get_bool(const YAML::Node& n, const std::string& what, bool* out);
  bool get_duration(const YAML::Node& n, const std::string& what, std::int64_t* out);
  /// Parses `text` as YAML into `root`; on a syntax error records kYamlSyntax and returns false.
  bool parse(std::string_view text, YAML::Node* root);

 protected:
  std::string file_;
  std::vector<Error> errors_;
};

}  // namespace loom::detail
