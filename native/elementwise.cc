// Element-wise products, sums and per-channel reductions for the kit's wasm
// backend (glue in dnnl_kernels.cc). tfjs-wasm runs these on one thread, and
// broadcasts a per-channel operand ([C] against [N, H, W, C]: every bias and
// batch-norm scale) through a generic index loop; here they are plain loops,
// vectorised for the CPU found at run time (target_clones) and split over the
// cores (OpenMP) when the tensor is large enough to pay for it.
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace elementwise {

// Below this many elements one thread is faster than waking the others.
constexpr int64_t kParallelFrom = 1 << 18;

template <int OP>
static inline float apply(float a, float b) {
  if (OP == 0) return a + b;
  if (OP == 1) return a - b;
  if (OP == 2) return a * b;
  return a / b;
}

template <int OP>
__attribute__((target_clones("avx512f", "avx2", "default")))
static void rows_op(const float* __restrict a, const float* __restrict b, float* __restrict out, int64_t rows, int64_t cols, int64_t sa, int64_t sb) {
#pragma omp parallel for schedule(static) if (rows * cols >= kParallelFrom)
  for (int64_t r = 0; r < rows; r++) {
    const float* ar = a + r * sa;
    const float* br = b + r * sb;
    float* o = out + r * cols;
    for (int64_t j = 0; j < cols; j++) o[j] = apply<OP>(ar[j], br[j]);
  }
}

// out[r·cols + j] = a[r·sa + j] op b[r·sb + j]: sa, sb are cols (a full operand) or 0 (one row
// repeated, a broadcast). op: 0 add, 1 subtract, 2 multiply, 3 divide.
void binary(int op, const float* a, const float* b, float* out, int64_t rows, int64_t cols, int64_t sa, int64_t sb) {
  switch (op) {
    case 0: rows_op<0>(a, b, out, rows, cols, sa, sb); break;
    case 1: rows_op<1>(a, b, out, rows, cols, sa, sb); break;
    case 2: rows_op<2>(a, b, out, rows, cols, sa, sb); break;
    default: rows_op<3>(a, b, out, rows, cols, sa, sb); break;
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
static void add_rows(const float* x, float* acc, int64_t from, int64_t to, int64_t cols) {
  for (int64_t r = from; r < to; r++) {
    const float* xr = x + r * cols;
    for (int64_t j = 0; j < cols; j++) acc[j] += xr[j];
  }
}

// out[j] = Σ_r x[r·cols + j] / divisor (1 for a sum, rows for a mean). Rows are summed in blocks of kBlock, and the block
// sums added up, so that rounding grows with the number of blocks, not of rows. The split
// over threads is fixed by the thread count: the same count gives the same bits.
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, float divisor) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  const int threads = rows * cols >= kParallelFrom ? omp_get_max_threads() : 1;
  std::vector<float> partial(static_cast<size_t>(threads) * cols, 0.0f);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    float* mine = partial.data() + t * cols;
    std::vector<float> block(cols);
    for (int64_t k = t; k < blocks; k += threads) {
      std::fill(block.begin(), block.end(), 0.0f);
      add_rows(x, block.data(), k * kBlock, std::min(rows, (k + 1) * kBlock), cols);
      for (int64_t j = 0; j < cols; j++) mine[j] += block[j];
    }
  }
  for (int64_t j = 0; j < cols; j++) {
    float s = 0.0f;
    for (int t = 0; t < threads; t++) s += partial[t * cols + j];
    out[j] = divisor == 1.0f ? s : s / divisor;
  }
}

}  // namespace elementwise
