// libFuzzer target: any bytes as a template, evaluated against a small scope.
#include <cstdint>
#include <string>

#include "loom/template.hpp"

namespace {
class Scope : public loom::TemplateScope {
 public:
  loom::Json inputs = {{"n", 3}, {"s", "text"}, {"l", {1, "a", nullptr}}, {"o", {{"k", {1, 2}}}}};
  loom::Json view = {{"status", "succeeded"}, {"output", {{"x", "y"}}}};
  const loom::Json* root(std::string_view name) const override { return name == "inputs" ? &inputs : nullptr; }
  const loom::Json* step(std::string_view id) const override { return id == "a" ? &view : nullptr; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto t = loom::Template::parse(text);
  if (!t) {
    if (t.error().code != loom::ErrorCode::kTemplateSyntax) __builtin_trap();
    return 0;
  }
  static const Scope scope;
  auto v = (*t)->evaluate(scope);
  if (!v && v.error().code != loom::ErrorCode::kTemplateEval) __builtin_trap();
  return 0;
}
