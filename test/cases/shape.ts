// Cases of the shape ops (pure byte copies): narrow (a column range of the last dim) and transpose01
// (swap the first two dims). One table for the CPU tests (test/ops/narrow.test.ts, transpose01.test.ts:
// exact against test/reference/shape.ts) and the CUDA suite (test/gpu/shape_ops.gpu.test.ts: bytes equal
// the CPU backend's; inner rows of odd byte counts so that every copy unit from 16 bytes down to 1 is used).
// No benchmark.

/** CPU narrow, f32: [rows, n, start, len] (len 0 included). */
export const NARROW_CPU: [number, number, number, number][] = [[1, 1, 0, 1], [7, 48, 32, 16], [320, 48, 0, 32], [3, 300, 129, 171], [129, 16, 5, 0]];
/** CPU transpose01, f32: [a, b, inner]. */
export const TRANSPOSE_CPU: [number, number, number][] = [[1, 1, 1], [7, 3, 129], [80, 4, 128], [3, 300, 1], [129, 2, 16]];
/** CUDA transpose01: every dtype over these shapes (2-d to 4-d). */
export const TRANSPOSE_GPU: number[][] = [[1, 1], [7, 3], [3, 129], [2, 3, 1], [5, 7, 3], [33, 128, 192], [4, 3, 2, 5], [128, 1, 7], [1, 300, 16]];
/** CUDA narrow: every dtype over these shapes, every start / length class (whole, first, last, empty, odd). */
export const NARROW_GPU: number[][] = [[1], [7], [3, 129], [33, 128, 192], [2, 3, 300], [5, 7168]];
