#!/usr/bin/env python3
# Peer for bench/mla.bench.mjs: the same MLA math in PyTorch on CUDA, timed with CUDA events.
# - decode attention: the absorbed path over a contiguous latent cache [b, ctx, 576] bf16 (no paging: the best
#   case for torch), scores = q576 . kv576 * scale in bf16 bmm, fp32 softmax, out = p . kv512 -> [b, h, 512].
#   (The naive per-head K/V cache does not fit at these sizes: 128 heads x 320 x 2 B = 80 KiB per token.)
# - decode layer: [wq_a; wkv_a] GEMM, RMSNorms, RoPE, wq_b, W_UK bmm, the attention above, W_UV bmm, wo, with
#   bf16 weights (torch has no DeepSeek block-scaled fp8 GEMM; ours uses fp8 with 128x128 scales).
# - prefill layer: the naive path with F.scaled_dot_product_attention (causal) on per-head K/V up-projected from
#   c_kv by wkv_b, as vLLM/SGLang do for prefill.
# Usage: mla.py '{"heads":128,"batches":[1,32,128],"contexts":[1024,...],"prefill":4096}'
# Prints one JSON object {torch, device, results: [{kind, b, ctx, ms}]}; kinds match the bench's rows.
import json
import sys


def main():
    import torch
    import torch.nn.functional as F

    cfg = json.loads(sys.argv[1])
    H, batches, contexts, prefill = cfg["heads"], cfg["batches"], cfg["contexts"], cfg["prefill"]
    D, QL, R, P, NOPE, V = 7168, 1536, 512, 64, 128, 128
    scale, eps = 0.1352337789, 1e-6
    dev, bf = "cuda", torch.bfloat16
    torch.manual_seed(0)

    def timed(fn, reps=10):
        fn()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for _ in range(5):
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / reps)
        times.sort()
        return times[len(times) // 2]

    def rms(x, w):
        xf = x.float()
        return (w * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps))).to(bf)

    inv_freq = 1.0 / (10000 ** (torch.arange(0, P, 2, device=dev, dtype=torch.float32) / P))

    def rope(x, pos):  # x [..., P] interleaved pairs, pos broadcastable to x[..., 0]
        ang = pos.float().unsqueeze(-1) * inv_freq
        c, s = torch.cos(ang), torch.sin(ang)
        x0, x1 = x.float()[..., 0::2], x.float()[..., 1::2]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), -1).flatten(-2).to(bf)

    def attend(q576, kv):  # q576 [b, h, 576], kv [b, ctx, 576] -> [b, h, 512]
        s = torch.bmm(q576, kv.transpose(1, 2)).float() * scale
        return torch.bmm(torch.softmax(s, -1).to(bf), kv[..., :R])

    w_qkv_a = torch.randn(QL + R + P, D, device=dev, dtype=bf) * 0.02
    q_norm, kv_norm = torch.ones(QL, device=dev), torch.ones(R, device=dev)
    w_q_b = torch.randn(H * (NOPE + P), QL, device=dev, dtype=bf) * 0.02
    w_kv_b = torch.randn(H * (NOPE + V), R, device=dev, dtype=bf) * 0.05
    w_uk = w_kv_b.view(H, NOPE + V, R)[:, :NOPE]  # [h, nope, r]
    w_uv = w_kv_b.view(H, NOPE + V, R)[:, NOPE:]  # [h, v, r]
    w_o = torch.randn(D, H * V, device=dev, dtype=bf) * 0.02

    def decode_layer(x, kv, ctx):  # x [b, D]; kv [b, ctx + 1, 576]
        b = x.shape[0]
        qkv = x @ w_qkv_a.T
        cq = rms(qkv[:, :QL], q_norm)
        kv[:, ctx, :R] = rms(qkv[:, QL:QL + R], kv_norm)
        pos = torch.full((b,), ctx, device=dev)
        kv[:, ctx, R:] = rope(qkv[:, QL + R:], pos)
        q = (cq @ w_q_b.T).view(b, H, NOPE + P)
        q_lat = torch.einsum("bhd,hdc->bhc", q[..., :NOPE], w_uk)
        q_pe = rope(q[..., NOPE:], pos.unsqueeze(-1))
        o_lat = attend(torch.cat((q_lat, q_pe), -1), kv)
        o = torch.einsum("bhc,hvc->bhv", o_lat, w_uv).reshape(b, H * V)
        return o @ w_o.T

    def prefill_layer(x):  # x [T, D], naive path with SDPA
        T = x.shape[0]
        qkv = x @ w_qkv_a.T
        cq = rms(qkv[:, :QL], q_norm)
        ckv = rms(qkv[:, QL:QL + R], kv_norm)
        pos = torch.arange(T, device=dev)
        k_pe = rope(qkv[:, QL + R:], pos)
        q = (cq @ w_q_b.T).view(T, H, NOPE + P)
        q = torch.cat((q[..., :NOPE], rope(q[..., NOPE:], pos.unsqueeze(-1))), -1)
        kvb = (ckv @ w_kv_b.T).view(T, H, NOPE + V)
        k = torch.cat((kvb[..., :NOPE], k_pe.unsqueeze(1).expand(T, H, P)), -1)
        o = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), kvb[..., NOPE:].transpose(0, 1),
                                           is_causal=True, scale=scale)
        return o.transpose(0, 1).reshape(T, H * V) @ w_o.T

    results = []
    with torch.no_grad():
        for b in batches:
            for ctx in contexts:
                try:
                    kv = torch.randn(b, ctx + 1, R + P, device=dev, dtype=bf)
                    q576 = torch.randn(b, H, R + P, device=dev, dtype=bf) * 0.05
                    results.append({"kind": "decode attention", "b": b, "ctx": ctx,
                                    "ms": timed(lambda: attend(q576, kv[:, :ctx]))})
                    x = torch.randn(b, D, device=dev, dtype=bf)
                    results.append({"kind": "decode layer", "b": b, "ctx": ctx, "ms": timed(lambda: decode_layer(x, kv, ctx))})
                    del kv, q576, x
                except torch.cuda.OutOfMemoryError:
                    results.append({"kind": "decode attention", "b": b, "ctx": ctx, "ms": None, "error": "out of memory"})
                torch.cuda.empty_cache()
        x = torch.randn(prefill, D, device=dev, dtype=bf)
        results.append({"kind": "prefill layer", "b": 1, "ctx": prefill, "ms": timed(lambda: prefill_layer(x), reps=3)})
    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "results": results}))


if __name__ == "__main__":
    main()
