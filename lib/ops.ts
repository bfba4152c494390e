// Every op, typed. Each family lives in lib/ops/<family>.ts (its CPU kernels in native/cpu/<family>.cc).
export type { OutOptions } from './ops/util';
export * from './ops/quant';
export * from './ops/gemm';
export * from './ops/norm';
export * from './ops/rope';
export * from './ops/activation';
export * from './ops/elementwise';
export * from './ops/embedding';
export * from './ops/sampling';
export * from './ops/moe';
export * from './ops/mla';
export * from './ops/shape';
