// dsv3-emu: the syntax tree of a PTX module, as written by nvcc 13 (PTX ISA 9.0) and by inline asm.
// The parser (parser.cc) builds it; the interpreter (src/interp) decodes it once into its own form.
// Pure syntax: no semantics are checked here beyond what the grammar needs. Every node keeps the PTX
// line it came from (for error messages and reports) and the last `.loc` seen before it (the .cu line).
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace emu::ptx {

// A syntax error, or a construct the parser does not know. `line` is 1-based in the PTX text.
struct ParseError : std::runtime_error {
  int line;
  ParseError(int line_, const std::string& msg) : std::runtime_error(msg), line(line_) {}
};

// Where an instruction came from: its PTX line, and the .cu position of the last `.loc` before it
// (file = index into Module::files, -1 when no .loc was seen in the function so far).
struct SourceLoc {
  int ptx_line = 0;
  int file = -1;
  int line = 0;
  int col = 0;
};

struct Operand {
  enum class Kind {
    Reg,      // %r12, %p3, %tmp, %SP; also a register inside a braced scope (inline asm)
    Special,  // %tid.x, %ctaid.y, %laneid, %clock64, %globaltimer, %dynamic_smem_size, ... (name = full text)
    Imm,      // integer immediate: 12, -3, 0x1F, 0b101, 077 (octal), 12U; value in `imm`
    FImm,     // float immediate 0f3F800000 (fbits = 32) or 0d3FF0000000000000 (fbits = 64); raw bits in `imm`
              // (a decimal float literal such as 1.5 is converted to f64 bits with fbits = 64)
    Symbol,   // a variable, function or label name used as a value: `mov.u64 %rd1, smem;`, `bra $L__BB0_2;`,
              // the callee of `call`, `param0` in a call's argument list; `mov.u64 %rd1, smem+8;` keeps 8 in `imm`
    Vec,      // { a, b, c, d }: elements in `elems` (each Reg, Imm, FImm or Sink)
    Addr,     // [base], [base+off], [base+-8], [imm]: base (Reg or Symbol name, empty for an absolute address)
              // in `name` with `base_kind`, byte offset in `imm`. A vector address [%r1, {%r2, %r3}] (tensor
              // coordinates) keeps the vector in `elems`.
    Sink,     // `_` (discarded result)
  };
  Kind kind = Kind::Reg;
  std::string name;      // Reg / Special / Symbol name, or the Addr base
  Kind base_kind = Kind::Reg;  // Addr only: Reg, Symbol, or Imm (absolute address; name empty)
  int64_t imm = 0;       // Imm value, FImm bits, Addr offset
  int fbits = 0;         // FImm: 32 or 64
  bool neg = false;      // a predicate operand written `!%p` (bar.red, selp-free predicate inputs, ...)
  bool pair = false;     // Vec only: `d|p`, the two destinations of setp / shfl.sync / ... (elems = {d, p})
  std::vector<Operand> elems;  // Vec elements; Addr: the coordinate vector, if any
};

struct Instr {
  std::string opcode;               // the whole mnemonic as written: "ld.global.nc.v4.u32"
  std::vector<std::string> parts;   // split on '.': {"ld", "global", "nc", "v4", "u32"}; "shared::cta" stays one part
  std::string guard;                // "@%p1" -> "%p1", "@!%p1" -> "%p1" with guard_neg; empty when unguarded
  bool guard_neg = false;
  std::vector<Operand> ops;         // in written order. call: [Vec of return params (may be empty, absent if
                                    // none), Symbol callee, Vec of argument params (absent if none), optional
                                    // Symbol prototype/target list]
  SourceLoc loc;
};

// `.reg .b32 %r<12>;` declares %r0..%r11 (count = 12); `.reg .pred p;` declares one (count = -1).
// `.reg .v4 .b32 %v;` has vec = 4. Also used for `.param` declared inside a call block.
struct RegDecl {
  std::string type;      // "b32", "pred", "f32", "u64", ...
  std::string name;      // "%r" for %r<12>, else the full name
  int count = -1;
  int vec = 0;
};

// A variable in a state space: module-level .global/.const/.shared, function-level .local/.shared,
// kernel and function parameters, and `.param` declared inside a function body (call arguments).
struct VarDecl {
  std::string space;     // "global", "const", "shared", "local", "param", "tex", ...
  std::string type;      // element type: "b8", "u32", "f32", "u64", "texref", ...
  std::string name;
  int align = 0;         // .align N (0 when absent: natural alignment of the type)
  int vec = 0;           // .v2 / .v4 element vector, 0 when absent
  std::vector<int64_t> dims;  // array dimensions; a `[]` dimension is 0 (extern shared, unsized params)
  bool is_extern = false, is_visible = false, is_weak = false, is_ptr = false;  // .ptr (param attribute)
  std::string ptr_space;  // .ptr.global / .ptr.shared ..., when is_ptr
  int ptr_align = 0;
  // Initializer, when present, as little-endian bytes of the whole variable (size = element size x count);
  // an element written as a symbol (`generic(var)`, `var`, `var+8`) is listed in init_symbols with the
  // byte offset of its element, the element size, and the addend.
  std::vector<uint8_t> init;
  struct SymbolInit { size_t offset; int size; std::string symbol; bool generic; int64_t addend; };
  std::vector<SymbolInit> init_symbols;
  int ptx_line = 0;
};

struct Statement {
  enum class Kind { Instr, Label, BlockBegin, BlockEnd, Reg, Var, BranchTargets };
  Kind kind = Kind::Instr;
  Instr instr;        // Kind::Instr
  std::string label;  // Kind::Label (name without the colon); Kind::BranchTargets: the list's name
  // Kind::BranchTargets: `tbl: .branchtargets L0, L1, ...;` (the targets of `brx.idx idx, tbl;`), in order
  std::vector<std::string> targets;
  RegDecl reg;        // Kind::Reg
  VarDecl var;        // Kind::Var (.local / .shared / .param inside a body)
  int ptx_line = 0;
};

struct Function {
  std::string name;
  bool is_entry = false;     // .entry (a kernel) vs .func
  bool is_visible = false, is_extern = false, is_weak = false;
  bool has_body = false;     // false for a prototype/declaration (`.extern .func ...;`)
  std::vector<VarDecl> params;  // in order
  std::vector<VarDecl> rets;    // .func return parameters
  std::vector<Statement> body;  // braces of the body itself are not included; nested { } are Block*
  // Performance-tuning directives; 0 (or empty) when absent.
  int maxntid[3] = {0, 0, 0}, reqntid[3] = {0, 0, 0};
  int minnctapersm = 0, maxnreg = 0, maxnctapersm = 0;
  int reqnctapercluster[3] = {0, 0, 0};
  bool explicitcluster = false, noreturn = false;
  int maxclusterrank = 0;
  int ptx_line = 0;
};

struct Module {
  int version_major = 0, version_minor = 0;
  std::vector<std::string> target;   // ".target sm_90a" -> {"sm_90a"}; may carry "texmode_independent" etc.
  int address_size = 64;
  std::vector<std::string> files;    // `.file N "path"` -> files[N] = path ("" for unused indices)
  std::vector<VarDecl> globals;      // module-level variables in order of declaration
  std::vector<Function> functions;   // in order; a function declared then defined appears once, defined
  std::string origin;                // a name for messages: the fatbinary entry or the .ptx path
};

// Parses a whole module. Throws ParseError (with the line) on anything it does not understand: nothing
// is skipped silently. `origin` names the text in messages.
Module parse(std::string_view text, const std::string& origin);

}  // namespace emu::ptx
