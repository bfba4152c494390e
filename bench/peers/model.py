#!/usr/bin/env python3
# Peer for bench/model_gpu.bench.mjs: the same layers in Hugging Face transformers (DeepseekV3ForCausalLM, eager
# attention, bf16), loaded from the same random V3-dimension checkpoint folder (FP8 e4m3 weights dequantized to bf16
# here with their 128x128 weight_scale_inv blocks, since the eager model runs bf16), timed the same way: prefill of
# 4096 tokens (one sequence), decode at batch 1 / 32 / 128 with 4096 tokens of context per sequence (the per-head K/V
# cache filled with random values, not computed, as ours), CUDA events around the step and between decoder layers,
# median of the runs, extrapolated to 61 layers (embedding + head + 3 x dense + 58 x mean MoE layer).
# Usage: model.py <checkpoint dir made by model_gpu.bench.mjs> [batch ...]   (default batches 1 32 128)
# A batch whose K/V cache does not fit next to the weights is reported as skipped.
import json
import os
import statistics
import sys

import torch
from safetensors import safe_open
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM
from transformers.cache_utils import DynamicCache

CKPT = sys.argv[1] if len(sys.argv) > 1 else None
BATCHES = [int(a) for a in sys.argv[2:]] or [1, 32, 128]
CONTEXT, PREFILL, V3_LAYERS, V3_DENSE = 4096, 4096, 61, 3
dev = torch.device("cuda")
GiB = 2**30


def config_of(ckpt):
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    cfg.pop("quantization_config", None)  # the weights are dequantized here; no FP8 integration in the eager model
    cfg["torch_dtype"] = "bfloat16"
    c = DeepseekV3Config(**cfg)
    c._attn_implementation = "eager"
    return c


def shards(ckpt):
    idx = os.path.join(ckpt, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            return sorted(set(json.load(f)["weight_map"].values()))
    return ["model.safetensors"]


def dequant(w, s):  # e4m3 [n, k] times its f32 scale_inv [ceil(n/128), ceil(k/128)] -> bf16 (DeepSeek's weight_dequant)
    n, k = w.shape
    full = s.repeat_interleave(128, 0)[:n].repeat_interleave(128, 1)[:, :k]
    return (w.float() * full).to(torch.bfloat16)


def load(model, ckpt, cfg):
    """Copies every checkpoint tensor into the model's parameters, dequantizing FP8 on the GPU. Handles both expert
    layouts of transformers' DeepseekV3: one module per expert (experts.E.gate_proj.weight) and fused 3-D experts
    (experts.gate_up_proj [E, 2*inter, d] or transposed, experts.down_proj [E, d, inter] or transposed)."""
    params = {**dict(model.named_parameters()), **dict(model.named_buffers())}  # e_score_correction_bias is a buffer
    done = set()
    inter = cfg.moe_intermediate_size
    for shard in shards(ckpt):
        with safe_open(os.path.join(ckpt, shard), framework="pt", device="cuda") as f:
            keys = set(f.keys())
            for name in sorted(keys):
                if name.endswith("_scale_inv"):
                    continue
                if name.startswith(f"model.layers.{cfg.num_hidden_layers}."):
                    continue  # an MTP layer, if any: not part of the HF model
                t = f.get_tensor(name)
                if t.dtype == torch.float8_e4m3fn:
                    t = dequant(t, f.get_tensor(name + "_scale_inv"))
                if name in params:
                    params[name].data.copy_(t.to(params[name].dtype))
                    done.add(name)
                    continue
                # fused experts: model.layers.L.mlp.experts.E.{gate,up,down}_proj.weight
                parts = name.split(".")
                if "experts" in parts and parts[-1] == "weight":
                    i = parts.index("experts")
                    e, proj = int(parts[i + 1]), parts[i + 2]
                    base = ".".join(parts[: i + 1])
                    if proj in ("gate_proj", "up_proj") and base + ".gate_up_proj" in params:
                        p = params[base + ".gate_up_proj"]
                        rows = slice(0, inter) if proj == "gate_proj" else slice(inter, 2 * inter)
                        if p.shape[1] == 2 * inter:
                            p.data[e, rows].copy_(t)
                        else:
                            p.data[e, :, rows].copy_(t.t())
                        done.add(base + ".gate_up_proj")
                        continue
                    if proj == "down_proj" and base + ".down_proj" in params:
                        p = params[base + ".down_proj"]
                        p.data[e].copy_(t if p.shape[1:] == t.shape else t.t())
                        done.add(base + ".down_proj")
                        continue
                raise SystemExit(f"model.py: no parameter for checkpoint tensor {name}")
    missing = [n for n, _ in model.named_parameters() if n not in done]
    if missing:
        raise SystemExit(f"model.py: parameters not loaded from the checkpoint: {missing[:8]}{' ...' if len(missing) > 8 else ''}")


def layer_timer(model):
    """CUDA events before and after every decoder layer (forward hooks)."""
    ev = []

    def pre(_m, _a):
        e = torch.cuda.Event(enable_timing=True)
        e.record()
        ev.append(e)

    for layer in model.model.layers:
        layer.register_forward_pre_hook(pre)
    return ev


def timed(fn, model, ev, reps):
    layers, totals = [], []
    fn()  # warm-up
    torch.cuda.synchronize()
    for _ in range(reps):
        ev.clear()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        totals.append(a.elapsed_time(b))
        # parts: embedding (a -> layer 0), layer l (pre l -> pre l+1), last layer + norm + head (pre L-1 -> b)
        L = len(ev)
        per = [ev[i].elapsed_time(ev[i + 1]) for i in range(L - 1)]
        layers.append(per)
    L = len(layers[0]) + 1
    per = [statistics.median(x[i] for x in layers) for i in range(L - 1)]
    # the last layer's own time is not separable from norm + lm_head here: take it as the mean MoE layer
    moe = per[1:] if len(per) > 1 else per
    per.append(statistics.mean(moe))
    total = statistics.median(totals)
    embed_head = max(0.0, total - sum(per))
    return {"ms": total, "layers": per, "embed_head": embed_head}


def extrapolate(m):
    dense, moe = m["layers"][0], statistics.mean(m["layers"][1:])
    return dense, moe, m["embed_head"] + V3_DENSE * dense + (V3_LAYERS - V3_DENSE) * moe


def main():
    if CKPT is None:
        raise SystemExit("usage: model.py <checkpoint dir> [batch ...]")
    cfg = config_of(CKPT)
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    free0 = torch.cuda.mem_get_info()[0]
    with torch.device("cuda"):
        model = DeepseekV3ForCausalLM(cfg)
    model.eval()
    load(model, CKPT, cfg)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    torch.cuda.synchronize()
    print(f"{torch.cuda.get_device_name()}: transformers DeepseekV3ForCausalLM, {cfg.num_hidden_layers} layers, eager, bf16: "
          f"weights {weights / GiB:.2f} GiB; free {free0 / GiB:.1f} -> {torch.cuda.mem_get_info()[0] / GiB:.1f} GiB")
    ev = layer_timer(model)
    rows = []
    g = torch.Generator(device="cuda").manual_seed(1)
    with torch.inference_mode():
        ids = torch.randint(0, cfg.vocab_size, (1, PREFILL), device=dev, generator=g)
        m = timed(lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1), model, ev, 3)
        rows.append((f"prefill {PREFILL}", PREFILL, m))
        kh, vh, H = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, cfg.v_head_dim, cfg.num_attention_heads
        for B in BATCHES:
            need = cfg.num_hidden_layers * B * H * (CONTEXT + 2) * (kh + vh) * 2
            if need > torch.cuda.mem_get_info()[0] - 4 * GiB:
                print(f"decode b={B}: skipped, the per-head K/V cache needs {need / GiB:.1f} GiB, {torch.cuda.mem_get_info()[0] / GiB:.1f} GiB free")
                continue
            cache = DynamicCache()
            for layer in range(cfg.num_hidden_layers):
                k = torch.randn(B, H, CONTEXT, kh, device=dev, generator=g)
                v = torch.randn(B, H, CONTEXT, vh, device=dev, generator=g)
                cache.update(k, v, layer)
            tok = torch.randint(0, cfg.vocab_size, (B, 1), device=dev, generator=g)
            pos = torch.full((B, 1), CONTEXT, device=dev, dtype=torch.long)

            def step():
                model(input_ids=tok, position_ids=pos, cache_position=torch.tensor([CONTEXT], device=dev), past_key_values=cache,
                      use_cache=True, logits_to_keep=1)
                cache.crop(CONTEXT)

            rows.append((f"decode b={B} ctx {CONTEXT}", B, timed(step, model, ev, 10)))
            del cache
            torch.cuda.empty_cache()
    print(f"\n{'case':<20} {'GPU ms':>9} {'tok/s':>9} {'dense ms':>9} {'MoE ms':>9} {'61L ms':>9} {'61L tok/s':>10}")
    for name, n, m in rows:
        dense, moe, t61 = extrapolate(m)
        print(f"{name:<20} {m['ms']:9.2f} {n / (m['ms'] / 1e3):9.0f} {dense:9.3f} {moe:9.3f} {t61:9.1f} {n / (t61 / 1e3):10.0f}")
    print("\nthe '61L' columns are EXTRAPOLATED (embedding + head + 3 x dense + 58 x mean MoE layer); times are CUDA events around"
          " the whole step (launches included: eager PyTorch), per-layer from forward-pre-hook events; median of 3 (prefill) / 10 (decode).")


if __name__ == "__main__":
    main()
