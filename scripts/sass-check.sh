#!/usr/bin/env bash
# Disassembles the addon's CUDA code and counts the Hopper instructions that matter per kernel:
# QGMMA (FP8 wgmma), HGMMA (16-bit wgmma), UTMALDG (TMA loads), SYNCS (mbarrier ops). The FP8 GEMM
# kernels must show QGMMA. cuobjdump comes from the CUDA toolkit, or from Triton's bundled copy
# (python3 -c 'import triton'), as on the GPU machine. Usage: bash scripts/sass-check.sh [addon.node]
set -uo pipefail
node_file="${1:-build/Release/dsv3.node}"
tool="$(command -v cuobjdump || true)"
if [ -z "$tool" ]; then
  tdir="$(python3 -c 'import os, triton; print(os.path.dirname(triton.__file__))' 2>/dev/null || true)"
  [ -n "$tdir" ] && tool="$(find "$tdir" -name cuobjdump -type f 2>/dev/null | head -n 1)"
fi
[ -n "$tool" ] || { echo "sass-check: no cuobjdump (CUDA toolkit or Triton) found"; exit 2; }
echo "sass-check: $tool on $node_file"
"$tool" -sass "$node_file" 2>&1 | awk '
  /Function :/ { fn = $3 }
  /QGMMA/ { q[fn]++ } /HGMMA/ { h[fn]++ } /UTMALDG/ { t[fn]++ } /SYNCS/ { s[fn]++ }
  END { for (f in q) printf "QGMMA %5d  UTMALDG %3d  SYNCS %3d  %s\n", q[f], t[f], s[f], f;
        for (f in h) printf "HGMMA %5d  %s\n", h[f], f;
        if (length(q) == 0) print "sass-check: no QGMMA found" }'
