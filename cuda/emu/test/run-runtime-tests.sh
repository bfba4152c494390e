#!/usr/bin/env bash
# dsv3-emu: builds the CUDA runtime test programs (test/runtime/*.cu) with nvcc as a user would
# (-gencode arch=compute_90a,code=[sm_90a,compute_90a] -cudart shared) and runs each through bin/dsv3-emu.
# Every program prints "N passed, M failed"; fault.cu and fatbin.cu must also make the emulator report
# (exit 1 with "dsv3-emu: N reports"), exit_status.cu exit 7, every other one exit 0. Streams and graphs run again with a random schedule.
#
# usage: test/run-runtime-tests.sh [BUILD_DIR]   (BUILD_DIR holds lib/libcudart.so.13; default <repo>/build-emu)
#        NVCC=/path/to/nvcc, DSV3_EMU_LIB=... are honoured.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
emu="$(cd "$here/.." && pwd)"
build="${1:-$emu/../../build-emu}"
[ -d "$build" ] || { echo "run-runtime-tests: no build folder $build" >&2; exit 2; }
build="$(cd "$build" && pwd)"
export DSV3_EMU_LIB="${DSV3_EMU_LIB:-$build/lib}"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
[ -x "$nvcc" ] || { echo "run-runtime-tests: nvcc not found (set NVCC)" >&2; exit 2; }
out="$build/runtime-tests"
mkdir -p "$out"

failures=0
run() {  # run NAME EXPECTED_STATUS [dsv3-emu options...] [-- PROGRAM ARGS...]
  local name="$1" want="$2"
  shift 2
  local opts=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; args=("$@"); }
  local log="$out/$name.log"
  "$emu/bin/dsv3-emu" --memory 2G "${opts[@]}" "$out/$name" "${args[@]}" >"$log" 2>&1
  local status=$?
  local summary
  summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)"
  if [ "$status" -ne "$want" ] || [ -z "$summary" ] || [[ "$summary" != *" 0 failed" ]]; then
    echo "FAIL $name ${opts[*]} (exit $status, expected $want): ${summary:-no summary}"
    sed 's/^/    /' "$log" | tail -40
    failures=$((failures + 1))
  else
    echo "ok   $name ${opts[*]} ($summary)"
  fi
}

for src in "$here"/runtime/*.cu; do
  name="$(basename "$src" .cu)"
  if [ ! -x "$out/$name" ] || [ "$src" -nt "$out/$name" ] || [ "$here/runtime/check.cuh" -nt "$out/$name" ]; then
    # A test may ask for more nvcc flags with a line "// nvcc-flags: ...".
    extra="$(sed -n 's|^// nvcc-flags: *||p' "$src" | head -1)"
    # shellcheck disable=SC2086
    if ! nice "$nvcc" -gencode 'arch=compute_90a,code=[sm_90a,compute_90a]' -cudart shared -O1 -I"$emu" \
        -Xcompiler -Wno-deprecated-declarations $extra -o "$out/$name" "$src" >"$out/$name.build.log" 2>&1; then
      echo "FAIL $name: does not build"
      sed 's/^/    /' "$out/$name.build.log" | tail -20
      failures=$((failures + 1))
      continue
    fi
  fi
  if [ "$name" = exit_status ]; then
    run "$name" 7 -- 7 hello
  elif [ "$name" = fault ] || [ "$name" = fatbin ]; then  # these make the emulator report, on purpose
    run "$name" 1
    grep -q '^dsv3-emu: [1-9][0-9]* reports$' "$out/$name.log" || { echo "FAIL $name: no report counted"; failures=$((failures + 1)); }
  else
    run "$name" 0
  fi
done
for name in streams graphs; do
  [ -x "$out/$name" ] && run "$name" 0 --schedule random --seed 7
done

# The command's own interface.
"$emu/bin/dsv3-emu" --help | grep -q '^usage: dsv3-emu' || { echo "FAIL dsv3-emu --help"; failures=$((failures + 1)); }
"$emu/bin/dsv3-emu" --no-such-option true >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL dsv3-emu: an unknown option must exit 2"; failures=$((failures + 1)); }
"$emu/bin/dsv3-emu" --memory lots true >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL dsv3-emu: a malformed --memory must exit 2"; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
  echo "run-runtime-tests: $failures failed"
  exit 1
fi
echo "run-runtime-tests: all passed"
