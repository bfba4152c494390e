// dsv3-emu: the PTX parser (emu::ptx::parse): module directives, functions, statements and operands,
// following PTX ISA 9.0 chapters 4 (syntax), 7 (functions and call) and 11 (directives: .version,
// .target, .file, .loc, .section, .pragma, performance-tuning directives). Every construct it does not
// know is a ParseError with the PTX line; registers are resolved against their { } scope so that bare
// names (inline asm's `done`, `p`) are told apart from symbols.
#include <cstring>

#include "src/ptx/parser_internal.h"

namespace emu::ptx {

Module parse(std::string_view text, const std::string& origin) {
  Module m;
  m.origin = origin;
  const std::vector<detail::Token> toks = detail::tokenize(text, origin);
  detail::Parser p(toks, m);
  p.parse_module();
  return m;
}

}  // namespace emu::ptx

namespace emu::ptx::detail {

namespace {

// Special registers (PTX ISA 9.0 chapter 10), by name without a component suffix.
constexpr const char* kSpecialScalar[] = {
    "%laneid", "%warpid", "%nwarpid", "%smid", "%nsmid", "%gridid", "%lanemask_eq", "%lanemask_le",
    "%lanemask_lt", "%lanemask_ge", "%lanemask_gt", "%clock", "%clock_hi", "%clock64", "%globaltimer",
    "%globaltimer_lo", "%globaltimer_hi", "%total_smem_size", "%aggr_smem_size", "%dynamic_smem_size",
    "%reserved_smem_offset_begin", "%reserved_smem_offset_end", "%reserved_smem_offset_cap",
    "%reserved_smem_offset_0", "%reserved_smem_offset_1", "%is_explicit_cluster", "%cluster_ctarank",
    "%cluster_nctarank", "%current_graph_exec", "%pm0", "%pm1", "%pm2", "%pm3", "%pm4", "%pm5", "%pm6",
    "%pm7", "%pm0_64", "%pm1_64", "%pm2_64", "%pm3_64", "%pm4_64", "%pm5_64", "%pm6_64", "%pm7_64"};
// Special registers that are vectors: written %tid.x / .y / .z.
constexpr const char* kSpecialVector[] = {"%tid", "%ntid", "%ctaid", "%nctaid", "%clusterid",
                                          "%nclusterid", "%cluster_ctaid", "%cluster_nctaid"};

bool is_special(std::string_view n) {
  const size_t dot = n.find('.');
  if (dot == std::string_view::npos) {
    for (const char* s : kSpecialScalar)
      if (n == s) return true;
    if (n.size() > 7 && n.substr(0, 7) == "%envreg") {  // %envreg0 .. %envreg31
      const std::string_view d = n.substr(7);
      if (d.size() > 2 || (d.size() == 2 && d[0] == '0')) return false;
      int v = 0;
      for (char c : d) { if (c < '0' || c > '9') return false; v = v * 10 + (c - '0'); }
      return v < 32;
    }
    return false;
  }
  const std::string_view base = n.substr(0, dot), comp = n.substr(dot);
  if (comp != ".x" && comp != ".y" && comp != ".z") return false;
  for (const char* s : kSpecialVector)
    if (base == s) return true;
  return false;
}

// Pragmas of PTX ISA 9.0 section 11.5 (strings are given verbatim; the only ones nvcc writes).
bool known_pragma(std::string_view s) {
  return s == "nounroll" || s == "enable_smem_spilling" || s.substr(0, 15) == "used_bytes_mask" ||
         s == "abi_param_reg all" || s.substr(0, 13) == "abi_param_reg";
}

}  // namespace

std::string Parser::show(const Token& t) {
  switch (t.kind) {
    case Token::Kind::End: return "end of input";
    case Token::Kind::String: return "\"" + std::string(t.text) + "\"";
    default: return "'" + std::string(t.text) + "'";
  }
}

void Parser::expect(char c, const char* what) {
  if (!is_punct(c)) error(std::string("expected '") + c + "' " + what + ", found " + show(peek()));
  next();
}

std::string_view Parser::expect_name(const char* what) {
  const Token& t = peek();
  if (t.kind != Token::Kind::Word || t.text.find('.') != std::string_view::npos)
    error(std::string("expected ") + what + ", found " + show(t));
  next();
  return t.text;
}

int64_t Parser::expect_int(const char* what) {
  const bool neg = accept('-');
  const Token& t = peek();
  uint64_t v = 0;
  if (t.kind != Token::Kind::Number || !parse_integer(t.text, v))
    error(std::string("expected an integer ") + what + ", found " + show(t));
  next();
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

// ------------------------------------------------------------------------------------------- module

void Parser::parse_module() {
  bool seen_version = false;
  while (peek().kind != Token::Kind::End) {
    const Token& t = peek();
    if (t.kind != Token::Kind::Word || t.text[0] != '.') error("expected a directive, found " + show(t));
    const std::string_view d = t.text;
    const int line = t.line;
    if (d == ".version") {
      if (seen_version) error("second .version");
      seen_version = true;
      parse_version();
      continue;
    }
    if (!seen_version) error("the module must start with .version, found " + show(t));
    if (m_.target.empty() && d != ".target") error("expected .target after .version, found " + show(t));
    if (d == ".target") {
      next();
      m_.target.clear();
      do m_.target.emplace_back(expect_name("a target")); while (accept(','));
    } else if (d == ".address_size") {
      next();
      const int64_t v = expect_int("address size");
      if (v != 32 && v != 64) error_at(line, ".address_size must be 32 or 64");
      m_.address_size = static_cast<int>(v);
    } else if (d == ".file") {
      parse_file();
    } else if (d == ".section") {
      parse_section();
    } else if (d == ".pragma") {
      parse_pragma(false);
    } else {
      // [.visible | .extern | .weak | .common]* then .entry / .func / a variable.
      bool vis = false, ext = false, weak = false;
      for (;;) {
        if (is_word(".visible")) { vis = true; next(); }
        else if (is_word(".extern")) { ext = true; next(); }
        else if (is_word(".weak")) { weak = true; next(); }
        else break;
      }
      if (is_word(".entry") || is_word(".func")) {
        const bool entry = is_word(".entry");
        next();
        parse_function(entry, vis, ext, weak, line);
      } else if (is_word(".global") || is_word(".const") || is_word(".shared") || is_word(".local")) {
        parse_var_decls(m_.globals, vis, ext, weak, true);
      } else {
        error("unknown or unsupported directive " + show(peek()));
      }
    }
  }
  if (!seen_version) error("empty module: no .version");
  // Every .loc must name a .file (nvcc writes the .file table after the functions).
  for (size_t f = 0; f < loc_file_line_.size(); ++f)
    if (loc_file_line_[f] && (f >= m_.files.size() || m_.files[f].empty()))
      error_at(loc_file_line_[f], ".loc names file " + std::to_string(f) + ", which no .file declares");
}

void Parser::parse_version() {
  next();
  const Token& t = peek();
  const size_t dot = t.text.find('.');
  uint64_t maj = 0, min = 0;
  if (t.kind != Token::Kind::Number || dot == std::string_view::npos ||
      !parse_integer(t.text.substr(0, dot), maj) || !parse_integer(t.text.substr(dot + 1), min))
    error("expected a version such as 9.0, found " + show(t));
  // Leading-zero minors ("9.01") would read as octal; PTX versions are plain decimals.
  if (maj > 99 || min > 99) error("implausible PTX version " + std::string(t.text));
  next();
  m_.version_major = static_cast<int>(maj);
  m_.version_minor = static_cast<int>(min);
}

void Parser::parse_file() {
  const int line = next().line;
  const int64_t idx = expect_int("file index");
  if (idx < 0 || idx > 1000000) error_at(line, "bad .file index");
  const Token& s = peek();
  if (s.kind != Token::Kind::String) error("expected the file name of .file, found " + show(s));
  next();
  // Optional timestamp and size: .file 1 "a.cu", 1700000000, 1234
  if (accept(',')) { expect_int("timestamp"); expect(',', "before the file size"); expect_int("file size"); }
  if (m_.files.size() <= static_cast<size_t>(idx)) m_.files.resize(idx + 1);
  if (!m_.files[idx].empty()) error_at(line, ".file " + std::to_string(idx) + " declared twice");
  m_.files[idx] = std::string(s.text);
  if (m_.files[idx].empty()) error_at(line, ".file with an empty name");
}

// DWARF sections (.debug_str for the function names of inlined .loc, .debug_info ... under -G):
// labels and data directives .b8/.b16/.b32/.b64 with numbers or label names. Debug data has no
// meaning for execution, so it is checked for syntax and not kept.
void Parser::parse_section() {
  next();
  const Token& name = peek();
  if (name.kind != Token::Kind::Word || name.text.substr(0, 7) != ".debug_")
    error("expected a DWARF section name (.debug_...), found " + show(name));
  next();
  expect('{', "after the section name");
  while (!is_punct('}')) {
    const Token& t = peek();
    if (t.kind == Token::Kind::Word && t.text[0] != '.' && is_punct(':', 1)) { next(); next(); continue; }
    if (is_word(".b8") || is_word(".b16") || is_word(".b32") || is_word(".b64")) {
      next();
      do {
        if (peek().kind == Token::Kind::Number) { expect_int("in section data"); continue; }
        expect_name("a number or label in section data");
        if (accept('+')) expect_int("label offset");
      } while (accept(','));
      continue;
    }
    error("unexpected " + show(t) + " in .section");
  }
  next();
}

void Parser::parse_pragma(bool in_function) {
  const int line = next().line;
  const Token& s = peek();
  if (s.kind != Token::Kind::String) error("expected a string after .pragma, found " + show(s));
  if (!known_pragma(s.text)) error_at(line, "unknown .pragma \"" + std::string(s.text) + "\"");
  next();
  expect(';', "after .pragma");
  (void)in_function;
}

// ---------------------------------------------------------------------------------------- functions

void Parser::parse_function(bool is_entry, bool vis, bool ext, bool weak, int line) {
  Function f;
  f.is_entry = is_entry;
  f.is_visible = vis;
  f.is_extern = ext;
  f.is_weak = weak;
  f.ptx_line = line;
  if (!is_entry && is_punct('(')) parse_param_list(f.rets);
  f.name = std::string(expect_name("a function name"));
  if (is_punct('(')) parse_param_list(f.params);
  for (const VarDecl& p : f.params)
    if (is_entry && p.space != "param") error_at(p.ptx_line, "kernel parameters must be .param");
  while (peek().kind == Token::Kind::Word && peek().text[0] == '.') parse_perf_directive(f);
  if (accept(';')) {
    f.has_body = false;
  } else if (is_punct('{')) {
    if (ext) error(".extern function with a body");
    next();
    f.has_body = true;
    scopes_.clear();
    scopes_.emplace_back();
    // .reg parameters (old-style .func ABI) are registers of the body.
    for (const std::vector<VarDecl>* list : {&f.params, &f.rets})
      for (const VarDecl& p : *list)
        if (p.space == "reg") declare_reg(p.name, -1, p.ptx_line);
    loc_ = SourceLoc{};
    parse_body(f);
  } else {
    error("expected '{' or ';' after the declaration of " + f.name + ", found " + show(peek()));
  }
  auto it = fn_index_.find(f.name);
  if (it == fn_index_.end()) {
    fn_index_.emplace(f.name, m_.functions.size());
    m_.functions.push_back(std::move(f));
    return;
  }
  Function& prev = m_.functions[it->second];
  if (prev.is_entry != f.is_entry) error_at(line, f.name + " declared both as .entry and .func");
  if (prev.has_body && f.has_body) error_at(line, "function " + f.name + " defined twice");
  if (f.has_body) prev = std::move(f);  // a declaration followed by its definition: keep the definition
}

void Parser::parse_perf_directive(Function& f) {
  const Token& t = next();
  const std::string_view d = t.text;
  auto dims = [&](int* out) {
    int k = 0;
    do {
      if (k == 3) error("more than 3 dimensions in " + std::string(d));
      const int64_t v = expect_int("dimension");
      if (v < 1 || v > (1 << 30)) error_at(t.line, "bad dimension in " + std::string(d));
      out[k++] = static_cast<int>(v);
    } while (accept(','));
    for (; k < 3; ++k) out[k] = 1;  // omitted trailing dimensions are 1 (PTX ISA 11.4)
  };
  auto one = [&]() {
    const int64_t v = expect_int("value");
    if (v < 0 || v > (1 << 30)) error_at(t.line, "bad value in " + std::string(d));
    return static_cast<int>(v);
  };
  if (d == ".maxntid") dims(f.maxntid);
  else if (d == ".reqntid") dims(f.reqntid);
  else if (d == ".reqnctapercluster") dims(f.reqnctapercluster);
  else if (d == ".minnctapersm") f.minnctapersm = one();
  else if (d == ".maxnctapersm") f.maxnctapersm = one();
  else if (d == ".maxnreg") f.maxnreg = one();
  else if (d == ".maxclusterrank") f.maxclusterrank = one();
  else if (d == ".explicitcluster") f.explicitcluster = true;
  else if (d == ".noreturn") {
    if (f.is_entry) error_at(t.line, ".noreturn on a kernel");
    f.noreturn = true;
  } else if (d == ".pragma") {
    --i_;
    parse_pragma(true);
  } else {
    error_at(t.line, "unknown function directive '" + std::string(d) + "'");
  }
}

// ------------------------------------------------------------------------------------------- bodies

void Parser::parse_body(Function& f) {
  std::vector<Statement>& body = f.body;
  body.reserve(256);
  std::vector<int> open_lines;  // lines of the { } blocks that are open, for the error of an unclosed one
  for (;;) {
    const Token& t = peek();
    const int line = t.line;
    if (t.kind == Token::Kind::End)
      error_at(open_lines.empty() ? f.ptx_line : open_lines.back(), "unterminated body of " + f.name);
    if (t.kind == Token::Kind::Punct) {
      const char c = t.text[0];
      if (c == '{') {
        next();
        scopes_.emplace_back();
        open_lines.push_back(line);
        Statement st;
        st.kind = Statement::Kind::BlockBegin;
        st.ptx_line = line;
        body.push_back(std::move(st));
        continue;
      }
      if (c == '}') {
        next();
        if (open_lines.empty()) return;  // the end of the function body
        open_lines.pop_back();
        scopes_.pop_back();
        Statement st;
        st.kind = Statement::Kind::BlockEnd;
        st.ptx_line = line;
        body.push_back(std::move(st));
        continue;
      }
      if (c == '@') {
        Statement st;
        st.kind = Statement::Kind::Instr;
        st.ptx_line = line;
        parse_instr(st);
        body.push_back(std::move(st));
        continue;
      }
      error("unexpected " + show(t) + " in the body of " + f.name);
    }
    if (t.kind != Token::Kind::Word) error("unexpected " + show(t) + " in the body of " + f.name);
    const std::string_view w = t.text;
    if (w[0] == '.') {
      if (w == ".reg") { parse_reg_decl(body); continue; }
      if (w == ".loc") { parse_loc(); continue; }
      if (w == ".pragma") { parse_pragma(true); continue; }
      if (w == ".local" || w == ".shared" || w == ".param") {
        std::vector<VarDecl> vars;
        parse_var_decls(vars, false, false, false, true);
        for (VarDecl& v : vars) {
          Statement st;
          st.kind = Statement::Kind::Var;
          st.ptx_line = v.ptx_line;
          st.var = std::move(v);
          body.push_back(std::move(st));
        }
        continue;
      }
      error("unknown or misplaced directive " + show(t) + " in the body of " + f.name);
    }
    if (is_punct(':', 1)) {
      // A label, or the name of a .callprototype / .calltargets declaration.
      next();
      next();
      if (is_word(".callprototype") || is_word(".calltargets")) { parse_proto_or_targets(); continue; }
      if (is_word(".branchtargets")) {
        // name: .branchtargets L0, L1, ... ;   the label list of brx.idx (PTX ISA 9.0 §9.7.12.3)
        if (w[0] == '%' || w.find('.') != std::string_view::npos) error_at(line, "bad .branchtargets name '" + std::string(w) + "'");
        next();
        Statement st;
        st.kind = Statement::Kind::BranchTargets;
        st.label = std::string(w);
        st.ptx_line = line;
        do st.targets.emplace_back(expect_name("a label in .branchtargets")); while (accept(','));
        expect(';', "after .branchtargets");
        body.push_back(std::move(st));
        continue;
      }
      if (w[0] == '%' || w.find('.') != std::string_view::npos) error_at(line, "bad label name '" + std::string(w) + "'");
      Statement st;
      st.kind = Statement::Kind::Label;
      st.label = std::string(w);
      st.ptx_line = line;
      body.push_back(std::move(st));
      continue;
    }
    Statement st;
    st.kind = Statement::Kind::Instr;
    st.ptx_line = line;
    parse_instr(st);
    body.push_back(std::move(st));
  }
}

void Parser::declare_reg(std::string_view name, int count, int line) {
  Scope& s = scopes_.back();
  if (count >= 0) {
    if (!s.ranges.emplace(name, count).second) error_at(line, "register range " + std::string(name) + "<> declared twice");
  } else if (!s.names.insert(name).second) {
    error_at(line, "register " + std::string(name) + " declared twice in one scope");
  }
}

bool Parser::is_declared_reg(std::string_view n) const {
  // %r12 is declared by %r<N> with N > 12; the digits must not have a leading zero (%r012 is not %r12).
  size_t k = n.size();
  while (k > 0 && n[k - 1] >= '0' && n[k - 1] <= '9') --k;
  const std::string_view prefix = n.substr(0, k), digits = n.substr(k);
  const bool indexed = !digits.empty() && digits.size() < 10 && (digits.size() == 1 || digits[0] != '0') && k > 0;
  long idx = 0;
  if (indexed)
    for (char c : digits) idx = idx * 10 + (c - '0');
  for (size_t s = scopes_.size(); s-- > 0;) {
    const Scope& sc = scopes_[s];
    if (sc.names.count(n)) return true;
    if (indexed) {
      auto it = sc.ranges.find(prefix);
      if (it != sc.ranges.end() && idx < it->second) return true;
    }
  }
  return false;
}

// .reg [.v2|.v4] .type name[<N>] [, name[<N>]]* ;   -> one RegDecl statement per name.
void Parser::parse_reg_decl(std::vector<Statement>& out) {
  const int line = next().line;
  int vec = 0;
  std::string type;
  while (peek().kind == Token::Kind::Word && peek().text[0] == '.') {
    const std::string_view a = next().text;
    if (a == ".v2" || a == ".v4" || a == ".v8") {
      if (vec) error_at(line, "two vector sizes in .reg");
      vec = a[2] - '0';
    } else {
      if (!type.empty()) error_at(line, "two types in .reg: ." + type + " and " + std::string(a));
      const int sz = type_size(a.substr(1));
      if (sz <= 0 && a != ".pred") error_at(line, "not a register type: " + std::string(a));
      type = std::string(a.substr(1));
    }
  }
  if (type.empty()) error("missing type in .reg");
  do {
    const Token& nt = peek();
    const std::string_view name = expect_name("a register name");
    if (name[0] == '$') error_at(nt.line, "a register name cannot start with '$'");
    RegDecl r;
    r.type = type;
    r.vec = vec;
    r.name = std::string(name);
    if (accept('<')) {
      const int64_t n = expect_int("register count");
      if (n < 0 || n > (1 << 24)) error_at(nt.line, "bad register count");
      expect('>', "after the register count");
      r.count = static_cast<int>(n);
    }
    if (is_special(name) || (name[0] == '%' && is_special(std::string(name) + ".x")))
      error_at(nt.line, "register name " + std::string(name) + " is a special register");
    declare_reg(name, r.count, nt.line);
    Statement st;
    st.kind = Statement::Kind::Reg;
    st.ptx_line = nt.line;
    st.reg = std::move(r);
    out.push_back(std::move(st));
  } while (accept(','));
  expect(';', "after .reg");
}

// .loc file line col [, function_name label [+off], inlined_at file line col]
void Parser::parse_loc() {
  const int line = next().line;
  const int64_t file = expect_int("file index in .loc");
  const int64_t ln = expect_int("line in .loc");
  const int64_t col = expect_int("column in .loc");
  if (file < 0 || file > 1000000 || ln < 0 || col < 0) error_at(line, "bad .loc");
  while (accept(',')) {
    const std::string_view k = expect_name(".loc attribute");
    if (k == "function_name") {
      expect_name("function name label");
      if (accept('+')) expect_int("offset");
    } else if (k == "inlined_at") {
      const int64_t f2 = expect_int("file index");
      expect_int("line");
      expect_int("column");
      if (f2 < 0 || f2 > 1000000) error_at(line, "bad inlined_at file");
      if (loc_file_line_.size() <= static_cast<size_t>(f2)) loc_file_line_.resize(f2 + 1, 0);
      if (!loc_file_line_[f2]) loc_file_line_[f2] = line;
    } else {
      error_at(line, "unknown .loc attribute '" + std::string(k) + "'");
    }
  }
  if (loc_file_line_.size() <= static_cast<size_t>(file)) loc_file_line_.resize(file + 1, 0);
  if (!loc_file_line_[file]) loc_file_line_[file] = line;
  loc_.file = static_cast<int>(file);
  loc_.line = static_cast<int>(ln);
  loc_.col = static_cast<int>(col);
}

// name: .callprototype [(.param ret)] _ (params) ;   name: .calltargets f1, f2 ;
// Declarations for indirect calls: checked for syntax, not kept (the call names them as a Symbol).
void Parser::parse_proto_or_targets() {
  if (is_word(".calltargets")) {
    next();
    do expect_name("a call target"); while (accept(','));
    expect(';', "after .calltargets");
    return;
  }
  next();
  std::vector<VarDecl> discard;
  if (is_punct('(')) parse_param_list(discard);
  if (expect_name("'_' in .callprototype") != "_") error("expected '_' in .callprototype");
  if (is_punct('(')) parse_param_list(discard);
  while (is_word(".noreturn")) next();
  expect(';', "after .callprototype");
}

// ------------------------------------------------------------------------------------- instructions

void Parser::parse_instr(Statement& st) {
  Instr& in = st.instr;
  if (accept('@')) {
    in.guard_neg = accept('!');
    const Token& g = peek();
    const std::string_view name = expect_name("a guard predicate");
    if (!is_declared_reg(name)) error_at(g.line, "guard " + std::string(name) + " is not a declared register");
    in.guard = std::string(name);
  }
  const Token& op = peek();
  if (op.kind != Token::Kind::Word || !((op.text[0] >= 'a' && op.text[0] <= 'z') || (op.text[0] >= 'A' && op.text[0] <= 'Z')))
    error("expected an instruction, found " + show(op));
  next();
  in.opcode = std::string(op.text);
  in.loc = loc_;
  in.loc.ptx_line = op.line;
  st.ptx_line = op.line;
  // Split the mnemonic on '.', keeping "::" qualifiers inside their part.
  std::string_view s = op.text;
  for (;;) {
    const size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    if (part.empty()) error_at(op.line, "empty modifier in '" + in.opcode + "'");
    in.parts.emplace_back(part);
    if (dot == std::string_view::npos) break;
    s.remove_prefix(dot + 1);
  }
  if (accept(';')) return;
  do in.ops.push_back(parse_operand()); while (accept(','));
  if (!is_punct(';')) error("expected ',' or ';' after an operand of '" + in.opcode + "', found " + show(peek()));
  next();
}

Operand Parser::parse_operand() {
  const Token& t = peek();
  if (t.kind == Token::Kind::Punct) {
    const char c = t.text[0];
    if (c == '[') return parse_address();
    if (c == '{' || c == '(') {
      // { a, b, _ } vectors; ( ... ) the return and argument lists of call. Either may be empty only
      // for call, e.g. `call (), f, ();` is not written by nvcc but is valid.
      const char close = c == '{' ? '}' : ')';
      next();
      Operand v;
      v.kind = Operand::Kind::Vec;
      if (!is_punct(close)) {
        do {
          if (is_punct('{') || is_punct('(') || is_punct('[')) error("nested vector or address in a vector operand");
          v.elems.push_back(parse_operand());
        } while (accept(','));
      } else if (c == '{') {
        error("empty vector operand");
      }
      expect(close, "to close the vector operand");
      return v;
    }
    if (c == '!') {
      next();
      const Token& r = peek();
      if (r.kind != Token::Kind::Word) error("expected a predicate after '!', found " + show(r));
      next();
      Operand o = parse_name_operand(r);
      if (o.kind != Operand::Kind::Reg) error_at(r.line, "'!' applies to a predicate register only");
      o.neg = true;
      return o;
    }
    if (c == '-') {
      next();
      const Token& n = peek();
      if (n.kind != Token::Kind::Number) error("expected a number after '-', found " + show(n));
      next();
      return parse_number_operand(n, true);
    }
    error("unexpected " + show(t) + " in an operand");
  }
  if (t.kind == Token::Kind::Number) { next(); return parse_number_operand(t, false); }
  if (t.kind != Token::Kind::Word || t.text[0] == '.') error("expected an operand, found " + show(t));
  next();
  Operand o = parse_name_operand(t);
  if (o.kind == Operand::Kind::Symbol && (is_punct('+') || is_punct('-'))) {
    // avar+imm: the address of a variable with an offset (`mov.type d, avar+imm;` in the ISA's mov).
    const bool minus = next().text[0] == '-';
    const bool neg = accept('-');
    const Token& n = peek();
    uint64_t v = 0;
    if (n.kind != Token::Kind::Number || !parse_integer(n.text, v)) error("expected an offset after '" + o.name + "', found " + show(n));
    next();
    o.imm = static_cast<int64_t>(minus != neg ? 0 - v : v);
    return o;
  }
  if (is_punct('|')) {
    // d|p: the second (predicate) destination of setp, shfl.sync, ... kept as a pair.
    next();
    const Token& q = peek();
    if (q.kind != Token::Kind::Word) error("expected a predicate after '|', found " + show(q));
    next();
    Operand p = parse_name_operand(q);
    if (o.kind != Operand::Kind::Reg || p.kind != Operand::Kind::Reg) error_at(q.line, "'|' joins two registers");
    Operand v;
    v.kind = Operand::Kind::Vec;
    v.pair = true;
    v.elems.push_back(std::move(o));
    v.elems.push_back(std::move(p));
    return v;
  }
  return o;
}

Operand Parser::parse_name_operand(const Token& t) {
  Operand o;
  const std::string_view n = t.text;
  if (n == "_") { o.kind = Operand::Kind::Sink; return o; }
  o.name = std::string(n);
  if (is_declared_reg(n)) { o.kind = Operand::Kind::Reg; return o; }
  if (n[0] == '%') {
    if (is_special(n)) { o.kind = Operand::Kind::Special; return o; }
    error_at(t.line, "undeclared register " + std::string(n));
  }
  o.kind = Operand::Kind::Symbol;  // a variable, parameter, function or label
  return o;
}

Operand Parser::parse_number_operand(const Token& t, bool negate) {
  Operand o;
  uint64_t v = 0;
  int bits = 0;
  if (parse_integer(t.text, v)) {
    o.kind = Operand::Kind::Imm;
    o.imm = static_cast<int64_t>(negate ? 0 - v : v);
  } else if (parse_float(t.text, v, bits)) {
    o.kind = Operand::Kind::FImm;
    if (negate) v ^= bits == 32 ? 0x80000000ull : 0x8000000000000000ull;  // -0f...: the sign bit
    o.imm = static_cast<int64_t>(v);
    o.fbits = bits;
  } else {
    error_at(t.line, "malformed number '" + std::string(t.text) + "'");
  }
  return o;
}

// [reg], [reg+imm], [reg+-imm], [reg-imm], [sym], [sym+imm], [imm], [base, {coords}]
Operand Parser::parse_address() {
  const int line = next().line;
  Operand a;
  a.kind = Operand::Kind::Addr;
  const Token& b = peek();
  if (b.kind == Token::Kind::Number) {
    next();
    uint64_t v = 0;
    if (!parse_integer(b.text, v)) error_at(b.line, "malformed address '" + std::string(b.text) + "'");
    a.base_kind = Operand::Kind::Imm;
    a.imm = static_cast<int64_t>(v);
  } else if (b.kind == Token::Kind::Word && b.text[0] != '.') {
    next();
    const Operand base = parse_name_operand(b);
    if (base.kind != Operand::Kind::Reg && base.kind != Operand::Kind::Symbol)
      error_at(b.line, "address base must be a register or a symbol");
    a.base_kind = base.kind;
    a.name = base.name;
    if (is_punct('+') || is_punct('-')) {
      const bool minus = next().text[0] == '-';
      const bool neg = accept('-');
      const Token& n = peek();
      uint64_t v = 0;
      if (n.kind != Token::Kind::Number || !parse_integer(n.text, v)) error("expected an address offset, found " + show(n));
      next();
      a.imm = static_cast<int64_t>(minus != neg ? 0 - v : v);
    }
  } else {
    error("expected an address, found " + show(b));
  }
  if (accept(',')) {
    if (!is_punct('{')) error("expected '{' for the coordinates of the address, found " + show(peek()));
    Operand coords = parse_operand();
    a.elems = std::move(coords.elems);
  }
  if (!is_punct(']')) error_at(peek().line == line ? line : peek().line, "expected ']' to close the address, found " + show(peek()));
  next();
  return a;
}

}  // namespace emu::ptx::detail
