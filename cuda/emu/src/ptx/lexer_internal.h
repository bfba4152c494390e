// dsv3-emu: the PTX lexer (private to src/ptx). Turns the module text into tokens over string_view,
// following the PTX ISA 9.0 "Syntax" chapter (identifiers, constants, comments); no copies, no regex.
// A Word is an identifier, directive or dotted mnemonic (`ld.global.nc.v4.u32`, `shared::cta`,
// `%tid.x`); a Number is anything starting with a digit (12, 0x1F, 12U, 0f3F800000, 1.5e-3, 9.0).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/ptx/ast.h"

namespace emu::ptx::detail {

struct Token {
  enum class Kind : uint8_t { Word, Number, String, Punct, End };
  Kind kind = Kind::End;
  std::string_view text;  // for String: the contents without the quotes (escapes left as written)
  int line = 0;
};

// Tokenizes the whole text (a few hundred thousand tokens for the largest module: cheaper than
// lazy lookahead and lets the parser look as far ahead as it likes).
std::vector<Token> tokenize(std::string_view text, const std::string& origin);

// Integer constant as PTX writes it: decimal, 0x hex, 0b binary, leading-0 octal, optional U suffix.
// Returns false when `s` is not one, or does not fit in 64 bits. The value keeps its 64-bit pattern.
bool parse_integer(std::string_view s, uint64_t& value);

// Float constant: 0fXXXXXXXX (bits = 32) or 0dXXXXXXXXXXXXXXXX (bits = 64), raw bits in `value`;
// a decimal literal with '.' or an exponent (1.5, 1e-3) gives the f64 bits (bits = 64).
bool parse_float(std::string_view s, uint64_t& value, int& bits);

[[noreturn]] void fail(const std::string& origin, int line, const std::string& msg);

}  // namespace emu::ptx::detail
