#!/usr/bin/env bash
# run-mutation-tests.sh: validation of the emulator itself by mutation testing. A model that shares a
# misreading with the kernel would pass both, so copies of the FP8 GEMM (cuda/fp8_gemm.cu and the
# descriptors of cuda/sm90.cuh, read fresh from the working tree) with ONE planted bug each
# (test/mutations/mutations.mjs: descriptor SBO and swizzle, mbarrier parities, expect_tx, a missing
# wgmma.wait_group, a missing consumer arrive, a TMA box larger than the tile) are built with the driver
# test/mutations/fp8_gemm_driver.cu (the real host entry points of cuda/gemm.h, wgmma kernel forced, random
# FP8 inputs with odd sizes, NaN-poisoned outputs, compared with a CPU reference) and run on dsv3-emu.
# The unmutated copy ("baseline") must pass cleanly; every mutant must fail: wrong values, or an emulator
# report (deadlock, race, async hazard, ...). One line per build says how it was caught and how long it took.
# A mutant that passes (or hangs until the timeout) is something the emulator missed: the run fails.
#
#   usage: run-mutation-tests.sh [--emu-lib DIR] [--timeout SECONDS] [NAME...]
#   --emu-lib DIR: the folder of the emulator's libcudart.so.13 (default: $DSV3_EMU_LIB, else <repo>/build-emu/lib)
#   NAME: only these mutations (the baseline always runs); default: all of them.
# Objects are cached in $EMU_MUTATIONS_BUILD (default /tmp/dsv3-emu-mutations), keyed on a hash of the
# (mutated) sources, the headers they may include, the flags and the nvcc version. Compiles run one at a time.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
emu="$(cd "$here/.." && pwd)"
repo="$(cd "$emu/../.." && pwd)"
build="${EMU_MUTATIONS_BUILD:-/tmp/dsv3-emu-mutations}"
timeout_s="${EMU_MUTATIONS_TIMEOUT:-300}"
emu_lib="${DSV3_EMU_LIB:-$repo/build-emu/lib}"
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --emu-lib) emu_lib="$2"; shift 2 ;;
    --emu-lib=*) emu_lib="${1#*=}"; shift ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-mutation-tests: unknown option $1" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done
[ -f "$emu_lib/libcudart.so.13" ] || { echo "run-mutation-tests: no libcudart.so.13 in $emu_lib (npm run build:emu)" >&2; exit 2; }
export DSV3_EMU_LIB="$(cd "$emu_lib" && pwd)"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
[ -x "$nvcc" ] || { echo "run-mutation-tests: nvcc not found (set NVCC)" >&2; exit 2; }
node="${NODE:-$(command -v node)}"
[ -n "$node" ] || { echo "run-mutation-tests: node not found" >&2; exit 2; }
mutations="$here/mutations/mutations.mjs"
mkdir -p "$build/obj" "$build/src" "$build/bin" || exit 2

# The flags of the project's CMakeLists.txt for cuda/*.cu (DSV3_CUDA=emu build, DSV3_CUDA_ARCHS=90a), PTX only
# (code=compute_90a: the emulator reads PTX, so ptxas is skipped).
flags=(-std=c++17 -gencode 'arch=compute_90a,code=compute_90a' -cudart shared -O3 --expt-relaxed-constexpr -lineinfo
       -DDSV3_WITH_CUDA=1 '-DDSV3_CUDA_ARCHS_STR="90a"' -DDSV3_CUDA_EMU=1)
key_base="$( { "$nvcc" --version; printf '%s\n' "${flags[@]}"; cat "$repo"/cuda/*.h "$repo"/cuda/*.cuh "$repo"/native/*.h; } | sha256sum | cut -c1-16)"

# compile SRC OBJ_NAME [INCDIR]: a cached object; prints its path, or leaves the build log and returns 1.
# INCDIR (the mutated copies) comes before the repository on the include path and is part of the key.
compile() {
  local src="$1" name="$2" inc="${3:-}"
  local key obj incs=()
  [ -n "$inc" ] && incs=(-I"$inc")
  key="$( { echo "$key_base $inc"; cat "$src"; [ -n "$inc" ] && cat "$inc"/cuda/*; } | sha256sum | cut -c1-16)"
  obj="$build/obj/$name-$key.o"
  if [ ! -f "$obj" ]; then
    if ! nice "$nvcc" "${flags[@]}" "${incs[@]}" -I"$repo" -c "$src" -o "$obj.tmp" >"$build/obj/$name.log" 2>&1; then
      rm -f "$obj.tmp"; return 1
    fi
    rm -f "$build/obj/$name"-*.o  # older versions of this object
    mv "$obj.tmp" "$obj"
  fi
  echo "$obj"
}

t_start=$SECONDS
driver_obj="$(compile "$here/mutations/fp8_gemm_driver.cu" driver)" || { echo "FAIL driver does not build"; sed 's/^/    /' "$build/obj/driver.log" | tail -30; exit 1; }
runtime_obj="$(compile "$repo/cuda/runtime.cu" runtime)" || { echo "FAIL cuda/runtime.cu does not build"; sed 's/^/    /' "$build/obj/runtime.log" | tail -30; exit 1; }
echo "run-mutation-tests: driver and cuda/runtime.cu built in $((SECONDS - t_start)) s"

names=()
declare -A gap=()
while IFS=$'\t' read -r name _ _ why; do
  if [ ${#only[@]} -eq 0 ] || [[ " ${only[*]} " == *" $name "* ]]; then names+=("$name"); gap[$name]="$why"; fi
done < <("$node" "$mutations" list)
[ ${#names[@]} -gt 0 ] || [ ${#only[@]} -eq 0 ] || { echo "run-mutation-tests: no mutation named ${only[*]}" >&2; exit 2; }

failures=0 caught=0 gaps=0
for name in baseline "${names[@]}"; do
  t0=$SECONDS
  src="$build/src/$name"
  rm -rf "$src"
  if ! "$node" "$mutations" apply "$name" "$repo" "$src" 2>"$build/src/$name.apply.log"; then
    echo "FAIL $name: the mutation no longer applies (the kernel changed):"
    sed 's/^/    /' "$build/src/$name.apply.log"
    failures=$((failures + 1)); continue
  fi
  # -I src before -I repo: the copies of cuda/fp8_gemm.cu and cuda/sm90.cuh win over the originals.
  if ! obj="$(compile "$src/cuda/fp8_gemm.cu" "fp8_gemm-$name" "$src")"; then
    echo "FAIL $name: does not build"
    sed 's/^/    /' "$build/obj/fp8_gemm-$name.log" | tail -30
    failures=$((failures + 1)); continue
  fi
  exe="$build/bin/$name"
  if ! "$nvcc" -gencode 'arch=compute_90a,code=compute_90a' -cudart shared "$driver_obj" "$runtime_obj" "$obj" -o "$exe" \
      >"$build/bin/$name.link.log" 2>&1; then
    echo "FAIL $name: does not link"; sed 's/^/    /' "$build/bin/$name.link.log" | tail -20
    failures=$((failures + 1)); continue
  fi
  t_build=$((SECONDS - t0))
  log="$build/$name.log"
  t1=$SECONDS
  timeout -k 10 "$timeout_s" "$emu/bin/dsv3-emu" "$exe" >"$log" 2>&1
  status=$?
  t_run=$((SECONDS - t1))
  times="(build ${t_build} s, run ${t_run} s)"
  # How it failed: the emulator's reports (first line of each kind), wrong values (which cases), CUDA errors.
  # How it failed: the emulator's reports (the first, and how many), wrong values (the first failing check
  # of the driver, and how many), CUDA errors (the case that was running).
  nreports="$(grep -cE '^========= [^ ]' "$log")"
  reports="$(grep -m1 -E '^========= [^ ]' "$log" | sed 's/^========= //')"
  [ "$nreports" -gt 1 ] && reports="$reports (and $((nreports - 1)) more)"
  nmis="$(grep -cE '^MISMATCH ' "$log")"
  mismatches="$(grep -m1 -E '^MISMATCH ' "$log" | sed 's/^MISMATCH //')"
  [ "$nmis" -gt 1 ] && mismatches="$mismatches (and $((nmis - 1)) more checks)"
  error="$(grep -m1 -E '^FAILED: ' "$log" | sed 's/^FAILED: //' | cut -c1-200)"
  if [ "$name" = baseline ]; then
    clean=1
    [ "$status" -eq 0 ] && [ -z "$reports" ] && grep -q '^fp8_gemm_driver: all cases match$' "$log" || clean=0
    if [ "$clean" -eq 1 ]; then  # and again with every check on and a random warp order
      t2=$SECONDS
      timeout -k 10 "$timeout_s" "$emu/bin/dsv3-emu" --strict --schedule random --seed 7 "$exe" >"$build/baseline-strict-random.log" 2>&1
      status=$?
      grep -q '^fp8_gemm_driver: all cases match$' "$build/baseline-strict-random.log" || status=1
      [ "$status" -eq 0 ] || { clean=0; log="$build/baseline-strict-random.log"; }
      times="(build ${t_build} s, run ${t_run} s, with --strict --schedule random $((SECONDS - t2)) s)"
    fi
    if [ "$clean" -eq 1 ]; then
      echo "ok   baseline: unmutated cuda/fp8_gemm.cu passes cleanly $times"
    else
      echo "FAIL baseline: the unmutated kernel must pass cleanly (exit $status, $log) $times"
      sed 's/^/    /' "$log" | tail -40
      echo "run-mutation-tests: the baseline fails, so the mutants prove nothing: stopping"
      exit 1
    fi
    continue
  fi
  how=""
  where="$(sed -n 's/^FAILED: \([^:]*\): .*/\1/p' "$log" | head -1)"
  [ -n "$reports" ] && how="reported${where:+ in '$where'}: $reports"
  [ -n "$mismatches" ] && how="${how:+$how | }wrong values: $mismatches"
  [ -z "$reports" ] && [ -z "$mismatches" ] && [ -n "$error" ] && how="CUDA error: $error"
  missed=""
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then missed="hung until the ${timeout_s} s timeout"
  elif [ "$status" -eq 0 ]; then missed="the mutant PASSES on the emulator"; fi
  if [ -n "$missed" ] && [ -n "${gap[$name]}" ]; then
    echo "GAP  $name: not caught ($missed), a known gap: ${gap[$name]} $times"
    gaps=$((gaps + 1))
  elif [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "MISSED $name: hung until the ${timeout_s} s timeout; expected to be caught (a deadlock the emulator did not report?) $times"
    sed 's/^/    /' "$log" | tail -20
    failures=$((failures + 1))
  elif [ "$status" -eq 0 ]; then
    echo "MISSED $name: the mutant PASSES on the emulator; expected to be caught (the emulator misses this bug) $times"
    sed 's/^/    /' "$log" | tail -20
    failures=$((failures + 1))
  elif [ -z "$reports" ] && [ -z "$mismatches" ] && [ -z "$error" ]; then
    echo "FAIL $name: exit $status without a report, a mismatch or a CUDA error: unclear why $times"
    sed 's/^/    /' "$log" | tail -20
    failures=$((failures + 1))
  else
    echo "ok   $name: caught, $how $times"
    [ -n "${gap[$name]}" ] && echo "     ($name is listed as a known gap in mutations.mjs: the emulator catches it now, drop the note)"
    caught=$((caught + 1))
  fi
done

total=$((SECONDS - t_start))
gap_note=""
[ "$gaps" -gt 0 ] && gap_note=", $gaps known gaps not caught"
if [ "$failures" -ne 0 ]; then
  echo "run-mutation-tests: $failures FAILED, $caught of ${#names[@]} mutations caught$gap_note, in $total s (logs in $build)"
  exit 1
fi
echo "run-mutation-tests: $caught of ${#names[@]} mutations caught$gap_note, baseline clean, in $total s (logs in $build)"
