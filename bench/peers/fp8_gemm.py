#!/usr/bin/env python3
"""PyTorch peer of bench/fp8_gemm.bench.mjs: DeepSeek-V3's GEMM shapes through torch on the GPU, timed
the same way (CUDA events around each call, median after warm-up, inputs rotated past L2).

Variants, each where this torch build supports it:
  scaled_mm_blockwise  torch._scaled_mm with DeepSeek's scales: A 1x128 (scale [M, K/128]), B 128x128
                       (scale [N/128, K/128]): the same math as our fp8Gemm
  scaled_mm_tensor     torch._scaled_mm with one scale per tensor (cuBLASLt FP8, a faster, less exact recipe)
  bf16_matmul          torch.matmul in bf16 (cuBLAS)
Usage: python3 bench/peers/fp8_gemm.py [--json] [--shapes M,N,K;...]
Prints a table; with --json, one JSON document on stdout instead.
"""
import json
import sys

SHAPES_NK = [(2112, 7168), (576, 7168), (24576, 1536), (32768, 512), (7168, 16384), (4096, 7168), (7168, 2048)]
MS = [1, 64, 128, 4096]
L2_FLUSH_BYTES = 256 << 20


def main():
    import torch
    as_json = "--json" in sys.argv
    shapes = [(m, n, k) for (n, k) in SHAPES_NK for m in MS]
    if "--shapes" in sys.argv:
        spec = sys.argv[sys.argv.index("--shapes") + 1]
        shapes = [tuple(int(v) for v in s.split(",")) for s in spec.split(";") if s]
    dev = torch.device("cuda")
    f8 = torch.float8_e4m3fn

    def time_us(fn, iters=50, warmup=5):
        for _ in range(warmup):
            fn(0)
        torch.cuda.synchronize()
        # queue everything behind a sleep so the calls run back to back
        torch.cuda._sleep(int(2e6))
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
        ev[0].record()
        for i in range(iters):
            fn(i)
            ev[i + 1].record()
        torch.cuda.synchronize()
        us = sorted(1000 * ev[i].elapsed_time(ev[i + 1]) for i in range(iters))
        return us[len(us) // 2]

    rows = []
    notes = {}
    for (m, n, k) in shapes:
        kb, nb = (k + 127) // 128, (n + 127) // 128
        set_bytes = m * k + n * k
        rot = max(1, min(32, -(-L2_FLUSH_BYTES // set_bytes)))
        a = [torch.randn(m, k, device=dev).to(f8) for _ in range(rot)]
        b = [torch.randn(n, k, device=dev).to(f8) for _ in range(rot)]
        sa_blk = torch.full((m, kb), 1 / 64, device=dev)
        sb_blk = torch.full((nb, kb), 1 / 64, device=dev)
        one = torch.tensor(1.0, device=dev)
        flops = 2 * m * n * k
        gbytes = m * k + n * k + 2 * m * n
        row = {"m": m, "n": n, "k": k}

        # DeepSeek recipe: A scales 1x128 per row, B scales 128x128. The scale layouts torch accepts
        # have changed between releases: try the documented ones in turn, keep the first that runs.
        sa_outer = sa_blk.t().contiguous().t()  # [M, K/128], M-major (outer-dim-major)
        layouts = [(sa_outer, sb_blk.t()), (sa_outer, sb_blk.t().contiguous()), (sa_outer, sb_blk), (sa_blk, sb_blk.t())]
        chosen = []

        def blockwise(i):
            if not chosen:
                err = None
                for j, (sa, sb) in enumerate(layouts):
                    try:
                        torch._scaled_mm(a[0], b[0].t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)
                        chosen.append(j)
                        break
                    except Exception as e:  # try the next layout
                        err = e
                if not chosen:
                    raise err
            sa, sb = layouts[chosen[0]]
            return torch._scaled_mm(a[i % rot], b[i % rot].t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)

        def tensorwise(i):
            return torch._scaled_mm(a[i % rot], b[i % rot].t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

        a16 = [x.to(torch.bfloat16) for x in a[: max(1, min(rot, 4))]]
        b16 = [x.to(torch.bfloat16) for x in b[: max(1, min(rot, 4))]]

        def bf16(i):
            return torch.matmul(a16[i % len(a16)], b16[i % len(b16)].t())

        for name, fn in (("scaled_mm_blockwise", blockwise), ("scaled_mm_tensor", tensorwise), ("bf16_matmul", bf16)):
            try:
                us = time_us(fn)
                row[name] = {"us": us, "TFLOPs": flops / us / 1e6, "GBs": (gbytes if name != "bf16_matmul" else 2 * gbytes) / us / 1e3}
            except Exception as e:  # unsupported recipe or shape in this torch build
                row[name] = None
                notes.setdefault(name, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        rows.append(row)
        del a, b, a16, b16
        torch.cuda.empty_cache()

    out = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": torch.cuda.get_device_name(0),
           "rows": rows, "notes": notes}
    if as_json:
        print(json.dumps(out))
        return
    print(f"PyTorch {out['torch']} (CUDA {out['cuda']}) on {out['device']}")
    print(f"{'M':>5} {'N':>6} {'K':>6}  " + "  ".join(f"{v + ' us':>24} {'TFLOP/s':>8}" for v in ("scaled_mm_blockwise", "scaled_mm_tensor", "bf16_matmul")))
    for r in rows:
        cells = []
        for v in ("scaled_mm_blockwise", "scaled_mm_tensor", "bf16_matmul"):
            x = r.get(v)
            cells.append(f"{x['us']:>24.1f} {x['TFLOPs']:>8.1f}" if x else f"{'-':>24} {'-':>8}")
        print(f"{r['m']:>5} {r['n']:>6} {r['k']:>6}  " + "  ".join(cells))
    for k, v in notes.items():
        print(f"note: {k} unavailable: {v}")


if __name__ == "__main__":
    main()
