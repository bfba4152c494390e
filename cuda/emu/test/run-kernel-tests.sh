#!/usr/bin/env bash
# run-kernel-tests.sh: builds every CUDA test program in cuda/emu/test/kernels/*.cu with nvcc and runs
# each on the emulator (cuda/emu/bin/dsv3-emu), one line per program, then "N passed, M failed".
#   usage: run-kernel-tests.sh [--emu-lib DIR] [--timeout SECONDS] [FILTER...]
#   --emu-lib DIR: the folder of the emulator's libcudart.so.13 (DSV3_EMU_LIB); default: dsv3-emu's own.
#   FILTER: substrings of program names (e.g. "f32" "checks_"); none = all programs.
# Binaries are cached in $EMU_KERNELS_BUILD (default /tmp/dsv3-emu-kernels), keyed on a hash of the
# source (and the kernels/ files it includes), the nvcc flags and the nvcc version; $EMU_KERNELS_JOBS
# compiles at a time (default 2); each run is stopped after $EMU_KERNELS_TIMEOUT seconds (default 300).
# DSV3_EMU_SCHEDULE / DSV3_EMU_SEED / ... in the environment reach every run (e.g. random warp order);
# DSV3_EMU_BIN replaces the launcher. Header comments of a program change what counts as a pass:
#   // EXPECT-REPORT: <text>         output contains <text> (case-insensitive) and the exit is non-zero
#   // EXPECT-ERROR: <cudaError>      output contains the error name and the exit is non-zero
#   // EXPECT-STRICT-REPORT: <text>   run with --strict; output contains <text>, exit non-zero
#   // EXPECT-CLEAN                   exit zero and no emulator report in the output
#   (none)                           exit zero and the last line "N passed, 0 failed" with N > 0
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
emu_root="$(cd "$here/.." && pwd)"
kernels="$here/kernels"
build="${EMU_KERNELS_BUILD:-/tmp/dsv3-emu-kernels}"
emu_bin="${DSV3_EMU_BIN:-$emu_root/bin/dsv3-emu}"  # DSV3_EMU_BIN: another launcher
nvcc="${NVCC:-}"
if [ -z "$nvcc" ]; then
  if command -v nvcc >/dev/null 2>&1; then nvcc="$(command -v nvcc)"; else nvcc=/usr/local/cuda/bin/nvcc; fi
fi
emu_lib=""
per_test_timeout="${EMU_KERNELS_TIMEOUT:-300}"
jobs="${EMU_KERNELS_JOBS:-2}"
filters=()

while [ $# -gt 0 ]; do
  case "$1" in
    --emu-lib) emu_lib="$(cd "$2" && pwd)" || { echo "no such folder: $2" >&2; exit 2; }; shift 2 ;;
    --emu-lib=*) emu_lib="$(cd "${1#*=}" && pwd)" || exit 2; shift ;;
    --timeout) per_test_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) filters+=("$1"); shift ;;
  esac
done

# Lines that the emulator prints when it reports something (compute-sanitizer style "=========" lines,
# or its own "dsv3-emu:" diagnostics that name an error).
report_re='^=========|^dsv3-emu: .*(error|report|invalid|out of bounds|race|deadlock|uninitiali)'

if [ ! -x "$nvcc" ]; then echo "nvcc not found (set NVCC)" >&2; exit 2; fi
if [ ! -x "$emu_bin" ]; then echo "emulator launcher not found: $emu_bin" >&2; exit 2; fi
mkdir -p "$build" || exit 2

flags=(-gencode 'arch=compute_90a,code=[sm_90a,compute_90a]' -cudart shared -O3 -lineinfo)
nvcc_version="$("$nvcc" --version 2>&1 | tail -n 2 | tr '\n' ' ')"
shared_hash="$(cat "$kernels"/*.cuh 2>/dev/null | sha256sum | cut -c1-16)"

programs=()
for src in "$kernels"/*.cu; do
  [ -e "$src" ] || continue
  name="$(basename "$src" .cu)"
  if [ ${#filters[@]} -gt 0 ]; then
    keep=0
    for f in "${filters[@]}"; do case "$name" in *"$f"*) keep=1 ;; esac; done
    [ $keep = 1 ] || continue
  fi
  programs+=("$name")
done
if [ ${#programs[@]} -eq 0 ]; then echo "no test program matches: ${filters[*]:-}" >&2; exit 2; fi

binary_of() {  # the cached binary path of program $1 (key: its source, the files it #includes from
  local key inc   # kernels/, the shared headers, the flags and the compiler)
  key="$( {
    cat "$kernels/$1.cu"
    for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$kernels/$1.cu"); do
      [ -f "$kernels/$inc" ] && cat "$kernels/$inc"
    done
    echo "$shared_hash ${flags[*]} $nvcc_version"
  } | sha256sum | cut -c1-16)"
  echo "$build/$1-$key"
}

# ---- compile what is not cached, $jobs at a time ----
compile() {  # name
  local name="$1" bin tmp
  bin="$(binary_of "$name")"
  tmp="$bin.tmp.$$"
  if nice "$nvcc" "${flags[@]}" -I"$kernels" -o "$tmp" "$kernels/$name.cu" >"$bin.log" 2>&1; then
    mv -f "$tmp" "$bin"
  else
    rm -f "$tmp"
    return 1
  fi
}
running=0
for name in "${programs[@]}"; do
  [ -x "$(binary_of "$name")" ] && continue
  echo "compiling $name"
  compile "$name" &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait

# ---- run ----
passed=0
failed=0
failed_names=()
env_prefix=()
[ -n "$emu_lib" ] && env_prefix=(env "DSV3_EMU_LIB=$emu_lib")

header() {  # file, tag -> the text after "// TAG:" (first occurrence), or nothing
  sed -n "s|^// $2:[[:space:]]*||p" "$1" | head -n 1 | sed 's/[[:space:]]*$//'
}

for name in "${programs[@]}"; do
  src="$kernels/$name.cu"
  bin="$(binary_of "$name")"
  if [ ! -x "$bin" ]; then
    printf '%-28s FAIL  (does not compile)\n' "$name"
    sed -n '1,30p' "$bin.log" 2>/dev/null | sed 's/^/    /'
    failed=$((failed + 1)); failed_names+=("$name")
    continue
  fi
  expect_report="$(header "$src" EXPECT-REPORT)"
  expect_error="$(header "$src" EXPECT-ERROR)"
  expect_strict="$(header "$src" EXPECT-STRICT-REPORT)"
  expect_clean=0
  grep -q '^// EXPECT-CLEAN' "$src" && expect_clean=1
  emu_opts=()
  [ -n "$expect_strict" ] && emu_opts+=(--strict)

  log="$build/$name.out"
  start=$(date +%s.%N)
  timeout -k 10 "$per_test_timeout" "${env_prefix[@]}" "$emu_bin" "${emu_opts[@]}" "$bin" >"$log" 2>&1
  rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

  ok=0
  why=""
  want=""
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    why="timed out after ${per_test_timeout}s"
  elif [ -n "$expect_report$expect_error$expect_strict" ]; then
    want="${expect_report:-${expect_error:-$expect_strict}}"
    if [ "$rc" = 0 ]; then why="exit status 0, expected a failure reporting \"$want\""
    elif ! grep -qiF -- "$want" "$log"; then why="output does not mention \"$want\" (exit $rc)"
    else ok=1; fi
  elif [ $expect_clean = 1 ]; then
    if [ "$rc" != 0 ]; then why="exit status $rc, expected a clean run"
    elif grep -iE -- "$report_re" "$log" | grep -qv 'kernels launched, '; then why="the emulator reported something"  # (not --stats' summary)
    else ok=1; fi
  else
    last="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)"
    if [ "$rc" != 0 ]; then why="exit status $rc${last:+ ($last)}"
    elif [ -z "$last" ]; then why="no \"N passed, M failed\" line"
    elif ! [[ "$last" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] || [ "${BASH_REMATCH[1]}" = 0 ]; then why="$last"
    else ok=1; why="$last"; fi
  fi
  if [ $ok = 1 ]; then
    printf '%-28s ok    %6ss  %s\n' "$name" "$secs" "$why"
    passed=$((passed + 1))
  else
    printf '%-28s FAIL  %6ss  %s\n' "$name" "$secs" "$why"
    grep -E '^(FAIL|  )' "$log" | head -n 40 | sed 's/^/    /'
    grep -viE '^(FAIL|  |[0-9]+ passed)' "$log" | head -n 15 | sed 's/^/    | /'
    failed=$((failed + 1)); failed_names+=("$name")
  fi
done

echo "$passed passed, $failed failed${failed_names:+ (${failed_names[*]})}"
[ "$failed" = 0 ]
