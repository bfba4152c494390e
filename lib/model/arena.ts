// The weight arena of a model loaded on the CPU: its weights under 2 MiB (attention projections, shared experts,
// norms, routers, block scales of a small or mid-sized model) copied into 16 MiB slabs, each one anonymous
// mapping the native allocator puts on transparent huge pages (native/storage.cc). Allocated one by one, they
// would sit on 4 KiB pages: a decode step streams them once per token, and every 4 KiB costs a TLB miss (a
// two-level page walk in a VM) and a restart of the hardware prefetchers. Small decode on a Zen 4 VM ran
// 3-11% faster with them packed (bench/RESULTS.md, 2026-12-04 late). Tensors of 2 MiB or more already get
// huge pages of their own and stay as they are.
//
// A placed weight is a view of its slab; the slab is freed when its last view is disposed (the model's
// dispose()), so the arena holds no memory of its own once loading ends (release()).
import { native } from '../native';
import { DType, Tensor } from '../tensor';

const SLAB_BYTES = 16 * 2 ** 20;
const HUGE = 2 * 2 ** 20;
const ALIGN = 64;

export class WeightArena {
  private slab: Tensor<'u8'> | null = null;
  private used = 0;

  /**
   * t itself, or (a CPU tensor of 1 B to 2 MiB) a copy of it in the current slab; t is then disposed. Either way
   * the caller owns the result.
   */
  place<D extends DType>(t: Tensor<D>): Tensor<D> {
    const n = t.nbytes;
    if (t.device !== 'cpu' || n === 0 || n >= HUGE) return t;
    let off = Math.ceil(this.used / ALIGN) * ALIGN;
    if (!this.slab || off + n > SLAB_BYTES) {
      this.release();
      this.slab = Tensor.empty<'u8'>([SLAB_BYTES], { dtype: 'u8' });
      off = 0;
    }
    const v = Tensor.fromHandle<D>(native.placeIn(this.slab!.handle, off, t.handle));
    this.used = off + n;
    t.dispose();
    return v;
  }

  /** Drops the arena's hold on its current slab (the placed views keep it alive); later places start a new one. */
  release(): void {
    this.slab?.dispose();
    this.slab = null;
    this.used = 0;
  }
}
