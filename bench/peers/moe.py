#!/usr/bin/env python3
# Peer for bench/moe.bench.mjs: the routed MoE layer of DeepSeek-V3 in PyTorch on CUDA, same dims
# (d 7168 -> 2048 per expert, 256 experts, top 8, groups 8/4, scale 2.5) and token counts. Variants:
#   loop-bf16     DeepSeek model.py MoE.forward: bincount -> host, loop over experts with tokens, bf16 matmuls, index_add_
#   loop-fp8      the same loop with torch._scaled_mm (e4m3, row-wise scales: per token / per output channel;
#                 coarser than DeepSeek's 1x128 / 128x128 blocks, so an upper bound on what cuBLAS gives)
#   grouped-bf16  tokens sorted by expert, torch._grouped_mm over all experts (no host sync), if this torch has it
# Router (f32 logits, sigmoid, bias, group top-2 sums, top-k) and combine are included in every variant.
# Timing: CUDA events, median of the timed runs after warm-up. Usage: moe.py [tokens ...]
import statistics
import sys

import torch
import torch.nn.functional as F

D, INTER, E, K, NG, TG, SCALE = 7168, 2048, 256, 8, 8, 4, 2.5
TOKENS = [int(a) for a in sys.argv[1:]] or [1, 16, 128, 1024, 4096]
dev = torch.device("cuda")


def route(x, gate, bias):
    s = (x.float() @ gate.t()).sigmoid()
    c = s + bias
    t = x.shape[0]
    gs = c.view(t, NG, -1).topk(2, dim=-1)[0].sum(-1)
    keep = torch.zeros(t, NG, dtype=torch.bool, device=dev).scatter_(1, gs.topk(TG, dim=-1)[1], True)
    c = c.masked_fill(~keep.repeat_interleave(E // NG, dim=1), float("-inf"))
    idx = c.topk(K, dim=-1)[1]
    w = s.gather(1, idx)
    return idx, w / w.sum(-1, keepdim=True) * SCALE


def loop_bf16(x, gate, bias, w1, w3, w2, shared):
    idx, w = route(x, gate, bias)
    y = torch.zeros(x.shape, dtype=torch.float32, device=dev)
    counts = torch.bincount(idx.flatten(), minlength=E).tolist()  # host sync, as model.py
    for e in range(E):
        if counts[e] == 0:
            continue
        tok, pos = torch.where(idx == e)
        xe = x[tok]
        h = F.silu(xe @ w1[e].t()) * (xe @ w3[e].t())
        y.index_add_(0, tok, (h @ w2[e].t()).float() * w[tok, pos, None])
    return (y + shared.float() + x.float()).to(torch.bfloat16)


def quant_rows(a):  # e4m3 with one scale per row
    s = a.abs().amax(dim=-1, keepdim=True).float().clamp(min=1e-4) / 448.0
    return (a.float() / s).to(torch.float8_e4m3fn), s


def loop_fp8(x, gate, bias, w1q, w3q, w2q, shared):
    idx, w = route(x, gate, bias)
    y = torch.zeros(x.shape, dtype=torch.float32, device=dev)
    counts = torch.bincount(idx.flatten(), minlength=E).tolist()
    for e in range(E):
        if counts[e] == 0:
            continue
        tok, pos = torch.where(idx == e)
        xq, xs = quant_rows(x[tok])
        mm = lambda a, sa, wq: torch._scaled_mm(a, wq[0][e].t(), scale_a=sa, scale_b=wq[1][e].view(1, -1), out_dtype=torch.bfloat16)
        h = F.silu(mm(xq, xs, w1q)) * mm(xq, xs, w3q)
        hq, hs = quant_rows(h)
        y.index_add_(0, tok, mm(hq, hs, w2q).float() * w[tok, pos, None])
    return (y + shared.float() + x.float()).to(torch.bfloat16)


def grouped_bf16(x, gate, bias, w13t, w2t, shared):
    idx, w = route(x, gate, bias)
    flat = idx.flatten()
    order = flat.argsort(stable=True)
    offs = torch.bincount(flat, minlength=E).cumsum(0).to(torch.int32)
    xs = x[order // K]
    gu = torch._grouped_mm(xs, w13t, offs=offs)
    h = F.silu(gu[:, :INTER]) * gu[:, INTER:]
    ys = torch._grouped_mm(h, w2t, offs=offs)
    y = torch.zeros(x.shape[0] * K, x.shape[1], dtype=torch.float32, device=dev)
    y[order] = ys.float()
    y = (y.view(-1, K, x.shape[1]) * w[..., None]).sum(1)
    return (y + shared.float() + x.float()).to(torch.bfloat16)


def timed(fn, warm=2, runs=10):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main():
    torch.manual_seed(0)
    gate = torch.randn(E, D, device=dev) * 0.02
    bias = torch.randn(E, device=dev) * 0.01
    w1, w3, w2 = (torch.randn(E, n, k, device=dev, dtype=torch.bfloat16) * k ** -0.5 for n, k in ((INTER, D), (INTER, D), (D, INTER)))
    q = lambda w: (w.to(torch.float8_e4m3fn), torch.full(w.shape[:2], 1.0, device=dev))  # per-output-channel scales
    w1q, w3q, w2q = q(w1), q(w3), q(w2)
    has_grouped = hasattr(torch, "_grouped_mm")
    if has_grouped:
        w13t = torch.cat([w1, w3], dim=1).transpose(1, 2)  # [E, D, 2*INTER] view of K-major [E, 2*INTER, D]
        w2t = w2.transpose(1, 2)  # [E, INTER, D]
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}: MoE layer d {D} -> {INTER}, {E} experts, top {K}")
    print(f"{'tokens':>6}  {'variant':<12}  {'ms':>9}  {'TFLOP/s':>7}")
    for t in TOKENS:
        x = torch.randn(t, D, device=dev, dtype=torch.bfloat16)
        shared = torch.randn(t, D, device=dev, dtype=torch.bfloat16)
        flops = 3 * 2 * t * K * D * INTER
        variants = [("loop-bf16", lambda: loop_bf16(x, gate, bias, w1, w3, w2, shared)),
                    ("loop-fp8", lambda: loop_fp8(x, gate, bias, w1q, w3q, w2q, shared))]
        if has_grouped:
            variants.append(("grouped-bf16", lambda: grouped_bf16(x, gate, bias, w13t, w2t, shared)))
        for name, fn in variants:
            try:
                ms = timed(fn, runs=5 if t >= 1024 else 10)
                print(f"{t:>6}  {name:<12}  {ms:>9.3f}  {flops / ms / 1e9:>7.2f}")
            except Exception as ex:  # e.g. _scaled_mm shape limits, _grouped_mm arch limits
                print(f"{t:>6}  {name:<12}  skipped: {type(ex).__name__}: {str(ex).splitlines()[0][:100]}")


if __name__ == "__main__":
    main()
