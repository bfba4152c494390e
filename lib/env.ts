// Every runtime knob of dsv3 that the TypeScript layer reads, read in one place. All names start with DSV3_;
// README "Environment variables" lists them with the build, emulator and benchmark ones.
export const env = {
  /** Path of the compiled addon (.node); default: found by `bindings` under build/Release. */
  addonPath: process.env.DSV3_ADDON || undefined,
  /** CPU backend threads (read natively at first use; here for documentation and reporting). */
  numThreads: process.env.DSV3_NUM_THREADS ? Number(process.env.DSV3_NUM_THREADS) : undefined,
  /** Cap on the CPU GEMM kernels' instruction set (avx512bf16 | avx512 | avx2 | generic). Read at each call, in
   * TypeScript: test runners sandbox process.env, so the addon's own getenv would not see changes. */
  cpuIsa: (): string | undefined => process.env.DSV3_CPU_ISA || undefined,
  /** CUDA GEMM kernel (auto | simple | wgmma), an internal switch (the ops have no kernel option; the versions
   * are compared in cuda/dev/): `simple` runs the model on the reference CUDA kernels, to tell a wgmma fault
   * from one elsewhere. Read at each call. */
  gemmKernel: (): string | undefined => process.env.DSV3_GEMM_KERNEL || undefined,
  /** CUDA paged MLA attention kernel (0 | 1), an internal switch like gemmKernel: 0 the f32 CUDA-core kernel
   * (default), 1 tensor cores (mma.sync bf16; bf16 cache; P rounded to bf16). Read at each call. */
  mlaAttnImpl: (): string | undefined => process.env.DSV3_MLA_ATTN_IMPL || undefined,
  /** Folder for the demo's cached random checkpoint (`npm start`, `dsv3 demo`). */
  cacheDir: process.env.DSV3_CACHE || undefined,
  /** The API key `dsv3 serve` requires when --api-key is not given (kept out of the process list). */
  apiKey: (): string | undefined => process.env.DSV3_API_KEY || undefined,
} as const;
