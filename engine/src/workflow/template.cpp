// Templates: a small expression language inside "{{ }}". Lexer, recursive-descent parser and
// evaluator. Parsing happens once at load time; evaluation walks the tree against a scope.
#include "loom/template.hpp"

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "loom/workflow.hpp"

namespace loom {
namespace detail {

enum class NodeKind { kLiteral, kPath, kNot, kNeg, kBinary, kFilter, kIf };
enum class BinOp { kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe, kAdd, kSub, kMul, kDiv, kMod };

struct TemplateNode {
  NodeKind kind = NodeKind::kLiteral;
  int offset = 0;
  Json literal;                 // kLiteral
  std::string name;             // kPath: root; kFilter: filter name
  struct Segment {
    std::string key;                      // .key (or a literal ['key'])
    std::unique_ptr<TemplateNode> index;  // [expr] when not a literal
  };
  std::vector<Segment> segments;                      // kPath
  BinOp op = BinOp::kAnd;                             // kBinary
  std::vector<std::unique_ptr<TemplateNode>> kids;    // operands; kFilter: [input, args...]; kIf: [then, cond, else?]
};

}  // namespace detail

using detail::BinOp;
using detail::NodeKind;
using detail::TemplateNode;
using NodePtr = std::unique_ptr<TemplateNode>;

struct Template::Part {
  std::string text;  // literal text when expr is null
  NodePtr expr;
};

Template::~Template() = default;

namespace {

const char* const kFilters[] = {"join", "default", "length", "upper", "lower", "truncate", "json", "map"};

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

enum class Tok { kEnd, kIdent, kNumber, kString, kOp };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // identifier, operator, or decoded string
  Json number;
  int offset = 0;
};

// Parses one expression between "{{" and "}}". `base` is the expression's offset in the
// template string, so errors point into the original text.
class Parser {
 public:
  Parser(std::string_view src, int base, std::vector<TemplateReference>* refs)
      : src_(src), base_(base), refs_(refs) {}

  Result<NodePtr> parse() {
    if (!advance()) return error_;
    if (tok_.kind == Tok::kEnd) return fail(0, "empty expression", "write a value, e.g. {{ inputs.name }}");
    NodePtr n = parse_expression();
    if (!n) return error_;
    if (tok_.kind != Tok::kEnd) {
      return fail(tok_.offset, "unexpected '" + tok_.text + "'",
                  "an expression ends here; check for a missing operator or bracket");
    }
    return n;
  }

 private:
  Error fail(int offset, std::string message, std::string hint = {}) {
    if (error_.code == ErrorCode::kOk) {
      error_ = make_error(ErrorCode::kTemplateSyntax, std::move(message), std::move(hint));
      error_.column = base_ + offset + 1;
    }
    return error_;
  }
  bool failed() const { return error_.code != ErrorCode::kOk; }

  bool advance() {
    std::size_t i = pos_;
    while (i < src_.size() && (src_[i] == ' ' || src_[i] == '\t' || src_[i] == '\n' || src_[i] == '\r')) ++i;
    tok_ = Token{};
    tok_.offset = static_cast<int>(i);
    if (i >= src_.size()) {
      pos_ = i;
      tok_.kind = Tok::kEnd;
      return true;
    }
    char c = src_[i];
    if (is_ident_start(c)) {
      std::size_t j = i;
      while (j < src_.size() && is_ident_char(src_[j])) ++j;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(src_.substr(i, j - i));
      pos_ = j;
      return true;
    }
    if (is_digit(c)) {
      std::size_t j = i;
      bool real = false;
      while (j < src_.size() && is_digit(src_[j])) ++j;
      if (j + 1 < src_.size() && src_[j] == '.' && is_digit(src_[j + 1])) {
        real = true;
        ++j;
        while (j < src_.size() && is_digit(src_[j])) ++j;
      }
      std::string digits(src_.substr(i, j - i));
      tok_.kind = Tok::kNumber;
      tok_.text = digits;
      if (real) {
        tok_.number = std::strtod(digits.c_str(), nullptr);
      } else {
        tok_.number = static_cast<std::int64_t>(std::strtoll(digits.c_str(), nullptr, 10));
      }
      pos_ = j;
      return true;
    }
    if (c == '\'' || c == '"') {
      std::string out;
      std::size_t j = i + 1;
      while (j < src_.size() && src_[j] != c) {
        if (src_[j] == '\\' && j + 1 < src_.size()) {
          char e = src_[j + 1];
          switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            default: out += e; break;  // \\ \' \" and anything else: the character itself
          }
          j += 2;
        } else {
          out += src_[j++];
        }
      }
      if (j >= src_.size()) {
        fail(static_cast<int>(i), "unterminated string", std::string("close it with ") + c);
        return false;
      }
      tok_.kind = Tok::kString;
      tok_.text = std::move(out);
      pos_ = j + 1;
      return true;
    }
    static const char* const kTwo[] = {"==", "!=", "<=", ">="};
    for (const char* op : kTwo) {
      if (src_.substr(i, 2) == op) {
        tok_.kind = Tok::kOp;
        tok_.text = op;
        pos_ = i + 2;
        return true;
      }
    }
    if (std::string_view("<>+-*/%|.,()[]").find(c) != std::string_view::npos) {
      tok_.kind = Tok::kOp;
      tok_.text = std::string(1, c);
      pos_ = i + 1;
      return true;
    }
    if (c == '=') {
      fail(static_cast<int>(i), "'=' is not an operator", "compare with '=='");
      return false;
    }
    if (c == '&' || c == '!') {
      fail(static_cast<int>(i), std::string("'") + c + "' is not an operator",
           c == '&' ? "use 'and'" : "use 'not' or '!='");
      return false;
    }
    fail(static_cast<int>(i), std::string("unexpected character '") + c + "'");
    return false;
  }

  bool is_op(const char* op) const { return tok_.kind == Tok::kOp && tok_.text == op; }
  bool is_word(const char* w) const { return tok_.kind == Tok::kIdent && tok_.text == w; }

  bool expect(const char* op, const char* what) {
    if (!is_op(op)) {
      fail(tok_.offset, std::string("expected '") + op + "' " + what);
      return false;
    }
    return advance();
  }

  NodePtr make(NodeKind kind, int offset) {
    auto n = std::make_unique<TemplateNode>();
    n->kind = kind;
    n->offset = offset;
    return n;
  }

  NodePtr binary(BinOp op, int offset, NodePtr l, NodePtr r) {
    NodePtr n = make(NodeKind::kBinary, offset);
    n->op = op;
    n->kids.push_back(std::move(l));
    n->kids.push_back(std::move(r));
    return n;
  }

  // A conditional, `A if C else B` (B optional: null), or an or-expression. Right-associative:
  // `a if x else b if y else c` reads as `a if x else (b if y else c)`.
  NodePtr parse_expression() {
    NodePtr value = parse_or();
    if (!value || !is_word("if")) return value;
    int off = tok_.offset;
    if (!advance()) return nullptr;
    NodePtr cond = parse_or();
    if (!cond) return nullptr;
    NodePtr n = make(NodeKind::kIf, off);
    n->kids.push_back(std::move(value));
    n->kids.push_back(std::move(cond));
    if (is_word("else")) {
      if (!advance()) return nullptr;
      NodePtr other = parse_expression();
      if (!other) return nullptr;
      n->kids.push_back(std::move(other));
    }
    return n;
  }

  NodePtr parse_or() {
    NodePtr l = parse_and();
    while (l && is_word("or")) {
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr r = parse_and();
      if (!r) return nullptr;
      l = binary(BinOp::kOr, off, std::move(l), std::move(r));
    }
    return l;
  }

  NodePtr parse_and() {
    NodePtr l = parse_not();
    while (l && is_word("and")) {
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr r = parse_not();
      if (!r) return nullptr;
      l = binary(BinOp::kAnd, off, std::move(l), std::move(r));
    }
    return l;
  }

  NodePtr parse_not() {
    if (is_word("not")) {
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr operand = parse_not();
      if (!operand) return nullptr;
      NodePtr n = make(NodeKind::kNot, off);
      n->kids.push_back(std::move(operand));
      return n;
    }
    return parse_cmp();
  }

  NodePtr parse_cmp() {
    NodePtr l = parse_additive();
    if (!l) return nullptr;
    static const std::pair<const char*, BinOp> kOps[] = {
        {"==", BinOp::kEq}, {"!=", BinOp::kNe}, {"<=", BinOp::kLe},
        {">=", BinOp::kGe}, {"<", BinOp::kLt},  {">", BinOp::kGt}};
    for (const auto& [text, op] : kOps) {
      if (is_op(text)) {
        int off = tok_.offset;
        if (!advance()) return nullptr;
        NodePtr r = parse_additive();
        if (!r) return nullptr;
        return binary(op, off, std::move(l), std::move(r));
      }
    }
    return l;
  }

  NodePtr parse_additive() {
    NodePtr l = parse_multiplicative();
    while (l && (is_op("+") || is_op("-"))) {
      BinOp op = is_op("+") ? BinOp::kAdd : BinOp::kSub;
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr r = parse_multiplicative();
      if (!r) return nullptr;
      l = binary(op, off, std::move(l), std::move(r));
    }
    return l;
  }

  NodePtr parse_multiplicative() {
    NodePtr l = parse_unary();
    while (l && (is_op("*") || is_op("/") || is_op("%"))) {
      BinOp op = is_op("*") ? BinOp::kMul : is_op("/") ? BinOp::kDiv : BinOp::kMod;
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr r = parse_unary();
      if (!r) return nullptr;
      l = binary(op, off, std::move(l), std::move(r));
    }
    return l;
  }

  NodePtr parse_unary() {
    if (is_op("-")) {
      int off = tok_.offset;
      if (!advance()) return nullptr;
      NodePtr operand = parse_unary();
      if (!operand) return nullptr;
      NodePtr n = make(NodeKind::kNeg, off);
      n->kids.push_back(std::move(operand));
      return n;
    }
    return parse_filtered();
  }

  // Filters bind tighter than operators: "a | length > 3" is "(a | length) > 3".
  NodePtr parse_filtered() {
    NodePtr value = parse_postfix();
    while (value && is_op("|")) {
      if (!advance()) return nullptr;
      if (tok_.kind != Tok::kIdent) {
        fail(tok_.offset, "expected a filter name after '|'",
             "filters: join, default, length, upper, lower, truncate, json");
        return nullptr;
      }
      bool known = false;
      for (const char* f : kFilters) known = known || tok_.text == f;
      if (!known) {
        std::vector<std::string> names(std::begin(kFilters), std::end(kFilters));
        std::string near = nearest(tok_.text, names);
        fail(tok_.offset, "unknown filter '" + tok_.text + "'",
             near.empty() ? "filters: join, default, length, upper, lower, truncate, json"
                          : "did you mean '" + near + "'?");
        return nullptr;
      }
      NodePtr n = make(NodeKind::kFilter, tok_.offset);
      n->name = tok_.text;
      n->kids.push_back(std::move(value));
      if (!advance()) return nullptr;
      if (is_op("(")) {
        if (!advance()) return nullptr;
        while (!is_op(")")) {
          NodePtr arg = parse_expression();
          if (!arg) return nullptr;
          n->kids.push_back(std::move(arg));
          if (is_op(",")) {
            if (!advance()) return nullptr;
          } else if (!is_op(")")) {
            fail(tok_.offset, "expected ',' or ')' in the arguments of '" + n->name + "'");
            return nullptr;
          }
        }
        if (!advance()) return nullptr;
      }
      value = std::move(n);
    }
    return value;
  }

  NodePtr parse_postfix() {
    NodePtr n = parse_primary();
    if (!n) return nullptr;
    while (is_op(".") || is_op("[")) {
      if (n->kind != NodeKind::kPath) {
        fail(tok_.offset, "only names can be followed by '.' or '['",
             "wrap a literal in a step output or input instead");
        return nullptr;
      }
      TemplateNode::Segment seg;
      if (is_op(".")) {
        if (!advance()) return nullptr;
        if (tok_.kind == Tok::kIdent) {
          seg.key = tok_.text;
        } else if (tok_.kind == Tok::kNumber && tok_.number.is_number_integer()) {
          seg.key = tok_.text;  // items.0 reads like items[0]
        } else {
          fail(tok_.offset, "expected a name after '.'");
          return nullptr;
        }
        if (!advance()) return nullptr;
      } else {
        if (!advance()) return nullptr;
        NodePtr index = parse_expression();
        if (!index) return nullptr;
        if (index->kind == NodeKind::kLiteral && index->literal.is_string()) {
          seg.key = index->literal.get<std::string>();
        } else {
          seg.index = std::move(index);
        }
        if (!expect("]", "to close '['")) return nullptr;
      }
      if (n->segments.empty() && refs_ && !refs_->empty() && refs_->back().offset == n->offset + base_) {
        refs_->back().name = seg.index ? "" : seg.key;
      }
      n->segments.push_back(std::move(seg));
    }
    return n;
  }

  NodePtr parse_primary() {
    int off = tok_.offset;
    switch (tok_.kind) {
      case Tok::kNumber: {
        NodePtr n = make(NodeKind::kLiteral, off);
        n->literal = tok_.number;
        if (!advance()) return nullptr;
        return n;
      }
      case Tok::kString: {
        NodePtr n = make(NodeKind::kLiteral, off);
        n->literal = tok_.text;
        if (!advance()) return nullptr;
        return n;
      }
      case Tok::kIdent: {
        NodePtr n = make(NodeKind::kLiteral, off);
        const std::string& w = tok_.text;
        if (w == "true" || w == "True") {
          n->literal = true;
        } else if (w == "false" || w == "False") {
          n->literal = false;
        } else if (w == "null" || w == "none" || w == "None") {
          n->literal = nullptr;
        } else if (w == "and" || w == "or" || w == "not" || w == "if" || w == "else") {
          fail(off, "'" + w + "' needs a value before it");
          return nullptr;
        } else {
          n->kind = NodeKind::kPath;
          n->name = w;
          if (refs_) refs_->push_back(TemplateReference{w, "", off + base_});
        }
        if (!advance()) return nullptr;
        return n;
      }
      case Tok::kOp:
        if (is_op("(")) {
          if (!advance()) return nullptr;
          NodePtr inner = parse_expression();
          if (!inner) return nullptr;
          if (!expect(")", "to close '('")) return nullptr;
          return inner;
        }
        if (is_op("[")) {
          fail(off, "list literals are not supported", "build lists in inputs or step outputs");
          return nullptr;
        }
        fail(off, "unexpected '" + tok_.text + "'", "a value is missing here");
        return nullptr;
      case Tok::kEnd:
        fail(off, "the expression ends too early", "a value is missing at the end");
        return nullptr;
    }
    return nullptr;
  }

  std::string_view src_;
  int base_;
  std::vector<TemplateReference>* refs_;
  std::size_t pos_ = 0;
  Token tok_;
  Error error_;
};

// ---- evaluation ----

Error eval_error(std::string message, std::string hint = {}) {
  return make_error(ErrorCode::kTemplateEval, std::move(message), std::move(hint));
}

std::string type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "a list";
    case Json::value_t::object: return "an object";
    default: return "a number";
  }
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// Byte length of the first `chars` code points of s.
std::size_t utf8_prefix(const std::string& s, std::size_t chars) {
  std::size_t i = 0, seen = 0;
  while (i < s.size()) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == chars) break;
      ++seen;
    }
    ++i;
  }
  return i;
}

class Evaluator {
 public:
  explicit Evaluator(const TemplateScope& scope) : scope_(scope) {}

  Result<Json> eval(const TemplateNode& n) {
    switch (n.kind) {
      case NodeKind::kLiteral: return n.literal;
      case NodeKind::kPath: return eval_path(n);
      case NodeKind::kNot: {
        auto v = eval(*n.kids[0]);
        if (!v) return v;
        return Json(!is_truthy(*v));
      }
      case NodeKind::kNeg: {
        auto v = eval(*n.kids[0]);
        if (!v) return v;
        if (v->is_number_integer() && v->get<std::int64_t>() != INT64_MIN) return Json(-v->get<std::int64_t>());
        if (v->is_number()) return Json(-v->get<double>());
        return eval_error("cannot negate " + type_name(*v));
      }
      case NodeKind::kBinary: return eval_binary(n);
      case NodeKind::kFilter: return eval_filter(n);
      case NodeKind::kIf: {
        auto c = eval(*n.kids[1]);
        if (!c) return c;
        if (is_truthy(*c)) return eval(*n.kids[0]);
        return n.kids.size() > 2 ? eval(*n.kids[2]) : Result<Json>(Json());
      }
    }
    return Json();
  }

 private:
  Result<Json> eval_path(const TemplateNode& n) {
    const Json* base = nullptr;
    std::size_t first = 0;
    if (n.name == "steps") {
      if (n.segments.empty()) return eval_error("'steps' needs a step id, e.g. steps.draft.output");
      std::string id;
      if (n.segments[0].index) {
        auto k = eval(*n.segments[0].index);
        if (!k) return k;
        if (!k->is_string()) return eval_error("a step id must be a string");
        id = k->get<std::string>();
      } else {
        id = n.segments[0].key;
      }
      base = scope_.step(id);
      if (!base) return eval_error("no step '" + id + "' in scope");
      first = 1;
    } else {
      base = scope_.root(n.name);
      if (!base) return eval_error("'" + n.name + "' is not defined here");
    }
    const Json* cur = base;
    for (std::size_t i = first; i < n.segments.size(); ++i) {
      const auto& seg = n.segments[i];
      if (cur->is_null()) return Json();
      Json key;
      if (seg.index) {
        auto k = eval(*seg.index);
        if (!k) return k;
        key = std::move(*k);
      } else {
        key = seg.key;
      }
      if (cur->is_object()) {
        if (!key.is_string()) return eval_error("an object's keys are strings, not " + type_name(key));
        auto it = cur->find(key.get<std::string>());
        if (it == cur->end()) return Json();
        cur = &*it;
      } else if (cur->is_array()) {
        std::int64_t idx = 0;
        if (key.is_number_integer()) {
          idx = key.get<std::int64_t>();
        } else if (key.is_string() && !key.get<std::string>().empty() &&
                   key.get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
          idx = std::strtoll(key.get<std::string>().c_str(), nullptr, 10);
        } else {
          return eval_error("a list is indexed by a number, not " + type_name(key),
                            "use [0], [1], ...");
        }
        if (idx < 0) idx += static_cast<std::int64_t>(cur->size());
        if (idx < 0 || idx >= static_cast<std::int64_t>(cur->size())) return Json();
        cur = &(*cur)[static_cast<std::size_t>(idx)];
      } else {
        return eval_error("cannot read '" + (key.is_string() ? key.get<std::string>() : key.dump()) +
                          "' of " + type_name(*cur));
      }
    }
    return *cur;
  }

  static bool both_numbers(const Json& a, const Json& b) { return a.is_number() && b.is_number(); }

  Result<Json> eval_binary(const TemplateNode& n) {
    auto l = eval(*n.kids[0]);
    if (!l) return l;
    if (n.op == BinOp::kAnd) {
      if (!is_truthy(*l)) return Json(false);
      auto r = eval(*n.kids[1]);
      if (!r) return r;
      return Json(is_truthy(*r));
    }
    if (n.op == BinOp::kOr) {
      if (is_truthy(*l)) return Json(true);
      auto r = eval(*n.kids[1]);
      if (!r) return r;
      return Json(is_truthy(*r));
    }
    auto r = eval(*n.kids[1]);
    if (!r) return r;
    const Json& a = *l;
    const Json& b = *r;
    switch (n.op) {
      case BinOp::kEq: return Json(a == b);
      case BinOp::kNe: return Json(a != b);
      case BinOp::kLt: case BinOp::kLe: case BinOp::kGt: case BinOp::kGe: {
        bool comparable = both_numbers(a, b) || (a.is_string() && b.is_string());
        if (!comparable) {
          return eval_error("cannot order " + type_name(a) + " and " + type_name(b),
                            "compare numbers with numbers, strings with strings");
        }
        bool lt = a < b, gt = b < a;
        if (n.op == BinOp::kLt) return Json(lt);
        if (n.op == BinOp::kLe) return Json(!gt);
        if (n.op == BinOp::kGt) return Json(gt);
        return Json(!lt);
      }
      case BinOp::kAdd:
        if (a.is_string() && b.is_string()) return Json(a.get<std::string>() + b.get<std::string>());
        if (a.is_array() && b.is_array()) {
          Json out = a;
          for (const auto& x : b) out.push_back(x);
          return out;
        }
        [[fallthrough]];
      case BinOp::kSub: case BinOp::kMul: case BinOp::kDiv: case BinOp::kMod: {
        if (!both_numbers(a, b)) {
          return eval_error("arithmetic needs numbers, got " + type_name(a) + " and " + type_name(b));
        }
        bool ints = a.is_number_integer() && b.is_number_integer();
        if (ints && n.op != BinOp::kDiv) {
          std::int64_t x = a.get<std::int64_t>(), y = b.get<std::int64_t>(), r = 0;
          bool overflow = false;
          if (n.op == BinOp::kAdd) overflow = __builtin_add_overflow(x, y, &r);
          if (n.op == BinOp::kSub) overflow = __builtin_sub_overflow(x, y, &r);
          if (n.op == BinOp::kMul) overflow = __builtin_mul_overflow(x, y, &r);
          if (n.op == BinOp::kMod) {
            if (y == 0) return eval_error("division by zero");
            r = y == -1 ? 0 : x % y;  // INT64_MIN % -1 overflows in C++; the answer is 0
          }
          if (!overflow) return Json(r);
          // Past 64-bit integers: continue in floating point, as JSON numbers would.
        }
        double x = a.get<double>(), y = b.get<double>();
        if (n.op == BinOp::kAdd) return Json(x + y);
        if (n.op == BinOp::kSub) return Json(x - y);
        if (n.op == BinOp::kMul) return Json(x * y);
        if (y == 0) return eval_error("division by zero");
        if (n.op == BinOp::kDiv) return Json(x / y);
        return Json(std::fmod(x, y));
      }
      default: break;
    }
    return Json();
  }

  Result<Json> eval_filter(const TemplateNode& n) {
    auto in = eval(*n.kids[0]);
    if (!in) return in;
    std::vector<Json> args;
    for (std::size_t i = 1; i < n.kids.size(); ++i) {
      auto a = eval(*n.kids[i]);
      if (!a) return a;
      args.push_back(std::move(*a));
    }
    const Json& v = *in;
    const std::string& f = n.name;
    auto arity = [&](std::size_t lo, std::size_t hi) -> bool { return args.size() >= lo && args.size() <= hi; };
    if (f == "default") {
      if (!arity(1, 1)) return eval_error("default takes one argument: default(value)");
      return v.is_null() ? args[0] : v;
    }
    if (f == "map") {
      if (!arity(1, 1) || !args[0].is_string()) return eval_error("map takes a key: map('text')");
      if (v.is_null()) return Json();
      if (!v.is_array()) return eval_error("map needs a list, got " + type_name(v));
      const std::string& key = args[0].get_ref<const std::string&>();
      Json out = Json::array();
      for (const auto& e : v) {
        auto it = e.is_object() ? e.find(key) : e.end();
        out.push_back(e.is_object() && it != e.end() ? *it : Json());
      }
      return out;
    }
    if (f == "join") {
      if (!arity(0, 1)) return eval_error("join takes at most one argument: join(separator)");
      std::string sep = args.empty() ? "" : render_value(args[0]);
      if (v.is_null()) return Json("");
      if (!v.is_array()) return eval_error("join needs a list, got " + type_name(v));
      std::string out;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += render_value(v[i]);
      }
      return Json(out);
    }
    if (f == "length") {
      if (!arity(0, 0)) return eval_error("length takes no argument");
      if (v.is_null()) return Json(0);
      if (v.is_string()) return Json(static_cast<std::int64_t>(utf8_length(v.get<std::string>())));
      if (v.is_array() || v.is_object()) return Json(static_cast<std::int64_t>(v.size()));
      return eval_error("length needs a string, list or object, got " + type_name(v));
    }
    if (f == "upper" || f == "lower") {
      if (!arity(0, 0)) return eval_error(f + " takes no argument");
      if (v.is_null()) return Json("");
      std::string s = render_value(v);
      for (char& c : s) {
        if (f == "upper" && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (f == "lower" && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return Json(s);
    }
    if (f == "truncate") {
      if (!arity(1, 2) || !args[0].is_number_integer() || args[0].get<std::int64_t>() < 0) {
        return eval_error("truncate takes a length and an optional ending: truncate(200, '...')");
      }
      std::string s = render_value(v);
      std::size_t limit = static_cast<std::size_t>(args[0].get<std::int64_t>());
      std::string end = args.size() > 1 ? render_value(args[1]) : "...";
      if (utf8_length(s) <= limit) return Json(s);
      std::size_t keep = limit > utf8_length(end) ? limit - utf8_length(end) : 0;
      std::string cut = s.substr(0, utf8_prefix(s, keep));
      // Prefer to end at a word boundary when one is near.
      std::size_t space = cut.find_last_of(" \n\t");
      if (space != std::string::npos && space * 5 >= cut.size() * 4) cut.resize(space);
      while (!cut.empty() && (cut.back() == ' ' || cut.back() == '\n')) cut.pop_back();
      return Json(cut + end);
    }
    if (f == "json") {
      if (!arity(0, 0)) return eval_error("json takes no argument");
      return Json(v.dump());
    }
    return eval_error("unknown filter '" + f + "'");
  }

  const TemplateScope& scope_;
};

}  // namespace

bool has_template(std::string_view text) { return text.find("{{") != std::string_view::npos; }

bool is_truthy(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return v.get<bool>();
    case Json::value_t::string: return !v.get_ref<const std::string&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !v.empty();
    case Json::value_t::number_integer: return v.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned: return v.get<std::uint64_t>() != 0;
    case Json::value_t::number_float: return v.get<double>() != 0.0;
    default: return false;
  }
}

std::string render_value(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "";
    case Json::value_t::string: return v.get<std::string>();
    case Json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        return std::to_string(static_cast<std::int64_t>(d));
      }
      // Text shows 15 significant digits: 99.71000000000001 (an arithmetic result) reads 99.71.
      if (std::isfinite(d)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.15g", d);
        return buf;
      }
      return v.dump();
    }
    default: return v.dump();
  }
}

Result<std::shared_ptr<const Template>> Template::parse(std::string_view text) {
  std::shared_ptr<Template> t(new Template());
  t->source_ = std::string(text);
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      t->parts_.push_back(Part{std::string(text.substr(i)), nullptr});
      break;
    }
    if (open > i) t->parts_.push_back(Part{std::string(text.substr(i, open - i)), nullptr});
    // Find the closing "}}" outside string literals.
    std::size_t j = open + 2;
    char quote = 0;
    std::size_t quote_at = 0;
    std::size_t close = std::string_view::npos;
    for (; j < text.size(); ++j) {
      char c = text[j];
      if (quote) {
        if (c == '\\') ++j;
        else if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
        quote_at = j;
      } else if (c == '}' && j + 1 < text.size() && text[j + 1] == '}') {
        close = j;
        break;
      }
    }
    if (close == std::string_view::npos && quote) {
      Error e = make_error(ErrorCode::kTemplateSyntax, "a string opened here is never closed",
                           std::string("close it with ") + quote + " before '}}'");
      e.column = static_cast<int>(quote_at) + 1;
      return e;
    }
    if (close == std::string_view::npos) {
      Error e = make_error(ErrorCode::kTemplateSyntax, "'{{' is never closed", "add '}}' after the expression");
      e.column = static_cast<int>(open) + 1;
      return e;
    }
    Parser p(text.substr(open + 2, close - open - 2), static_cast<int>(open) + 2, &t->references_);
    auto node = p.parse();
    if (!node) return node.error();
    t->parts_.push_back(Part{{}, std::move(*node)});
    i = close + 2;
  }
  t->single_ = t->parts_.size() == 1 && t->parts_[0].expr != nullptr;
  return std::shared_ptr<const Template>(std::move(t));
}

Result<Json> Template::evaluate(const TemplateScope& scope) const {
  Evaluator ev(scope);
  if (single_) return ev.eval(*parts_[0].expr);
  std::string out;
  for (const auto& part : parts_) {
    if (!part.expr) {
      out += part.text;
      continue;
    }
    auto v = ev.eval(*part.expr);
    if (!v) return v;
    out += render_value(*v);
  }
  return Json(std::move(out));
}

}  // namespace loom
