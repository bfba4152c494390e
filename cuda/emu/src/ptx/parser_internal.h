// dsv3-emu: the PTX parser's state (private to src/ptx): a recursive-descent parser over the token
// vector of lexer_internal.h, following the grammar of PTX ISA 9.0 chapters 4 (syntax), 5 (state
// spaces, variables, initializers) and 11 (directives). parser.cc: module, functions, statements and
// operands; parser_vars.cc: variable and parameter declarations with their initializers.
#pragma once
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "src/ptx/ast.h"
#include "src/ptx/lexer_internal.h"

namespace emu::ptx::detail {

// Registers visible in one { } scope: single names, and `%r<12>` ranges (prefix -> count).
struct Scope {
  std::unordered_set<std::string_view> names;
  std::unordered_map<std::string_view, int> ranges;
};

class Parser {
 public:
  Parser(const std::vector<Token>& toks, Module& m) : t_(toks), m_(m) {}
  void parse_module();

 private:
  // --- tokens
  const Token& peek(size_t k = 0) const { return t_[i_ + k < t_.size() ? i_ + k : t_.size() - 1]; }
  const Token& next() { const Token& t = t_[i_]; if (i_ + 1 < t_.size()) ++i_; return t; }
  bool is_punct(char c, size_t k = 0) const {
    const Token& t = peek(k);
    return t.kind == Token::Kind::Punct && t.text[0] == c;
  }
  bool is_word(std::string_view w, size_t k = 0) const {
    const Token& t = peek(k);
    return t.kind == Token::Kind::Word && t.text == w;
  }
  bool accept(char c) { if (is_punct(c)) { next(); return true; } return false; }
  void expect(char c, const char* what);
  std::string_view expect_name(const char* what);   // an identifier that is not a directive
  int64_t expect_int(const char* what);             // an optionally negative integer constant
  [[noreturn]] void error(const std::string& msg) const { error_at(peek().line, msg); }
  [[noreturn]] void error_at(int line, const std::string& msg) const { fail(m_.origin, line, msg); }
  static std::string show(const Token& t);

  // --- module level (parser.cc)
  void parse_version();
  void parse_file();
  void parse_section();
  void parse_pragma(bool in_function);
  void parse_function(bool is_entry, bool vis, bool ext, bool weak, int line);
  void parse_perf_directive(Function& f);
  void parse_body(Function& f);
  void parse_reg_decl(std::vector<Statement>& out);
  void parse_loc();
  void parse_proto_or_targets();
  void parse_instr(Statement& st);
  Operand parse_operand();
  Operand parse_name_operand(const Token& t);
  Operand parse_number_operand(const Token& t, bool negate);
  Operand parse_address();
  bool is_declared_reg(std::string_view name) const;
  void declare_reg(std::string_view name, int count, int line);

  // --- variables (parser_vars.cc)
  // Parses the declarations of one `.space ... name[, name...] ;` statement (the space word is next).
  void parse_var_decls(std::vector<VarDecl>& out, bool vis, bool ext, bool weak, bool need_semicolon);
  void parse_param_list(std::vector<VarDecl>& out);   // ( .param ... , ... )
  VarDecl parse_param();
  void parse_initializer(VarDecl& v, int elem_size, const std::vector<int64_t>& dims);
  void parse_init_level(VarDecl& v, int elem_size, const std::vector<int64_t>& sizes, size_t level,
                        size_t start, size_t& cursor, size_t limit);
  void parse_init_element(VarDecl& v, int elem_size, size_t index);

  const std::vector<Token>& t_;
  size_t i_ = 0;
  Module& m_;
  std::vector<Scope> scopes_;
  SourceLoc loc_;                       // the last .loc in the current function
  std::vector<int> loc_file_line_;      // file index -> first .loc line using it (checked at the end)
  std::unordered_map<std::string, size_t> fn_index_;
};

// Byte size of a PTX fundamental type for variables ("b32" -> 4); 0 when it has no size (texref, ...)
// and -1 when it is not a type.
int type_size(std::string_view type);

}  // namespace emu::ptx::detail
