// dsv3-emu: PTX variable and parameter declarations with their initializers (PTX ISA 9.0 sections 5.1
// "State spaces", 5.4 "Variables": alignment, vectors, arrays, `[]`, initializers with nested lists,
// `generic(var)` and `var+offset`; 7.1 kernel/function parameters with .ptr attributes).
// Initializers are encoded as the variable's little-endian bytes, as the loader copies them.
#include <cstring>

#include "src/ptx/parser_internal.h"

namespace emu::ptx::detail {

int type_size(std::string_view t) {
  struct T { const char* name; int size; };
  static constexpr T kTypes[] = {
      {"b8", 1},  {"u8", 1},  {"s8", 1},   {"b16", 2},    {"u16", 2},      {"s16", 2},        {"f16", 2},
      {"bf16", 2}, {"b32", 4}, {"u32", 4},  {"s32", 4},    {"f32", 4},      {"f16x2", 4},      {"bf16x2", 4},
      {"tf32", 4}, {"b64", 8}, {"u64", 8},  {"s64", 8},    {"f64", 8},      {"b128", 16},      {"pred", 0},
      {"texref", 0}, {"samplerref", 0}, {"surfref", 0}};
  for (const T& k : kTypes)
    if (t == k.name) return k.size;
  return -1;
}

namespace {
bool is_state_space(std::string_view w) {
  return w == ".global" || w == ".const" || w == ".shared" || w == ".local" || w == ".param" || w == ".reg";
}
bool is_float_type(std::string_view t) { return t == "f32" || t == "f64"; }
constexpr uint64_t kMaxInitBytes = 1ull << 28;  // a sanity bound on initialized variables (256 MiB)
}  // namespace

// .space [.align N] [.vN] .type name[dims] [= init] [, name[dims] [= init]]* ;
void Parser::parse_var_decls(std::vector<VarDecl>& out, bool vis, bool ext, bool weak, bool need_semicolon) {
  const Token& sp = next();
  VarDecl proto;
  proto.space = std::string(sp.text.substr(1));
  proto.is_visible = vis;
  proto.is_extern = ext;
  proto.is_weak = weak;
  proto.ptx_line = sp.line;
  while (peek().kind == Token::Kind::Word && peek().text[0] == '.') {
    const Token& a = next();
    if (a.text == ".align") {
      if (proto.align) error_at(a.line, "two .align in one declaration");
      const int64_t n = expect_int("alignment");
      if (n <= 0 || (n & (n - 1)) || n > (1 << 20)) error_at(a.line, ".align must be a power of two");
      proto.align = static_cast<int>(n);
    } else if (a.text == ".v2" || a.text == ".v4" || a.text == ".v8") {
      if (proto.vec) error_at(a.line, "two vector sizes in one declaration");
      proto.vec = a.text[2] - '0';
    } else if (type_size(a.text.substr(1)) >= 0 && a.text != ".pred") {
      if (!proto.type.empty()) error_at(a.line, "two types in one declaration");
      proto.type = std::string(a.text.substr(1));
    } else {
      error_at(a.line, "unknown attribute " + std::string(a.text) + " in a ." + proto.space + " declaration");
    }
  }
  if (proto.type.empty()) error("missing type in ." + proto.space + " declaration");
  const int esize = type_size(proto.type);
  do {
    VarDecl v = proto;
    const Token& nt = peek();
    v.name = std::string(expect_name("a variable name"));
    v.ptx_line = nt.line;
    if (v.name[0] == '%') error_at(nt.line, "a variable name cannot start with '%'");
    while (accept('[')) {
      if (accept(']')) {
        if (!v.dims.empty()) error_at(nt.line, "only the first array dimension may be []");
        v.dims.push_back(0);
        continue;
      }
      const int64_t d = expect_int("array dimension");
      if (d <= 0) error_at(nt.line, "array dimension must be positive");
      expect(']', "after the array dimension");
      v.dims.push_back(d);
    }
    if (accept('=')) {
      if (v.space == "shared" || v.space == "local" || v.space == "param")
        error_at(nt.line, "." + v.space + " variables cannot have an initializer");
      if (v.is_extern) error_at(nt.line, ".extern variable with an initializer");
      if (esize <= 0) error_at(nt.line, "." + v.type + " variables cannot have an initializer");
      parse_initializer(v, esize, v.dims);
    } else if (!v.dims.empty() && v.dims[0] == 0 && !v.is_extern && v.space != "param") {
      error_at(nt.line, "array " + v.name + "[] needs .extern or an initializer");
    }
    out.push_back(std::move(v));
  } while (accept(','));
  if (need_semicolon) expect(';', "after the declaration");
}

// ( param [, param]* )  -- also `()`.
void Parser::parse_param_list(std::vector<VarDecl>& out) {
  expect('(', "to open the parameter list");
  if (accept(')')) return;
  do out.push_back(parse_param()); while (accept(','));
  expect(')', "to close the parameter list");
}

// .param|.reg [.align N] [.vN] .type [.ptr [.space] [.align N]] name[dims]
VarDecl Parser::parse_param() {
  const Token& sp = peek();
  if (!is_word(".param") && !is_word(".reg")) error("expected .param or .reg in a parameter list, found " + show(sp));
  next();
  VarDecl v;
  v.space = std::string(sp.text.substr(1));
  v.ptx_line = sp.line;
  while (peek().kind == Token::Kind::Word && peek().text[0] == '.') {
    const Token& a = next();
    const std::string_view w = a.text;
    if (w == ".align") {
      const int64_t n = expect_int("alignment");
      if (n <= 0 || (n & (n - 1)) || n > (1 << 20)) error_at(a.line, ".align must be a power of two");
      int& slot = v.is_ptr ? v.ptr_align : v.align;
      if (slot) error_at(a.line, "two .align for one parameter");
      slot = static_cast<int>(n);
    } else if (w == ".ptr") {
      if (v.is_ptr || v.space != "param") error_at(a.line, "misplaced .ptr");
      v.is_ptr = true;
    } else if (v.is_ptr && is_state_space(w) && w != ".param" && w != ".reg") {
      if (!v.ptr_space.empty()) error_at(a.line, "two state spaces after .ptr");
      v.ptr_space = std::string(w.substr(1));
    } else if (w == ".v2" || w == ".v4" || w == ".v8") {
      if (v.vec) error_at(a.line, "two vector sizes for one parameter");
      v.vec = w[2] - '0';
    } else if (type_size(w.substr(1)) >= 0) {
      if (!v.type.empty()) error_at(a.line, "two types for one parameter");
      if (w == ".pred" && v.space != "reg") error_at(a.line, ".pred parameters must be .reg");
      v.type = std::string(w.substr(1));
    } else {
      error_at(a.line, "unknown parameter attribute " + std::string(w));
    }
  }
  if (v.type.empty()) error("missing type of a parameter");
  if (v.is_ptr && v.type != "u64" && v.type != "u32" && v.type != "b64" && v.type != "b32" && v.type != "s64" && v.type != "s32")
    error_at(v.ptx_line, ".ptr parameter of type ." + v.type);
  v.name = std::string(expect_name("a parameter name"));
  while (accept('[')) {
    if (accept(']')) { v.dims.push_back(0); continue; }
    const int64_t d = expect_int("array dimension");
    if (d <= 0) error_at(v.ptx_line, "array dimension must be positive");
    expect(']', "after the array dimension");
    v.dims.push_back(d);
  }
  return v;
}

// = scalar | { list }. Lists follow C's rules for nested aggregates: a braced sub-list fills one row of
// the next dimension (the rest of that row is zero), a bare element fills the next scalar slot.
void Parser::parse_initializer(VarDecl& v, int esize, const std::vector<int64_t>& dims) {
  std::vector<int64_t> shape = dims;
  if (v.vec) shape.push_back(v.vec);
  const int line = peek().line;
  if (shape.empty()) {
    v.init.assign(esize, 0);
    parse_init_element(v, esize, 0);
    return;
  }
  // sizes[l] = scalars in one element of level l (sizes[0] = the whole variable; 0 when unsized).
  std::vector<int64_t> sizes(shape.size() + 1, 1);
  for (size_t l = shape.size(); l-- > 0;) {
    const unsigned __int128 s = static_cast<unsigned __int128>(sizes[l + 1]) * shape[l];
    if (s * esize > kMaxInitBytes) error_at(line, "initialized variable " + v.name + " is too large");
    sizes[l] = static_cast<int64_t>(s);
  }
  const bool unsized = shape[0] == 0;
  v.init.assign(unsized ? 0 : sizes[0] * esize, 0);
  expect('{', "to open the initializer list");
  size_t cursor = 0;
  parse_init_level(v, esize, sizes, 0, 0, cursor, unsized ? SIZE_MAX : static_cast<size_t>(sizes[0]));
  expect('}', "to close the initializer list");
  if (unsized) {
    if (cursor == 0) error_at(line, "empty initializer for " + v.name + "[]");
    const size_t row = static_cast<size_t>(sizes[1]);
    const size_t n = (cursor + row - 1) / row;
    v.dims[0] = static_cast<int64_t>(n);
    v.init.resize(n * row * esize, 0);
  }
}

// Parses the elements of one { } list (the '{' already consumed) at `level`, writing scalars from
// `start`; `limit` is one past the last scalar this list may fill.
void Parser::parse_init_level(VarDecl& v, int esize, const std::vector<int64_t>& sizes, size_t level, size_t start,
                              size_t& cursor, size_t limit) {
  cursor = start;
  if (is_punct('}')) error("empty initializer list");
  do {
    if (is_punct('{')) {
      if (level + 2 >= sizes.size()) error("too many levels of braces in the initializer of " + v.name);
      const size_t row = static_cast<size_t>(sizes[level + 1]);
      if ((cursor - start) % row) error("braced initializer in the middle of a row of " + v.name);
      if (cursor + row > limit) error("too many initializers for " + v.name);
      next();
      size_t sub = 0;
      parse_init_level(v, esize, sizes, level + 1, cursor, sub, cursor + row);
      expect('}', "to close the initializer list");
      cursor += row;
    } else {
      if (cursor >= limit) error("too many initializers for " + v.name);
      if (limit == SIZE_MAX && (cursor + 1) * esize > kMaxInitBytes) error("initializer of " + v.name + " too large");
      if (v.init.size() < (cursor + 1) * esize) v.init.resize((cursor + 1) * esize, 0);
      parse_init_element(v, esize, cursor);
      ++cursor;
    }
  } while (accept(','));
}

// One scalar: an integer, a float, or an address: `sym`, `sym+N`, `generic(sym)`, `generic(sym)+N`.
void Parser::parse_init_element(VarDecl& v, int esize, size_t index) {
  const Token& t = peek();
  uint8_t* dst = v.init.data() + index * esize;
  if (t.kind == Token::Kind::Word && t.text[0] != '.') {
    VarDecl::SymbolInit si{index * esize, esize, "", false, 0};
    if (t.text == "generic" && is_punct('(', 1)) {
      next();
      next();
      si.generic = true;
      si.symbol = std::string(expect_name("a variable in generic()"));
      expect(')', "to close generic(");
    } else {
      next();
      si.symbol = std::string(t.text);
    }
    if (si.symbol[0] == '%') error_at(t.line, "a register in an initializer");
    if (esize < 4 || is_float_type(v.type)) error_at(t.line, "an address initializes a 32- or 64-bit integer element only");
    if (is_punct('+') || is_punct('-')) {
      const bool minus = next().text[0] == '-';
      const int64_t off = expect_int("address offset");
      si.addend = minus ? -off : off;
    }
    v.init_symbols.push_back(std::move(si));
    return;
  }
  const bool neg = accept('-');
  const Token& n = peek();
  if (n.kind != Token::Kind::Number) error("expected an initializer value, found " + show(n));
  next();
  uint64_t bits = 0;
  int fbits = 0;
  uint64_t out = 0;
  const bool fl = is_float_type(v.type);
  if (parse_integer(n.text, bits)) {
    if (fl) {
      // An integer written for a float element is its value (as in C).
      const double d = neg ? -static_cast<double>(bits) : static_cast<double>(bits);
      if (v.type == "f32") { const float f = static_cast<float>(d); uint32_t u; std::memcpy(&u, &f, 4); out = u; }
      else std::memcpy(&out, &d, 8);
    } else {
      // Must fit the element as a signed or an unsigned value.
      if (esize < 8) {
        const uint64_t umax = (1ull << (8 * esize)) - 1;
        const uint64_t nmax = 1ull << (8 * esize - 1);
        if (neg ? bits > nmax : bits > umax) error_at(n.line, "initializer " + std::string(n.text) + " does not fit ." + v.type);
      } else if (neg && bits > (1ull << 63)) {
        error_at(n.line, "initializer -" + std::string(n.text) + " does not fit ." + v.type);
      }
      out = neg ? 0 - bits : bits;
    }
  } else if (parse_float(n.text, bits, fbits)) {
    const bool hex_bits = n.text.size() > 1 && (n.text[1] == 'f' || n.text[1] == 'F' || n.text[1] == 'd' || n.text[1] == 'D');
    if (v.type == "f32") {
      if (fbits == 32) out = bits;
      else { double d; std::memcpy(&d, &bits, 8); const float f = static_cast<float>(d); uint32_t u; std::memcpy(&u, &f, 4); out = u; }
      if (neg) out ^= 0x80000000ull;
    } else if (v.type == "f64") {
      if (fbits == 64) out = bits;
      else { float f; const uint32_t u = static_cast<uint32_t>(bits); std::memcpy(&f, &u, 4); const double d = f; std::memcpy(&out, &d, 8); }
      if (neg) out ^= 0x8000000000000000ull;
    } else if (hex_bits && !neg && fbits == esize * 8) {
      out = bits;  // 0fXXXXXXXX for a 32-bit integer element, 0d... for 64-bit: the raw bits
    } else {
      error_at(n.line, "float initializer " + std::string(n.text) + " for a ." + v.type + " element");
    }
  } else {
    error_at(n.line, "malformed number '" + std::string(n.text) + "'");
  }
  // Little-endian; a .b128 element takes the value zero- or sign-extended from 64 bits.
  const uint8_t ext = neg && !fl ? 0xff : 0;
  for (int k = 0; k < esize; ++k) dst[k] = k < 8 ? static_cast<uint8_t>(out >> (8 * k)) : ext;
}

}  // namespace emu::ptx::detail
