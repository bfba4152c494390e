// llama.cpp side of bench/peers/llama_cpp_check.mjs: loads a GGUF, runs one batch of prompt token ids
// with logits for every position, writes them as raw f32 [n_prompt, n_vocab] to a file, then decodes
// n_greedy tokens greedily (argmax, one token per llama_decode through the KV cache) and prints one
// JSON line: {"n_vocab":..., "n_prompt":..., "greedy":[...]}.
// Built by bench/peers/llama_cpp.mjs against the static libllama of the same llama.cpp build as llama-bench.
// Usage: llama_logits <model.gguf> <id,id,...> <n_greedy> <logits.bin> [n_threads]
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static void quiet_log(enum ggml_log_level level, const char * text, void *) {
    if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
}

static int argmax(const float * x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

int main(int argc, char ** argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s <model.gguf> <id,id,...> <n_greedy> <logits.bin> [n_threads]\n", argv[0]);
        return 2;
    }
    std::vector<llama_token> ids;
    for (const char * p = argv[2]; *p;) {
        char * end;
        long v = strtol(p, &end, 10);
        if (end == p) { fprintf(stderr, "bad token list\n"); return 2; }
        ids.push_back((llama_token) v);
        p = *end == ',' ? end + 1 : end;
    }
    const int n_greedy = atoi(argv[3]);
    const int n_threads = argc > 5 ? atoi(argv[5]) : 2;

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    mp.progress_callback = [](float, void *) { return true; }; // no progress dots
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) { fprintf(stderr, "failed to load %s\n", argv[1]); return 1; }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);

    llama_context_params cp = llama_context_default_params();
    const int n_prompt = (int) ids.size();
    cp.n_ctx = n_prompt + n_greedy + 16;
    cp.n_batch = cp.n_ubatch = n_prompt > 512 ? n_prompt : 512;
    cp.n_threads = cp.n_threads_batch = n_threads;
    cp.no_perf = true;
    // The check compares the model's function, not llama.cpp's speed settings: an f32 KV cache (the default is
    // f16) and no flash attention (its CPU kernel rounds Q and K to f16: 7e-4 relative error on the logits
    // instead of 8e-7 on the tiny preset). DSV3_LLAMA_FA=1 turns flash attention on (auto) to see that.
    cp.type_k = GGML_TYPE_F32;
    cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = getenv("DSV3_LLAMA_FA") ? LLAMA_FLASH_ATTN_TYPE_AUTO : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) { fprintf(stderr, "failed to create the context\n"); return 1; }

    llama_batch batch = llama_batch_init(n_prompt, 0, 1);
    for (int i = 0; i < n_prompt; i++) {
        batch.token[i] = ids[i];
        batch.pos[i] = i;
        batch.n_seq_id[i] = 1;
        batch.seq_id[i][0] = 0;
        batch.logits[i] = 1;
    }
    batch.n_tokens = n_prompt;
    if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "llama_decode failed (prompt)\n"); return 1; }

    FILE * f = fopen(argv[4], "wb");
    if (!f) { fprintf(stderr, "cannot write %s\n", argv[4]); return 1; }
    for (int i = 0; i < n_prompt; i++) {
        const float * row = llama_get_logits_ith(ctx, i);
        if (!row || fwrite(row, sizeof(float), n_vocab, f) != (size_t) n_vocab) { fprintf(stderr, "logits row %d\n", i); return 1; }
    }
    fclose(f);

    std::vector<int> greedy;
    int next = argmax(llama_get_logits_ith(ctx, n_prompt - 1), n_vocab);
    llama_batch one = llama_batch_init(1, 0, 1);
    for (int s = 0; s < n_greedy; s++) {
        greedy.push_back(next);
        if (s + 1 == n_greedy) break;
        one.token[0] = next;
        one.pos[0] = n_prompt + s;
        one.n_seq_id[0] = 1;
        one.seq_id[0][0] = 0;
        one.logits[0] = 1;
        one.n_tokens = 1;
        if (llama_decode(ctx, one) != 0) { fprintf(stderr, "llama_decode failed (step %d)\n", s); return 1; }
        next = argmax(llama_get_logits_ith(ctx, 0), n_vocab);
    }
    printf("{\"n_vocab\":%d,\"n_prompt\":%d,\"greedy\":[", n_vocab, n_prompt);
    for (size_t i = 0; i < greedy.size(); i++) printf("%s%d", i ? "," : "", greedy[i]);
    printf("]}\n");

    llama_batch_free(batch);
    llama_batch_free(one);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
