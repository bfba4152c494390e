#!/usr/bin/env bash
# dsv3-emu: regenerates the PTX of every cuda/*.cu (as the addon's kernels are compiled for sm_90a, with
# -lineinfo) into OUTDIR, two nvcc at a time. The parser's unit test reads them via EMU_PTX_DIR=OUTDIR.
#   cuda/emu/test/gen-ptx.sh /tmp/ptx && EMU_PTX_DIR=/tmp/ptx build-emu/tests/ptx_parser_test
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
out=$1
root=$(cd "$(dirname "$0")/../../.." && pwd)
nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$nvcc" ] || { echo "$0: nvcc not found (set NVCC)" >&2; exit 1; }
mkdir -p "$out"
export nvcc root out
ls "$root"/cuda/*.cu | xargs -P 2 -I{} sh -c '
  f={}; b=$(basename "$f" .cu)
  "$nvcc" -ptx -arch=sm_90a -O3 --expt-relaxed-constexpr -lineinfo -std=c++17 -I"$root" "$f" -o "$out/$b.ptx" \
    && echo "ptx: $out/$b.ptx" || { echo "ptx: FAILED $f" >&2; exit 255; }'
