// dsv3-emu: unit test of the PTX parser (src/ptx, ast.h): hand-written snippets for each construct of
// PTX ISA 9.0 that nvcc 13 and the project's inline asm write, checked field by field; malformed input
// must throw ParseError with the right line; and, when EMU_PTX_DIR names a folder of .ptx files (see
// test/gen-ptx.sh), every real module of cuda/*.cu must parse with plausible counts.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "src/ptx/ast.h"
#include "test/unit/check.h"

using namespace emu::ptx;
using K = Operand::Kind;

namespace {

const std::string kHead = ".version 9.0\n.target sm_90a\n.address_size 64\n";  // 3 lines

Module parse_ok(const std::string& text) {
  try {
    return parse(text, "snippet");
  } catch (const ParseError& e) {
    std::fprintf(stderr, "unexpected ParseError: %s\n", e.what());
    CHECK(!"parse failed");
    return Module{};
  }
}

// The text must be refused, at `line`.
void check_error(const std::string& text, int line, const char* what) {
  try {
    parse(text, "bad");
    std::fprintf(stderr, "not refused: %s\n", what);
    CHECK(!"malformed input accepted");
  } catch (const ParseError& e) {
    if (e.line != line) std::fprintf(stderr, "%s: error at line %d, expected %d (%s)\n", what, e.line, line, e.what());
    CHECK_EQ(e.line, line);
    CHECK(std::strstr(e.what(), "bad:") != nullptr);  // the message names the origin and line
  }
}

const Instr* nth_instr(const Function& f, int n) {
  for (const Statement& s : f.body)
    if (s.kind == Statement::Kind::Instr && n-- == 0) return &s.instr;
  return nullptr;
}

uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
uint64_t f64_bits(double d) { uint64_t u; std::memcpy(&u, &d, 8); return u; }

void test_module_header() {
  const Module m = parse_ok(
      "// a comment\n"
      "/* block\n comment */ .version 9.0\n"
      ".target sm_90a, texmode_independent\n"
      ".address_size 64\n"
      "\t.file\t1 \"/work/main/cuda/a.cu\"\n"
      "\t.file\t3 \"/x/b.cuh\", 1700000000, 1234\n");
  CHECK_EQ(m.version_major, 9);
  CHECK_EQ(m.version_minor, 0);
  CHECK_EQ(m.target.size(), 2u);
  CHECK_EQ(m.target[0], "sm_90a");
  CHECK_EQ(m.target[1], "texmode_independent");
  CHECK_EQ(m.address_size, 64);
  CHECK_EQ(m.files.size(), 4u);
  CHECK_EQ(m.files[0], "");
  CHECK_EQ(m.files[1], "/work/main/cuda/a.cu");
  CHECK_EQ(m.files[3], "/x/b.cuh");
  CHECK_EQ(m.origin, "snippet");
  CHECK(m.functions.empty());
}

void test_globals() {
  const Module m = parse_ok(kHead +
      ".global .align 16 .b8 tab[6] = {1, 2, 0xFF, 0b11, 010, 255U};\n"           // 4
      ".const .align 4 .u32 cnt = -1;\n"                                          // 5
      ".global .f32 fs[3] = {0f3F800000, 1.5, 2};\n"                              // 6
      ".global .f64 d = 0d3FF0000000000000;\n"                                     // 7
      ".global .align 8 .u64 ptrs[3] = {generic(tab), cnt+4, 0};\n"                 // 8
      ".global .u16 mat[2][3] = {{1, 2}, {4, 5, 6}};\n"                             // 9
      ".global .s32 inf[] = {1, -2, 3};\n"                                          // 10
      ".extern .shared .align 16 .b8 smem[];\n"                                     // 11
      ".visible .global .v2 .u32 pair = {7, 8};\n"                                  // 12
      ".shared .align 8 .b64 a, b[4];\n"                                            // 13
      ".weak .global .s8 w = -128;\n");                                             // 14
  CHECK_EQ(m.globals.size(), 12u);
  if (m.globals.size() != 12) return;
  const VarDecl& tab = m.globals[0];
  CHECK_EQ(tab.space, "global");
  CHECK_EQ(tab.type, "b8");
  CHECK_EQ(tab.name, "tab");
  CHECK_EQ(tab.align, 16);
  CHECK_EQ(tab.dims.size(), 1u);
  CHECK_EQ(tab.dims[0], 6);
  CHECK_EQ(tab.ptx_line, 4);
  CHECK(tab.init == (std::vector<uint8_t>{1, 2, 0xFF, 3, 8, 255}));
  const VarDecl& cnt = m.globals[1];
  CHECK_EQ(cnt.space, "const");
  CHECK(cnt.dims.empty());
  CHECK(cnt.init == (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF}));
  const VarDecl& fs = m.globals[2];
  CHECK_EQ(fs.init.size(), 12u);
  uint32_t u[3];
  std::memcpy(u, fs.init.data(), 12);
  CHECK_EQ(u[0], f32_bits(1.0f));
  CHECK_EQ(u[1], f32_bits(1.5f));
  CHECK_EQ(u[2], f32_bits(2.0f));
  uint64_t dd;
  std::memcpy(&dd, m.globals[3].init.data(), 8);
  CHECK_EQ(dd, f64_bits(1.0));
  const VarDecl& ptrs = m.globals[4];
  CHECK_EQ(ptrs.init.size(), 24u);
  CHECK(ptrs.init == std::vector<uint8_t>(24, 0));  // symbols are filled in by the loader
  CHECK_EQ(ptrs.init_symbols.size(), 2u);
  if (ptrs.init_symbols.size() == 2) {
    CHECK_EQ(ptrs.init_symbols[0].offset, 0u);
    CHECK_EQ(ptrs.init_symbols[0].size, 8);
    CHECK_EQ(ptrs.init_symbols[0].symbol, "tab");
    CHECK(ptrs.init_symbols[0].generic);
    CHECK_EQ(ptrs.init_symbols[0].addend, 0);
    CHECK_EQ(ptrs.init_symbols[1].offset, 8u);
    CHECK_EQ(ptrs.init_symbols[1].symbol, "cnt");
    CHECK(!ptrs.init_symbols[1].generic);
    CHECK_EQ(ptrs.init_symbols[1].addend, 4);
  }
  const VarDecl& mat = m.globals[5];  // rows {1,2,0} {4,5,6}, u16 little-endian
  CHECK(mat.dims == (std::vector<int64_t>{2, 3}));
  CHECK(mat.init == (std::vector<uint8_t>{1, 0, 2, 0, 0, 0, 4, 0, 5, 0, 6, 0}));
  const VarDecl& inf = m.globals[6];
  CHECK(inf.dims == std::vector<int64_t>{3});
  CHECK(inf.init == (std::vector<uint8_t>{1, 0, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0}));
  const VarDecl& smem = m.globals[7];
  CHECK(smem.is_extern);
  CHECK_EQ(smem.space, "shared");
  CHECK(smem.dims == std::vector<int64_t>{0});
  CHECK(smem.init.empty());
  const VarDecl& pair = m.globals[8];
  CHECK(pair.is_visible);
  CHECK_EQ(pair.vec, 2);
  CHECK(pair.init == (std::vector<uint8_t>{7, 0, 0, 0, 8, 0, 0, 0}));
  CHECK_EQ(m.globals[9].name, "a");
  CHECK_EQ(m.globals[10].name, "b");
  CHECK_EQ(m.globals[10].align, 8);
  CHECK(m.globals[10].dims == std::vector<int64_t>{4});
  CHECK_EQ(m.globals[10].ptx_line, 13);
  CHECK(m.globals[11].is_weak);
  CHECK(m.globals[11].init == std::vector<uint8_t>{0x80});
}

// A kernel as nvcc writes it, with performance directives, scoped inline-asm blocks and .loc.
const char* kKernel =
    ".visible .entry k(\n"                                                          // 4
    "\t.param .u64 .ptr .global .align 16 k_param_0,\n"                            // 5
    "\t.param .align 8 .b8 k_param_1[24],\n"                                        // 6
    "\t.param .u32 k_param_2\n"                                                     // 7
    ")\n"                                                                            // 8
    ".maxntid 256, 1, 1\n"                                                          // 9
    ".minnctapersm 2\n"                                                             // 10
    ".reqnctapercluster 2, 1, 1\n"                                                  // 11
    ".explicitcluster\n"                                                            // 12
    ".maxnreg 128\n"                                                                // 13
    "{\n"                                                                            // 14
    "\t.reg .pred \t%p<3>;\n"                                                        // 15
    "\t.reg .b32 \t%r<20>;\n"                                                        // 16
    "\t.reg .b64 \t%rd<9>;\n"                                                        // 17
    "\t.reg .f32 a, b;\n"                                                            // 18
    "\t.reg .v4 .b32 %v;\n"                                                          // 19
    "\t.local .align 8 .b8 \t__local_depot0[40];\n"                                 // 20
    "\t.shared .align 4 .f32 red_$_0;\n"                                             // 21
    "\t.loc\t1 58 3\n"                                                               // 22
    "\tld.param.u64 \t%rd1, [k_param_0];\n"                                          // 23
    "\tld.param.u32 %r1, [k_param_1+8];\n"                                           // 24
    "\tmov.u32 \t%r2, %tid.x;\n"                                                     // 25
    "$L__BB0_1:\n"                                                                    // 26
    "\t.loc\t2 104 5, function_name $L__info_string0, inlined_at 1 75 7\n"          // 27
    "\t@%p1 bra \t$L__BB0_1;\n"                                                      // 28
    "\t@!%p2 st.global.v4.u32 [%rd1+16], {%r1, %r2, %r3, %r4};\n"                   // 29
    "\t// begin inline asm\n"                                                        // 30
    "\t{\n"                                                                          // 31
    ".reg .pred done;\n"                                                              // 32
    "WAIT_0:\n"                                                                       // 33
    "mbarrier.try_wait.parity.shared::cta.b64 done, [%r5], %r6;\n"                  // 34
    "@!done bra WAIT_0;\n"                                                            // 35
    "}\n"                                                                             // 36
    "\t{ .reg .b64 %tmp;\n"                                                           // 37
    "\t  cvta.shared.u64 \t%rd2, %tmp; }\n"                                          // 38
    "\tmov.b64 \t{%r7, _}, %rd2;\n"                                                  // 39
    "\tshfl.sync.up.b32 \t%r8|%p1, %r9, 1, 0, -1;\n"                                 // 40
    "\tcp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%r10], [%rd3, {%r11, %r12}], [%r13];\n"  // 41
    "\tbar.red.and.pred \t%p2, 0, !%p1;\n"                                           // 42
    "\t.pragma \"nounroll\";\n"                                                      // 43
    "\tret;\n"                                                                        // 44
    "\n"                                                                              // 45
    "}\n"                                                                             // 46
    "\t.file\t1 \"/work/main/cuda/a.cu\"\n"                                          // 47
    "\t.file\t2 \"/work/main/cuda/b.cuh\"\n";                                         // 48

void test_kernel() {
  const Module m = parse_ok(kHead + kKernel);
  CHECK_EQ(m.functions.size(), 1u);
  if (m.functions.size() != 1) return;
  const Function& f = m.functions[0];
  CHECK_EQ(f.name, "k");
  CHECK(f.is_entry);
  CHECK(f.is_visible);
  CHECK(f.has_body);
  CHECK_EQ(f.ptx_line, 4);
  CHECK_EQ(f.maxntid[0], 256);
  CHECK_EQ(f.maxntid[1], 1);
  CHECK_EQ(f.maxntid[2], 1);
  CHECK_EQ(f.reqntid[0], 0);
  CHECK_EQ(f.minnctapersm, 2);
  CHECK_EQ(f.reqnctapercluster[0], 2);
  CHECK(f.explicitcluster);
  CHECK_EQ(f.maxnreg, 128);
  CHECK_EQ(f.params.size(), 3u);
  if (f.params.size() == 3) {
    const VarDecl& p0 = f.params[0];
    CHECK_EQ(p0.space, "param");
    CHECK_EQ(p0.type, "u64");
    CHECK_EQ(p0.name, "k_param_0");
    CHECK(p0.is_ptr);
    CHECK_EQ(p0.ptr_space, "global");
    CHECK_EQ(p0.ptr_align, 16);
    CHECK_EQ(p0.align, 0);
    CHECK_EQ(f.params[1].align, 8);
    CHECK_EQ(f.params[1].type, "b8");
    CHECK(f.params[1].dims == std::vector<int64_t>{24});
    CHECK(!f.params[2].is_ptr);
    CHECK_EQ(f.params[2].ptx_line, 7);
  }
  // Declarations.
  const std::vector<Statement>& b = f.body;
  CHECK(b.size() > 10);
  if (b.size() < 10) return;
  CHECK(b[0].kind == Statement::Kind::Reg);
  CHECK_EQ(b[0].reg.type, "pred");
  CHECK_EQ(b[0].reg.name, "%p");
  CHECK_EQ(b[0].reg.count, 3);
  CHECK_EQ(b[0].ptx_line, 15);
  CHECK_EQ(b[3].reg.name, "a");
  CHECK_EQ(b[3].reg.count, -1);
  CHECK_EQ(b[4].reg.name, "b");
  CHECK_EQ(b[4].reg.type, "f32");
  CHECK_EQ(b[5].reg.vec, 4);
  CHECK_EQ(b[5].reg.type, "b32");
  CHECK(b[6].kind == Statement::Kind::Var);
  CHECK_EQ(b[6].var.space, "local");
  CHECK_EQ(b[6].var.name, "__local_depot0");
  CHECK(b[6].var.dims == std::vector<int64_t>{40});
  CHECK_EQ(b[7].var.space, "shared");
  CHECK_EQ(b[7].var.name, "red_$_0");

  const Instr* i0 = nth_instr(f, 0);  // ld.param.u64 %rd1, [k_param_0];
  CHECK(i0 && i0->opcode == "ld.param.u64");
  if (!i0) return;
  CHECK(i0->parts == (std::vector<std::string>{"ld", "param", "u64"}));
  CHECK_EQ(i0->loc.ptx_line, 23);
  CHECK_EQ(i0->loc.file, 1);
  CHECK_EQ(i0->loc.line, 58);
  CHECK_EQ(i0->loc.col, 3);
  CHECK(i0->guard.empty());
  CHECK_EQ(i0->ops.size(), 2u);
  CHECK(i0->ops[0].kind == K::Reg);
  CHECK_EQ(i0->ops[0].name, "%rd1");
  CHECK(i0->ops[1].kind == K::Addr);
  CHECK(i0->ops[1].base_kind == K::Symbol);
  CHECK_EQ(i0->ops[1].name, "k_param_0");
  CHECK_EQ(i0->ops[1].imm, 0);
  const Instr* i1 = nth_instr(f, 1);
  CHECK_EQ(i1->ops[1].name, "k_param_1");
  CHECK_EQ(i1->ops[1].imm, 8);
  const Instr* i2 = nth_instr(f, 2);  // mov.u32 %r2, %tid.x
  CHECK(i2->ops[1].kind == K::Special);
  CHECK_EQ(i2->ops[1].name, "%tid.x");
  // The label, then the guarded branch under the inlined .loc (the primary position is kept).
  bool label = false;
  for (const Statement& s : b)
    if (s.kind == Statement::Kind::Label && s.label == "$L__BB0_1") { label = true; CHECK_EQ(s.ptx_line, 26); }
  CHECK(label);
  const Instr* i3 = nth_instr(f, 3);
  CHECK_EQ(i3->opcode, "bra");
  CHECK_EQ(i3->guard, "%p1");
  CHECK(!i3->guard_neg);
  CHECK(i3->ops[0].kind == K::Symbol);
  CHECK_EQ(i3->ops[0].name, "$L__BB0_1");
  CHECK_EQ(i3->loc.file, 2);
  CHECK_EQ(i3->loc.line, 104);
  CHECK_EQ(i3->loc.col, 5);
  CHECK_EQ(i3->loc.ptx_line, 28);
  const Instr* i4 = nth_instr(f, 4);  // @!%p2 st.global.v4.u32 [%rd1+16], {...}
  CHECK_EQ(i4->guard, "%p2");
  CHECK(i4->guard_neg);
  CHECK(i4->ops[0].kind == K::Addr);
  CHECK(i4->ops[0].base_kind == K::Reg);
  CHECK_EQ(i4->ops[0].name, "%rd1");
  CHECK_EQ(i4->ops[0].imm, 16);
  CHECK(i4->ops[1].kind == K::Vec);
  CHECK_EQ(i4->ops[1].elems.size(), 4u);
  CHECK_EQ(i4->ops[1].elems[3].name, "%r4");
  CHECK(!i4->ops[1].pair);
  // The inline asm block: BlockBegin, its own register, a label, and `done` resolved as a register.
  size_t k = 0;
  while (k < b.size() && b[k].kind != Statement::Kind::BlockBegin) ++k;
  CHECK(k + 5 < b.size());
  if (k + 5 >= b.size()) return;
  CHECK_EQ(b[k].ptx_line, 31);
  CHECK(b[k + 1].kind == Statement::Kind::Reg);
  CHECK_EQ(b[k + 1].reg.name, "done");
  CHECK(b[k + 2].kind == Statement::Kind::Label);
  CHECK_EQ(b[k + 2].label, "WAIT_0");
  const Instr& tw = b[k + 3].instr;
  CHECK_EQ(tw.opcode, "mbarrier.try_wait.parity.shared::cta.b64");
  CHECK(tw.parts == (std::vector<std::string>{"mbarrier", "try_wait", "parity", "shared::cta", "b64"}));
  CHECK(tw.ops[0].kind == K::Reg);
  CHECK_EQ(tw.ops[0].name, "done");
  const Instr& br = b[k + 4].instr;
  CHECK_EQ(br.guard, "done");
  CHECK(br.guard_neg);
  CHECK(br.ops[0].kind == K::Symbol);
  CHECK(b[k + 5].kind == Statement::Kind::BlockEnd);
  CHECK_EQ(b[k + 5].ptx_line, 36);
  // `{ .reg .b64 %tmp; cvta ...; }` on two lines: the closing brace after the instruction.
  CHECK(b[k + 6].kind == Statement::Kind::BlockBegin);
  CHECK_EQ(b[k + 7].reg.name, "%tmp");
  CHECK_EQ(b[k + 8].instr.ops[1].name, "%tmp");
  CHECK(b[k + 9].kind == Statement::Kind::BlockEnd);
  CHECK_EQ(b[k + 9].ptx_line, 38);
  const Instr& mv = b[k + 10].instr;  // mov.b64 {%r7, _}, %rd2
  CHECK(mv.ops[0].kind == K::Vec);
  CHECK(mv.ops[0].elems[1].kind == K::Sink);
  const Instr& sh = b[k + 11].instr;  // shfl ... %r8|%p1, %r9, 1, 0, -1
  CHECK(sh.ops[0].kind == K::Vec);
  CHECK(sh.ops[0].pair);
  CHECK_EQ(sh.ops[0].elems.size(), 2u);
  CHECK_EQ(sh.ops[0].elems[1].name, "%p1");
  CHECK(sh.ops[2].kind == K::Imm);
  CHECK_EQ(sh.ops[2].imm, 1);
  CHECK_EQ(sh.ops[4].imm, -1);
  const Instr& tma = b[k + 12].instr;
  CHECK_EQ(tma.ops.size(), 3u);
  CHECK(tma.ops[1].kind == K::Addr);
  CHECK_EQ(tma.ops[1].name, "%rd3");
  CHECK_EQ(tma.ops[1].elems.size(), 2u);
  CHECK_EQ(tma.ops[1].elems[1].name, "%r12");
  const Instr& red = b[k + 13].instr;
  CHECK(red.ops[2].neg);
  CHECK_EQ(red.ops[2].name, "%p1");
  CHECK(red.ops[2].kind == K::Reg);
  CHECK_EQ(b[k + 14].instr.opcode, "ret");  // the pragma leaves no statement
  CHECK(b[k + 14].instr.ops.empty());
  CHECK_EQ(b.size(), k + 15);
  // Every instruction has its line and a resolved file.
  for (const Statement& s : b)
    if (s.kind == Statement::Kind::Instr) {
      CHECK(s.instr.loc.ptx_line > 0);
      CHECK(s.instr.loc.file >= 1 && static_cast<size_t>(s.instr.loc.file) < m.files.size());
    }
}

void test_operands() {
  const Module m = parse_ok(kHead +
      ".global .u32 g[4];\n"                                                        // 4
      ".entry e()\n{\n"                                                              // 5-6
      ".reg .b32 %r<4>;\n.reg .b64 %rd<4>;\n.reg .f32 %f<3>;\n.reg .f64 %fd<2>;\n"  // 7-10
      "mov.u32 %r1, 0x1F;\n"                                                         // 11
      "mov.u32 %r1, 077;\n"                                                          // 12
      "mov.u32 %r1, 0b101;\n"                                                        // 13
      "mov.u32 %r1, 12U;\n"                                                          // 14
      "mov.u32 %r1, -2147483648;\n"                                                  // 15
      "mov.b64 %rd1, 0xFFFFFFFFFFFFFFFF;\n"                                          // 16
      "mov.f32 %f1, 0f3F800000;\n"                                                   // 17
      "mov.f64 %fd1, 0dBFF0000000000000;\n"                                          // 18
      "mov.f64 %fd1, 1.5;\n"                                                         // 19
      "mov.u64 %rd1, g;\n"                                                           // 20
      "ld.global.u32 %r1, [g+8];\n"                                                  // 21
      "ld.global.u32 %r1, [%rd1+-4];\n"                                              // 22
      "ld.global.u32 %r1, [%rd1-4];\n"                                               // 23
      "ld.global.u32 %r1, [0x100];\n"                                                // 24
      "mov.u32 %r1, %laneid;\n"                                                      // 25
      "mov.u64 %rd1, %clock64;\n"                                                    // 26
      "mov.u64 %rd1, %globaltimer;\n"                                                // 27
      "mov.u32 %r1, %lanemask_lt;\n"                                                 // 28
      "mov.u32 %r1, %dynamic_smem_size;\n"                                           // 29
      "mov.u32 %r1, %cluster_ctarank;\n"                                             // 30
      "mov.u32 %r1, %nctaid.z;\n"                                                    // 31
      "mov.u32 %r1, %smid;\n"                                                        // 32
      "mov.u32 %r1, %warpid;\n"                                                      // 33
      "mov.u32 %r1, %clock;\n"                                                       // 34
      "mov.u32 %r1, %ctaid.y;\n"                                                     // 35
      "mov.f32 %f1, -0f3F800000;\n"                                                  // 36
      "mov.f64 %fd1, 1e-3;\n"                                                        // 37
      "ret;\n}\n");
  if (m.functions.size() != 1) { CHECK(!"no function"); return; }
  const Function& f = m.functions[0];
  auto op = [&](int n, int k) -> const Operand& { return nth_instr(f, n)->ops[k]; };
  CHECK(op(0, 1).kind == K::Imm);
  CHECK_EQ(op(0, 1).imm, 31);
  CHECK_EQ(op(1, 1).imm, 63);
  CHECK_EQ(op(2, 1).imm, 5);
  CHECK_EQ(op(3, 1).imm, 12);
  CHECK_EQ(op(4, 1).imm, -2147483648LL);
  CHECK_EQ(op(5, 1).imm, -1);
  CHECK(op(6, 1).kind == K::FImm);
  CHECK_EQ(op(6, 1).fbits, 32);
  CHECK_EQ(op(6, 1).imm, 0x3F800000);
  CHECK_EQ(op(7, 1).fbits, 64);
  CHECK_EQ(static_cast<uint64_t>(op(7, 1).imm), f64_bits(-1.0));
  CHECK_EQ(op(8, 1).fbits, 64);
  CHECK_EQ(static_cast<uint64_t>(op(8, 1).imm), f64_bits(1.5));
  CHECK(op(9, 1).kind == K::Symbol);
  CHECK_EQ(op(9, 1).name, "g");
  CHECK(op(10, 1).base_kind == K::Symbol);
  CHECK_EQ(op(10, 1).imm, 8);
  CHECK_EQ(op(11, 1).imm, -4);
  CHECK_EQ(op(12, 1).imm, -4);
  CHECK(op(13, 1).base_kind == K::Imm);
  CHECK(op(13, 1).name.empty());
  CHECK_EQ(op(13, 1).imm, 256);
  const char* specials[] = {"%laneid", "%clock64", "%globaltimer", "%lanemask_lt", "%dynamic_smem_size",
                            "%cluster_ctarank", "%nctaid.z", "%smid", "%warpid", "%clock", "%ctaid.y"};
  for (int s = 0; s < 11; ++s) {
    CHECK(op(14 + s, 1).kind == K::Special);
    CHECK_EQ(op(14 + s, 1).name, specials[s]);
  }
  CHECK_EQ(op(25, 1).imm, 0xBF800000);
  CHECK_EQ(static_cast<uint64_t>(op(26, 1).imm), f64_bits(1e-3));
}

void test_calls_and_funcs() {
  const Module m = parse_ok(kHead +
      ".func  (.param .align 8 .b8 func_retval0[16]) slow\n"                        // 4
      "(\n\t.param .b64 slow_param_0\n)\n;\n"                                         // 5-8
      ".extern .func ext_fn (.param .b32 a);\n"                                      // 9
      ".weak .func wk () .noreturn;\n"                                              // 10
      ".visible .entry k()\n{\n"                                                     // 11-12
      ".reg .b64 %rd<4>;\n.reg .b32 %r<4>;\n"                                        // 13-14
      "\t{ // callseq 0, 0\n"                                                         // 15
      "\t.param .b64 param0;\n"                                                       // 16
      "\tst.param.b64 \t[param0], %rd1;\n"                                           // 17
      "\t.param .align 8 .b8 retval0[16];\n"                                         // 18
      "\tcall.uni (retval0), \n\tslow, \n\t(\n\tparam0\n\t);\n"                      // 19-23
      "\tld.param.f64 \t%rd2, [retval0+0];\n"                                        // 24
      "\t} // callseq 0\n"                                                            // 25
      "\tcall ext_fn, (%r1);\n"                                                       // 26
      "\tcall (%r2), ext_fn;\n"                                                       // 27
      "\tcall.uni wk;\n"                                                              // 28
      "proto: .callprototype (.param .b32 _) _ (.param .b32 _);\n"                  // 29
      "\tcall (%r2), %rd3, (%r1), proto;\n"                                           // 30
      "\tret;\n}\n"                                                                   // 31-32
      ".func  (.param .align 8 .b8 func_retval0[16]) slow(\n"                        // 33
      "\t.param .b64 slow_param_0\n)\n{\n"                                            // 34-36
      ".local .align 8 .b8 __local_depot1[40];\n.reg .b64 %SP;\n"                    // 37-38
      "\tst.param.b64 [func_retval0+0], %SP;\n\tret;\n}\n");                         // 39-41
  CHECK_EQ(m.functions.size(), 4u);
  if (m.functions.size() != 4) return;
  const Function& slow = m.functions[0];  // declared first, defined last: one entry, the definition
  CHECK_EQ(slow.name, "slow");
  CHECK(!slow.is_entry);
  CHECK(slow.has_body);
  CHECK_EQ(slow.ptx_line, 33);
  CHECK_EQ(slow.rets.size(), 1u);
  CHECK_EQ(slow.rets[0].name, "func_retval0");
  CHECK_EQ(slow.rets[0].align, 8);
  CHECK(slow.rets[0].dims == std::vector<int64_t>{16});
  CHECK_EQ(slow.params.size(), 1u);
  CHECK_EQ(slow.params[0].name, "slow_param_0");
  const Function& ext = m.functions[1];
  CHECK(ext.is_extern);
  CHECK(!ext.has_body);
  CHECK_EQ(ext.params[0].type, "b32");
  const Function& wk = m.functions[2];
  CHECK(wk.is_weak);
  CHECK(wk.noreturn);
  CHECK(wk.params.empty());
  CHECK(!wk.has_body);
  const Function& k = m.functions[3];
  CHECK(k.is_entry);
  const Instr* c0 = nth_instr(k, 1);
  CHECK_EQ(c0->opcode, "call.uni");
  CHECK_EQ(c0->loc.ptx_line, 19);
  CHECK_EQ(c0->ops.size(), 3u);
  if (c0->ops.size() == 3) {
    CHECK(c0->ops[0].kind == K::Vec);
    CHECK_EQ(c0->ops[0].elems.size(), 1u);
    CHECK(c0->ops[0].elems[0].kind == K::Symbol);
    CHECK_EQ(c0->ops[0].elems[0].name, "retval0");
    CHECK(c0->ops[1].kind == K::Symbol);
    CHECK_EQ(c0->ops[1].name, "slow");
    CHECK(c0->ops[2].kind == K::Vec);
    CHECK_EQ(c0->ops[2].elems[0].name, "param0");
  }
  // The call block's .param declarations are Var statements inside the block.
  int params = 0;
  for (const Statement& s : k.body)
    if (s.kind == Statement::Kind::Var && s.var.space == "param") ++params;
  CHECK_EQ(params, 2);
  const Instr* c1 = nth_instr(k, 3);  // call ext_fn, (%r1);
  CHECK_EQ(c1->ops.size(), 2u);
  CHECK(c1->ops[0].kind == K::Symbol);
  CHECK(c1->ops[1].kind == K::Vec);
  CHECK(c1->ops[1].elems[0].kind == K::Reg);
  const Instr* c2 = nth_instr(k, 4);  // call (%r2), ext_fn;
  CHECK_EQ(c2->ops.size(), 2u);
  CHECK(c2->ops[0].kind == K::Vec);
  CHECK_EQ(c2->ops[1].name, "ext_fn");
  const Instr* c3 = nth_instr(k, 5);  // call.uni wk;
  CHECK_EQ(c3->ops.size(), 1u);
  CHECK_EQ(c3->ops[0].name, "wk");
  const Instr* c4 = nth_instr(k, 6);  // call (%r2), %rd3, (%r1), proto;
  CHECK_EQ(c4->ops.size(), 4u);
  CHECK(c4->ops[1].kind == K::Reg);
  CHECK(c4->ops[3].kind == K::Symbol);
  CHECK_EQ(c4->ops[3].name, "proto");
  for (const Statement& s : k.body) CHECK(s.kind != Statement::Kind::Label);  // proto: is no label
  CHECK_EQ(slow.body.size(), 4u);
  CHECK_EQ(slow.body[0].var.space, "local");
  CHECK(slow.body[2].instr.ops[0].base_kind == K::Symbol);
  CHECK_EQ(slow.body[2].instr.ops[0].name, "func_retval0");
  CHECK(slow.body[2].instr.loc.file == -1);  // no .loc in this function
}

// `tbl: .branchtargets L0, L1, ...;` (the label list of brx.idx) is a BranchTargets statement holding the
// labels in order; brx.idx names it as a Symbol operand. Malformed lists are refused at their line.
void test_branchtargets() {
  const Module m = parse_ok(kHead +
                            ".visible .entry k()\n"   // line 4
                            "{\n"
                            ".reg .u32 %r<2>;\n"
                            "L0: mov.u32 %r1, 1;\n"
                            "L1: mov.u32 %r1, 2;\n"
                            "ts: .branchtargets L0, L1,\n"  // line 9
                            "  L0;\n"
                            "brx.idx.uni %r0, ts;\n"
                            "}\n");
  const Function& k = m.functions.at(0);
  int n = 0;
  for (const Statement& s : k.body) {
    if (s.kind != Statement::Kind::BranchTargets) continue;
    ++n;
    CHECK_EQ(s.label, "ts");
    CHECK_EQ(s.ptx_line, 9);
    CHECK_EQ(s.targets.size(), 3u);
    if (s.targets.size() == 3) {
      CHECK_EQ(s.targets[0], "L0");
      CHECK_EQ(s.targets[1], "L1");
      CHECK_EQ(s.targets[2], "L0");
    }
  }
  CHECK_EQ(n, 1);
  for (const Statement& s : k.body) CHECK(!(s.kind == Statement::Kind::Label && s.label == "ts"));  // no label
  const Instr* b = nth_instr(k, 2);
  CHECK(b != nullptr);
  if (b) {
    CHECK_EQ(b->opcode, "brx.idx.uni");
    CHECK_EQ(b->ops.size(), 2u);
    CHECK(b->ops[1].kind == K::Symbol);
    CHECK_EQ(b->ops[1].name, "ts");
  }
  check_error(kHead + ".entry k()\n{\nts: .branchtargets L0, ;\n}\n", 6, ".branchtargets with an empty entry");
  check_error(kHead + ".entry k()\n{\nL0: ret;\nts: .branchtargets L0\n}\n", 8, ".branchtargets without ';'");
}

// Old-style .reg parameters are registers of the body; performance directives' defaults.
void test_reg_params() {
  const Module m = parse_ok(kHead +
      ".func (.reg .b32 rv) f (.reg .b32 a, .reg .pred q)\n{\n"
      "@q add.s32 rv, a, 1;\nret;\n}\n"
      ".entry e .reqntid 64\n{\nret;\n}\n");
  if (m.functions.size() != 2) { CHECK(!"two functions"); return; }
  const Instr* i = nth_instr(m.functions[0], 0);
  CHECK_EQ(i->guard, "q");
  CHECK(i->ops[0].kind == K::Reg);
  CHECK(i->ops[1].kind == K::Reg);
  CHECK_EQ(m.functions[0].params[1].type, "pred");
  CHECK_EQ(m.functions[1].reqntid[0], 64);
  CHECK_EQ(m.functions[1].reqntid[1], 1);
  CHECK_EQ(m.functions[1].reqntid[2], 1);
  CHECK(m.functions[1].params.empty());
}

// Less common forms: avar+imm, generic(var)+off, cluster directives, .maxnctapersm, binary/octal with U.
void test_misc_forms() {
  const Module m = parse_ok(kHead +
      ".global .align 8 .u64 tbl[2] = {generic(tbl)+8, tbl-4};\n"
      ".entry e() .maxclusterrank 8 .maxnctapersm 3 .reqntid 32, 4\n{\n"
      ".reg .b64 %rd<2>;\n.reg .b32 %r<2>;\n"
      "mov.u64 %rd1, tbl+16;\n"
      "mov.u64 %rd1, tbl + -16;\n"
      "add.u32 %r1, %r1, 0b1111U;\n"
      "add.u32 %r1, %r1, 0;\n"
      "ret;\n}\n");
  if (m.functions.size() != 1 || m.globals.size() != 1) { CHECK(!"misc module"); return; }
  const VarDecl& t = m.globals[0];
  CHECK_EQ(t.init_symbols.size(), 2u);
  if (t.init_symbols.size() == 2) {
    CHECK(t.init_symbols[0].generic);
    CHECK_EQ(t.init_symbols[0].addend, 8);
    CHECK(!t.init_symbols[1].generic);
    CHECK_EQ(t.init_symbols[1].addend, -4);
    CHECK_EQ(t.init_symbols[1].offset, 8u);
  }
  const Function& f = m.functions[0];
  CHECK_EQ(f.maxclusterrank, 8);
  CHECK_EQ(f.maxnctapersm, 3);
  CHECK_EQ(f.reqntid[0], 32);
  CHECK_EQ(f.reqntid[1], 4);
  CHECK_EQ(f.reqntid[2], 1);
  const Operand& a = nth_instr(f, 0)->ops[1];
  CHECK(a.kind == K::Symbol);
  CHECK_EQ(a.name, "tbl");
  CHECK_EQ(a.imm, 16);
  CHECK_EQ(nth_instr(f, 1)->ops[1].imm, -16);
  CHECK_EQ(nth_instr(f, 2)->ops[2].imm, 15);
  CHECK_EQ(nth_instr(f, 3)->ops[2].imm, 0);
  CHECK(nth_instr(f, 3)->ops[2].kind == K::Imm);
}

void test_errors() {
  const std::string e = kHead + ".entry e()\n{\n.reg .b32 %r<4>;\n";  // the body goes on at line 7
  check_error(".target sm_90a\n", 1, "no .version");
  check_error(".version 9.0\n.address_size 64\n", 2, "no .target");
  check_error(e + "mov.u64 %r1, x+;\n}\n", 7, "symbol offset missing");
  check_error(e + "a.b: ret;\n}\n", 7, "label with a dot");
  check_error(kHead + ".global .u32 a.b;\n", 4, "variable name with a dot");
  check_error(kHead + ".foo 1;\n", 4, "unknown module directive");
  check_error(kHead + "\n\n.global .u32 x = ;\n", 6, "empty initializer");
  check_error(e + "mov.u32 %r1, %r2\nret;\n}\n", 8, "missing semicolon (reported at the next token)");
  check_error(e + "add.u32 %r1, %r9, 1;\n}\n", 7, "register beyond %r<4>");
  check_error(e + "add.u32 %r1, %r01, 1;\n}\n", 7, "leading zero register index");
  check_error(e + "mov.u32 %r1, %tid.w;\n}\n", 7, "bad special register component");
  check_error(e + "mov.u32 %r1, %bogus;\n}\n", 7, "undeclared register");
  check_error(e + "\n.blah;\n}\n", 8, "unknown body directive");
  check_error(e + "ld.global.u32 %r1, [%r2+];\n}\n", 7, "address without offset");
  check_error(e + "ld.global.u32 %r1, [%r2;\n}\n", 7, "unclosed address");
  check_error(e + "mov.f32 %r1, 0f3F80;\n}\n", 7, "short 0f literal");
  check_error(e + "mov.u32 %r1, 0x;\n}\n", 7, "bad hex literal");
  check_error(e + "mov.u32 %r1, 99999999999999999999;\n}\n", 7, "integer too large");
  check_error(e + "mov.u32 %r1, 08;\n}\n", 7, "bad octal literal");
  check_error(e + "@%r9 bra L;\n}\n", 7, "guard not declared");
  check_error(e + "ld..u32 %r1, [%r2];\n}\n", 7, "empty modifier");
  check_error(e + "{\n.reg .pred done;\n}\n@done bra L;\n}\n", 10, "scoped register used outside its scope");
  check_error(e + "mov.u32 %r1, 1;\n", 4, "unterminated body (at the function's line)");
  check_error(e + "{\nmov.u32 %r1, 1;\n}\n{\n", 10, "unterminated block (at its brace)");
  check_error(e + "mov.u32 %r1, 1; # x\n}\n", 7, "stray character");
  check_error(kHead + "/* never closed\n\n", 4, "unterminated comment");
  check_error(kHead + ".file 1 \"a\n", 4, "unterminated string");
  check_error(e + ".loc 1 2 3\nret;\n}\n", 7, ".loc of an undeclared file");
  check_error(e + ".loc 1 2 3, function_name $L__info_string0, inlined_at 2 5 6\nret;\n}\n.file 1 \"a.cu\"\n", 7,
              "inlined_at of an undeclared file");
  check_error(e + ".loc 1 2 3, blah 4\nret;\n}\n", 7, "unknown .loc attribute");
  check_error(e + ".pragma \"frobnicate\";\n}\n", 7, "unknown pragma");
  check_error(kHead + ".entry e() .maxntid 1, 2, 3, 4\n{\n}\n", 4, "4-dimensional maxntid");
  check_error(kHead + ".entry e() .frob 3\n{\n}\n", 4, "unknown performance directive");
  check_error(kHead + ".global .u8 x[2] = {1, 2, 3};\n", 4, "too many initializers");
  check_error(kHead + ".global .u8 x = 256;\n", 4, "initializer overflow");
  check_error(kHead + ".global .s8 x = -129;\n", 4, "negative initializer overflow");
  check_error(kHead + ".global .u8 x[] ;\n", 4, "unsized non-extern array");
  check_error(kHead + ".shared .u32 x = 1;\n", 4, "initialized shared variable");
  check_error(kHead + ".global .u32 x[2][2] = {{1, 2, 3}};\n", 4, "too many in a row");
  check_error(kHead + ".global .u32 x = 1.5;\n", 4, "decimal float for an integer");
  check_error(kHead + ".global .u16 x = generic(y);\n", 4, "16-bit address initializer");
  check_error(kHead + ".entry e()\n{\nret;\n}\n.entry e()\n{\nret;\n}\n", 8, "defined twice");
  check_error(kHead + ".func f()\n{\nret;\n}\n.entry f()\n{\nret;\n}\n", 8, "func then entry of one name");
  check_error(kHead + ".entry e(.reg .b32 a)\n{\nret;\n}\n", 4, ".reg kernel parameter");
  check_error(kHead + ".entry e(.param .u64 a,)\n{\nret;\n}\n", 4, "trailing comma in parameters");
  check_error(kHead + ".entry e()\n{\n.reg .b32 %r<2>;\n.reg .b32 %r<3>;\n}\n", 7, "range declared twice");
  check_error(kHead + ".entry e()\n{\n.reg .b33 x;\n}\n", 6, "bad register type");
  check_error(kHead + ".entry e()\n{\n.reg .b32 %tid;\n}\n", 6, "register named like a special register");
  check_error(kHead + ".section .debug_str\n{\n.b8 1, x+;\n}\n", 6, "bad section data");
  check_error(kHead + ".entry e()\n{\nmov.u32 {}, 1;\n}\n", 6, "empty vector");
  check_error(kHead + ".entry e()\n{\n.reg .b32 a;\nmov.u32 a, {[a]};\n}\n", 7, "address inside a vector");
  check_error(kHead + ".version 9.0\n", 4, "second .version");
  check_error(kHead + ".entry e()\n{\nret;\n}\n}\n", 8, "unbalanced closing brace");
  check_error(kHead + ".entry e()\n{\n.reg .pred %p<2>;\n@%p1 L: ret;\n}\n", 7, "guard on a label");
}

// Every truncation of a valid module either parses (cut at a point where the rest was optional) or throws
// ParseError with a line inside the text: no crash, no other exception, no line 0.
void test_truncations() {
  const std::string full = kHead + kKernel;
  int parsed = 0, refused = 0, bad = 0;
  for (size_t n = 0; n < full.size(); ++n) {
    const std::string t = full.substr(0, n);
    int lines = 1;
    for (char c : t) lines += c == '\n';
    try {
      parse(t, "cut");
      ++parsed;
    } catch (const ParseError& e) {
      ++refused;
      if (e.line < 1 || e.line > lines) { ++bad; std::fprintf(stderr, "cut at %zu: line %d of %d\n", n, e.line, lines); }
    } catch (...) {
      ++bad;
    }
  }
  CHECK_EQ(bad, 0);
  // A cut inside the body is always an error: only prefixes ending in the trailing .file lines may parse,
  // and those fail too when they cut the file table short (.loc 2 needs .file 2).
  CHECK(refused > static_cast<int>(full.size()) - 60);
  CHECK(parsed >= 1);
}

// The PTX of every cuda/*.cu (test/gen-ptx.sh OUTDIR; EMU_PTX_DIR=OUTDIR).
void test_real_ptx() {
  const char* dir = std::getenv("EMU_PTX_DIR");
  if (!dir || !*dir) {
    std::printf("*** SKIPPED: the real-PTX part of this test (set EMU_PTX_DIR to the output of test/gen-ptx.sh) ***\n");
    return;
  }
  std::vector<std::string> names;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".ptx") == 0) names.push_back(n);
    }
    closedir(d);
  }
  CHECK(!names.empty());
  double worst_ms = 0;
  std::string worst;
  size_t worst_bytes = 0;
  for (const std::string& n : names) {
    const std::string path = std::string(dir) + "/" + n;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    // Counts from the text itself, for comparison.
    size_t entries = 0, lines = 0;
    std::istringstream ls(text);
    for (std::string l; std::getline(ls, l);) {
      ++lines;
      if (l.find(".entry ") != std::string::npos && l.rfind("//", 0) != 0) ++entries;
    }
    Module m;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      m = parse(text, path);
    } catch (const ParseError& e) {
      std::fprintf(stderr, "%s\n", e.what());
      CHECK(!"real PTX refused");
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (text.size() > worst_bytes) { worst_bytes = text.size(); worst = n; worst_ms = ms; }
    size_t kernels = 0, instrs = 0, bad_loc = 0, no_file = 0, labels = 0;
    for (const Function& f : m.functions) {
      kernels += f.is_entry;
      if (f.is_entry) CHECK(f.has_body);
      for (const Statement& s : f.body) {
        if (s.kind == Statement::Kind::Label) ++labels;
        if (s.kind != Statement::Kind::Instr) continue;
        ++instrs;
        if (s.instr.loc.ptx_line <= 0 || s.instr.loc.ptx_line > static_cast<int>(lines)) ++bad_loc;
        const int fi = s.instr.loc.file;
        if (fi >= 0 && (static_cast<size_t>(fi) >= m.files.size() || m.files[fi].empty())) ++no_file;
      }
    }
    std::printf("%-18s %8zu bytes %7zu lines: %3zu kernels, %3zu functions, %6zu instructions, %5zu labels, %2zu files, %6.1f ms\n",
                n.c_str(), text.size(), lines, kernels, m.functions.size(), instrs, labels, m.files.size(), ms);
    CHECK_EQ(kernels, entries);
    CHECK(kernels > 0);
    CHECK(instrs > kernels);
    CHECK_EQ(bad_loc, 0u);
    CHECK_EQ(no_file, 0u);
    CHECK_EQ(m.version_major, 9);
    CHECK(m.target.size() == 1 && m.target[0] == "sm_90a");
    // -lineinfo: the kernels' own file is declared, and resolves to a cuda/*.cu path.
    bool cu = false;
    for (const std::string& f : m.files) cu = cu || (f.size() > 3 && f.compare(f.size() - 3, 3, ".cu") == 0);
    CHECK(cu);
  }
  std::printf("largest: %s (%zu bytes) parsed in %.1f ms\n", worst.c_str(), worst_bytes, worst_ms);
  CHECK(worst_ms < 1000.0);
}

}  // namespace

int main() {
  test_module_header();
  test_globals();
  test_kernel();
  test_operands();
  test_calls_and_funcs();
  test_reg_params();
  test_branchtargets();
  test_misc_forms();
  test_errors();
  test_truncations();
  test_real_ptx();
  return check::finish();
}
