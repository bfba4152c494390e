// dsv3-emu: the PTX lexer and constant parsing (PTX ISA 9.0, 4.3 "Identifiers" and 4.5 "Constants").
// Comments (// and /* */) and whitespace are the only things dropped; any character PTX does not use
// is a ParseError with its line.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "src/ptx/lexer_internal.h"

namespace emu::ptx::detail {

void fail(const std::string& origin, int line, const std::string& msg) {
  throw ParseError(line, origin + ":" + std::to_string(line) + ": " + msg);
}

namespace {
inline bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
// Characters that continue an identifier. '.' is included so that a mnemonic with its modifiers, a
// directive and a special register such as %tid.x each come out as one word.
inline bool is_word_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '$' || c == '.'; }
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::vector<Token> tokenize(std::string_view s, const std::string& origin) {
  std::vector<Token> out;
  out.reserve(s.size() / 5 + 16);
  const size_t n = s.size();
  size_t i = 0;
  int line = 1;
  while (i < n) {
    const char c = s[i];
    if (c == '\n') { ++line; ++i; continue; }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') { ++i; continue; }
    if (c == '/' && i + 1 < n && s[i + 1] == '/') {
      while (i < n && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      const int start = line;
      i += 2;
      while (i + 1 < n && !(s[i] == '*' && s[i + 1] == '/')) {
        if (s[i] == '\n') ++line;
        ++i;
      }
      if (i + 1 >= n) fail(origin, start, "unterminated /* comment");
      i += 2;
      continue;
    }
    Token t;
    t.line = line;
    const size_t b = i;
    if (is_alpha(c) || c == '_' || c == '$' || c == '%' || c == '.') {
      ++i;
      // A word continues through identifier characters and "::" (state-space qualifiers such as
      // shared::cta, mbarrier::complete_tx::bytes); a single ':' ends it (labels).
      for (;;) {
        if (i < n && is_word_char(s[i])) { ++i; continue; }
        if (i + 2 < n && s[i] == ':' && s[i + 1] == ':' && is_word_char(s[i + 2])) { i += 2; continue; }
        break;
      }
      if (i - b == 1 && (c == '%' || c == '.')) fail(origin, line, std::string("stray '") + c + "'");
      t.kind = Token::Kind::Word;
      t.text = s.substr(b, i - b);
    } else if (is_digit(c)) {
      // Numbers: letters/digits/'.' (hex digits, prefixes, U suffix, fraction); a sign directly after
      // a decimal exponent belongs to the number (1.5e-3). Validity is checked by parse_integer/float.
      const bool prefixed = c == '0' && i + 1 < n && std::strchr("xXbBfFdD", s[i + 1]) != nullptr;
      ++i;
      while (i < n) {
        const char d = s[i];
        if (is_alpha(d) || is_digit(d) || d == '.' || d == '_') { ++i; continue; }
        if (!prefixed && (d == '+' || d == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E') && i + 1 < n &&
            is_digit(s[i + 1])) { i += 1; continue; }
        break;
      }
      t.kind = Token::Kind::Number;
      t.text = s.substr(b, i - b);
    } else if (c == '"') {
      ++i;
      while (i < n && s[i] != '"') {
        if (s[i] == '\n') fail(origin, line, "newline in string constant");
        if (s[i] == '\\' && i + 1 < n) ++i;
        ++i;
      }
      if (i >= n) fail(origin, line, "unterminated string constant");
      t.kind = Token::Kind::String;
      t.text = s.substr(b + 1, i - b - 1);
      ++i;
    } else if (std::strchr(",;{}[]()<>+-@!=:|", c) != nullptr && c != '\0') {
      t.kind = Token::Kind::Punct;
      t.text = s.substr(i, 1);
      ++i;
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unexpected character '%c' (0x%02x)", c >= 32 && c < 127 ? c : '?',
                    static_cast<unsigned char>(c));
      fail(origin, line, buf);
    }
    out.push_back(t);
  }
  Token end;
  end.kind = Token::Kind::End;
  end.line = line;
  out.push_back(end);
  return out;
}

bool parse_integer(std::string_view s, uint64_t& value) {
  if (s.empty()) return false;
  if (s.back() == 'U' || s.back() == 'u') s.remove_suffix(1);
  if (s.empty()) return false;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) { base = 16; s.remove_prefix(2); }
  else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) { base = 2; s.remove_prefix(2); }
  else if (s.size() > 1 && s[0] == '0') { base = 8; s.remove_prefix(1); }
  uint64_t v = 0;
  for (char c : s) {
    const int d = hex_value(c);
    if (d < 0 || d >= base) return false;
    const unsigned __int128 w = static_cast<unsigned __int128>(v) * base + d;
    if (w > UINT64_MAX) return false;
    v = static_cast<uint64_t>(w);
  }
  value = v;
  return true;
}

bool parse_float(std::string_view s, uint64_t& value, int& bits) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'f' || s[1] == 'F' || s[1] == 'd' || s[1] == 'D')) {
    // Hex bit patterns: exactly 8 digits for 0f, 16 for 0d (PTX ISA 4.5.2).
    const bool f = s[1] == 'f' || s[1] == 'F';
    const size_t want = f ? 8 : 16;
    if (s.size() - 2 != want) return false;
    uint64_t v = 0;
    for (size_t k = 2; k < s.size(); ++k) {
      const int d = hex_value(s[k]);
      if (d < 0) return false;
      v = v << 4 | static_cast<uint64_t>(d);
    }
    value = v;
    bits = f ? 32 : 64;
    return true;
  }
  // Decimal: digits, optional fraction, optional exponent; must have '.' or an exponent.
  size_t k = 0;
  bool digits = false, dot = false, exp = false;
  while (k < s.size() && is_digit(s[k])) { ++k; digits = true; }
  if (k < s.size() && s[k] == '.') {
    dot = true;
    ++k;
    while (k < s.size() && is_digit(s[k])) { ++k; digits = true; }
  }
  if (!digits) return false;
  if (k < s.size() && (s[k] == 'e' || s[k] == 'E')) {
    exp = true;
    ++k;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k >= s.size() || !is_digit(s[k])) return false;
    while (k < s.size() && is_digit(s[k])) ++k;
  }
  if (k != s.size() || (!dot && !exp) || s.size() > 62) return false;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  const double d = std::strtod(buf, nullptr);
  std::memcpy(&value, &d, sizeof d);
  bits = 64;
  return true;
}

}  // namespace emu::ptx::detail
