// Read bandwidth for bench/gemv.bench.mjs: sums a buffer (AVX-512 when compiled with it, else what
// the compiler vectorizes) with T threads, each reading its own contiguous share as 4 interleaved
// streams (as the GEMV reads 4 weight rows at once: one stream alone gets less from DRAM), for buffer
// sizes from L2- to DRAM-resident. Prints JSON lines {bytes, threads, gbps} (the best of 5 passes).
// Build: cc -O2 -march=native -pthread bench/membw.c -o membw   (the bench script does this)
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct { const float* p; size_t n; int passes; double sink; } Job;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

static void* run(void* arg) {
  Job* j = (Job*)arg;
  double s = 0;
  for (int r = 0; r < j->passes; ++r) {
    float acc[16] = {0};
    const size_t q = j->n / 4 / 64 * 64;
    const float *p0 = j->p, *p1 = p0 + q, *p2 = p1 + q, *p3 = p2 + q;
    for (size_t i = 0; i + 32 <= q; i += 32)
      for (int l = 0; l < 16; ++l)
        acc[l] += (p0[i + l] + p0[i + 16 + l]) + (p1[i + l] + p1[i + 16 + l]) + (p2[i + l] + p2[i + 16 + l]) + (p3[i + l] + p3[i + 16 + l]);
    for (int l = 0; l < 16; ++l) s += acc[l];
  }
  j->sink = s;
  return NULL;
}

int main(int argc, char** argv) {
  const size_t sizes[] = {(size_t)1 << 20, (size_t)3 << 20, (size_t)32 << 20, (size_t)128 << 20, (size_t)1 << 30};
  for (int si = 0; si < 5; ++si) {
    const size_t bytes = sizes[si], n = bytes / 4;
    float* buf = aligned_alloc(64, bytes);
    for (size_t i = 0; i < n; ++i) buf[i] = (float)(i & 1023) * 1e-3f;
    for (int T = 1; T <= 2; ++T) {
      // per thread: 1 MiB / 3 MiB are per-core (L2) sizes; larger ones are split between the threads
      const size_t per = si < 2 ? n : n / T;
      const int passes = (int)(((size_t)2 << 30) / (per * 4 * T)) + 1;
      double best = 0;
      for (int rep = 0; rep < 5; ++rep) {
        Job jobs[2];
        pthread_t th[2];
        float* tbuf[2] = {buf, buf};
        if (si < 2 && T == 2) { tbuf[1] = aligned_alloc(64, bytes); memcpy(tbuf[1], buf, bytes); }
        for (int t = 0; t < T; ++t) jobs[t] = (Job){si < 2 ? tbuf[t] : buf + t * per, per, passes, 0};
        const double t0 = now();
        for (int t = 1; t < T; ++t) pthread_create(&th[t], NULL, run, &jobs[t]);
        run(&jobs[0]);
        for (int t = 1; t < T; ++t) pthread_join(th[t], NULL);
        const double dt = now() - t0;
        const double gbps = (double)per * 4 * T * passes / dt / 1e9;
        if (gbps > best) best = gbps;
        if (tbuf[1] != buf) free(tbuf[1]);
        if (jobs[0].sink == 12345.678) puts("");
      }
      printf("{\"bytes\":%zu,\"threads\":%d,\"gbps\":%.2f}\n", si < 2 ? bytes * T : bytes, T, best);
      fflush(stdout);
    }
    free(buf);
  }
  return 0;
}
