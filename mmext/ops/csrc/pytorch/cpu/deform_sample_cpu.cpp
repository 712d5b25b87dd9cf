// Deformable key/value sampling (DAT, Xia et al. CVPR 2022, Sec. 3.2) on the
// CPU: bilinear sampling of (N, C, H, W) features at (N, P, 2) normalised
// (x, y) positions, zero padding, align_corners=True; F.grid_sample's maths.
//
// Layout of the work: one task per sampled map n, which owns its output
// (or its grad_input planes and its P position gradients), so no atomics
// and no shared scratch; points are taken in blocks of kBlock.
//
// Forward: per block, the four corner offsets and bilinear weights of every
// point (once for all C channels), then per channel a branch-free gather
// (AVX2 gathers for float32).
//
// Backward: the map is handled channels last. Its (C, H*W) features are
// transposed (8 x 8 shuffle tiles) into an (H*W + 1, Cs) scratch (Cs: C
// padded to the vector width) whose last row is zero, and their gradient is
// accumulated in a scratch of the same shape. A corner outside the map is
// redirected to that last row: it reads zeros and its gradient is
// discarded, with no masks or branches per channel. Per block, one
// vectorised pass computes the four corner rows and the fractional position
// of every point, the incoming gradient is transposed to (points, Cs), and
// every point then reads and updates whole rows of channels, kCs or kLanes
// values at a time. This suits both DAT shapes: 128 channels at ~200
// points, and the relative-position-bias tables (3-4 channels at ~10^5
// points), where a pass per channel (scalar scatters) would redo the
// per-point work C times. It is specialised for the gradients asked for.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mmext {
namespace {

// Force inlining into the AVX2/O3 clones below: GCC does not inline plain
// helpers into a function with other optimisation options, and a call per
// point costs more than the work it does.
#define MMEXT_INLINE inline __attribute__((always_inline))

// Scalars or GCC vectors (SSE/AVX registers, split by the compiler where
// wider) of L values of type T, loaded and stored without alignment
// assumptions; L = 1 is the plain scalar.
template <typename T, int64_t L>
struct VecOf {
  typedef T type __attribute__((vector_size(L * sizeof(T)), aligned(sizeof(T))));
};
template <typename T>
struct VecOf<T, 1> {
  using type = T;
};
template <typename T, int64_t L>
using Vec = typename VecOf<T, L>::type;

template <typename V, typename T>
MMEXT_INLINE V vload(const T* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}

template <typename V, typename T>
MMEXT_INLINE void vstore(T* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}

// Element-wise conversion (truncating to integers) of a scalar or vector.
template <typename To, typename From>
MMEXT_INLINE To convert(From x) {
  if constexpr (std::is_arithmetic_v<From>) {
    return static_cast<To>(x);
  } else {
    return __builtin_convertvector(x, To);
  }
}

// The cells of sampled points (one, or a vector of them): top-left corner
// (x0, y0) in pixels and fractional parts (tx, ty), from normalised
// (gx, gy) unnormalised with align_corners=True (-1 -> centre of the first
// pixel, 1 -> of the last). Positions are clamped to [-2, W + 1] x
// [-2, H + 1] first: every corner of a clamped position is outside the map,
// the integer conversion stays defined and floor is a truncation plus
// fix-up instead of a libm call. Non-finite positions give finite = false
// (a zero mask) and the cell at (0, 0). V: float type or vector, I: int32_t
// or a vector of as many int32_t.
template <typename V, typename I>
struct Cell {
  I x0, y0;
  V tx, ty;
  decltype(V{} == V{}) finite;
};

template <typename V, typename I, typename acc_t>
MMEXT_INLINE Cell<V, I> locate(V gx, V gy, acc_t sx, acc_t sy, int32_t H,
                               int32_t W) {
  const V zero{}, lo = zero - 2, hix = zero + acc_t(W + 1),
          hiy = zero + acc_t(H + 1);
  const V ix = (gx + 1) * sx, iy = (gy + 1) * sy;
  // NaN and +-inf fail this test (inf - inf is NaN)
  const auto finite = (ix - ix == 0) & (iy - iy == 0);
  // clamps as ternaries: std::min/max are not inlined into the O3 clones
  const V xl = ix > lo ? ix : lo, yl = iy > lo ? iy : lo;
  const V xc = finite ? (xl < hix ? xl : hix) : zero;
  const V yc = finite ? (yl < hiy ? yl : hiy) : zero;
  I x0 = convert<I>(xc), y0 = convert<I>(yc);
  x0 = convert<V>(x0) > xc ? x0 - 1 : x0;
  y0 = convert<V>(y0) > yc ? y0 - 1 : y0;
  return {x0, y0, xc - convert<V>(x0), yc - convert<V>(y0), finite};
}

// Points per block: small enough that the block's offsets, weights and
// rows stay in L1, large enough to amortise the per-block set-up.
constexpr int64_t kBlock = 256;

// One block of the forward pass for one map: corner offsets and weights of
// `len` points (pass 1), then for every channel a branch-free gather (pass
// 2). Outside corners get offset 0 and weight 0, non-finite positions weight
// NaN. MMEXT_AVX2 builds a copy for AVX2/FMA CPUs, picked at run time; for
// float32 that is forward_block_avx2_f32 below, written with intrinsics
// because GCC leaves these loops scalar (no gathers).
#define MMEXT_FORWARD_BLOCK_BODY                                              \
  int32_t idx[4][kBlock];                                                     \
  acc_t wgt[4][kBlock];                                                       \
  const acc_t sx = acc_t(0.5) * acc_t(W - 1), sy = acc_t(0.5) * acc_t(H - 1); \
  const int32_t W32 = static_cast<int32_t>(W), H32 = static_cast<int32_t>(H); \
  for (int64_t j = 0; j < len; ++j) {                                         \
    const Cell<acc_t, int32_t> k = locate<acc_t, int32_t>(                    \
        acc_t(g[2 * j]), acc_t(g[2 * j + 1]), sx, sy, H32, W32);              \
    const int32_t x0 = k.x0, y0 = k.y0;                                       \
    const acc_t tx = k.tx, ty = k.ty;                                         \
    const bool vx0 = (x0 >= 0) & (x0 < W32), vx1 = (x0 >= -1) & (x0 < W32 - 1); \
    const bool vy0 = (y0 >= 0) & (y0 < H32), vy1 = (y0 >= -1) & (y0 < H32 - 1); \
    const acc_t bad = k.finite ? acc_t(0) : nan;                              \
    idx[0][j] = vy0 & vx0 ? y0 * W32 + x0 : 0;                        \
    idx[1][j] = vy0 & vx1 ? y0 * W32 + x0 + 1 : 0;                    \
    idx[2][j] = vy1 & vx0 ? (y0 + 1) * W32 + x0 : 0;                  \
    idx[3][j] = vy1 & vx1 ? (y0 + 1) * W32 + x0 + 1 : 0;              \
    wgt[0][j] = (vy0 & vx0 ? (1 - tx) * (1 - ty) : acc_t(0)) + bad;          \
    wgt[1][j] = (vy0 & vx1 ? tx * (1 - ty) : acc_t(0)) + bad;                \
    wgt[2][j] = (vy1 & vx0 ? (1 - tx) * ty : acc_t(0)) + bad;                \
    wgt[3][j] = (vy1 & vx1 ? tx * ty : acc_t(0)) + bad;                      \
  }                                                                           \
  for (int64_t c = 0; c < C; ++c) {                                           \
    const scalar_t* plane = maps + c * HW;                                    \
    scalar_t* oc = o + c * P;                                                 \
    for (int64_t j = 0; j < len; ++j) {                                       \
      oc[j] = static_cast<scalar_t>(wgt[0][j] * acc_t(plane[idx[0][j]]) +     \
                                    wgt[1][j] * acc_t(plane[idx[1][j]]) +     \
                                    wgt[2][j] * acc_t(plane[idx[2][j]]) +     \
                                    wgt[3][j] * acc_t(plane[idx[3][j]]));     \
    }                                                                         \
  }

template <typename scalar_t>
void forward_block(const scalar_t* g, const scalar_t* maps, scalar_t* o,
                   int64_t len, int64_t C, int64_t H, int64_t W, int64_t HW,
                   int64_t P) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t nan = std::numeric_limits<acc_t>::quiet_NaN();
  MMEXT_FORWARD_BLOCK_BODY
}

#if defined(__GNUC__) && defined(__x86_64__)
#define MMEXT_AVX2 1
// float32 with AVX2 intrinsics, 8 points at a time, the same arithmetic as
// MMEXT_FORWARD_BLOCK_BODY (GCC does not vectorise that loop's gathers). A
// partial last group of 8 is computed from a zero-padded copy of its
// positions and stored with a mask.
__attribute__((target("avx2,fma"))) void forward_block_avx2_f32(
    const float* g, const float* maps, float* o, int64_t len, int64_t C,
    int64_t H, int64_t W, int64_t HW, int64_t P) {
  alignas(32) int32_t idx[4][kBlock];
  alignas(32) float wgt[4][kBlock];
  const __m256 one = _mm256_set1_ps(1.f), zero = _mm256_setzero_ps();
  const __m256 sx = _mm256_set1_ps(0.5f * float(W - 1));
  const __m256 sy = _mm256_set1_ps(0.5f * float(H - 1));
  const __m256 lo = _mm256_set1_ps(-2.f);
  const __m256 hix = _mm256_set1_ps(float(W + 1));
  const __m256 hiy = _mm256_set1_ps(float(H + 1));
  const __m256 nan = _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN());
  const __m256i m1 = _mm256_set1_epi32(-1), m2 = _mm256_set1_epi32(-2);
  const __m256i w32 = _mm256_set1_epi32(static_cast<int32_t>(W));
  const __m256i h32 = _mm256_set1_epi32(static_cast<int32_t>(H));
  const __m256i w1 = _mm256_set1_epi32(static_cast<int32_t>(W - 1));
  const __m256i h1 = _mm256_set1_epi32(static_cast<int32_t>(H - 1));
  const __m256i i1 = _mm256_set1_epi32(1);
  for (int64_t j = 0; j < len; j += 8) {
    alignas(32) float pad[16] = {};
    const float* gj = g + 2 * j;
    if (len - j < 8) {
      std::copy(gj, gj + 2 * (len - j), pad);
      gj = pad;
    }
    // (x, y) pairs -> 8 x and 8 y
    const __m256 a = _mm256_loadu_ps(gj), b = _mm256_loadu_ps(gj + 8);
    const __m256 gx = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    const __m256 gy = _mm256_castpd_ps(_mm256_permute4x64_pd(
        _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
    const __m256 ix = _mm256_mul_ps(_mm256_add_ps(gx, one), sx);
    const __m256 iy = _mm256_mul_ps(_mm256_add_ps(gy, one), sy);
    // NaN and +-inf fail (inf - inf is NaN)
    const __m256 finite = _mm256_and_ps(
        _mm256_cmp_ps(_mm256_sub_ps(ix, ix), zero, _CMP_EQ_OQ),
        _mm256_cmp_ps(_mm256_sub_ps(iy, iy), zero, _CMP_EQ_OQ));
    const __m256 xc = _mm256_and_ps(
        _mm256_min_ps(_mm256_max_ps(ix, lo), hix), finite);
    const __m256 yc = _mm256_and_ps(
        _mm256_min_ps(_mm256_max_ps(iy, lo), hiy), finite);
    const __m256 xf = _mm256_floor_ps(xc), yf = _mm256_floor_ps(yc);
    const __m256 tx = _mm256_sub_ps(xc, xf), ty = _mm256_sub_ps(yc, yf);
    const __m256i x0 = _mm256_cvttps_epi32(xf), y0 = _mm256_cvttps_epi32(yf);
    const __m256i vx0 = _mm256_and_si256(_mm256_cmpgt_epi32(x0, m1),
                                         _mm256_cmpgt_epi32(w32, x0));
    const __m256i vx1 = _mm256_and_si256(_mm256_cmpgt_epi32(x0, m2),
                                         _mm256_cmpgt_epi32(w1, x0));
    const __m256i vy0 = _mm256_and_si256(_mm256_cmpgt_epi32(y0, m1),
                                         _mm256_cmpgt_epi32(h32, y0));
    const __m256i vy1 = _mm256_and_si256(_mm256_cmpgt_epi32(y0, m2),
                                         _mm256_cmpgt_epi32(h1, y0));
    const __m256i base = _mm256_add_epi32(_mm256_mullo_epi32(y0, w32), x0);
    const __m256i below = _mm256_add_epi32(base, w32);
    const __m256i v[4] = {_mm256_and_si256(vy0, vx0),
                          _mm256_and_si256(vy0, vx1),
                          _mm256_and_si256(vy1, vx0),
                          _mm256_and_si256(vy1, vx1)};
    const __m256i corner[4] = {base, _mm256_add_epi32(base, i1), below,
                               _mm256_add_epi32(below, i1)};
    const __m256 ux = _mm256_sub_ps(one, tx), uy = _mm256_sub_ps(one, ty);
    const __m256 w[4] = {_mm256_mul_ps(ux, uy), _mm256_mul_ps(tx, uy),
                         _mm256_mul_ps(ux, ty), _mm256_mul_ps(tx, ty)};
    const __m256 bad = _mm256_andnot_ps(finite, nan);
    for (int k = 0; k < 4; ++k) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(idx[k] + j),
                         _mm256_and_si256(v[k], corner[k]));
      _mm256_store_ps(wgt[k] + j,
                      _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(v[k]),
                                                  w[k]),
                                    bad));
    }
  }
  const int64_t rest = len % 8;
  const __m256i tail = _mm256_cmpgt_epi32(
      _mm256_set1_epi32(static_cast<int32_t>(rest)),
      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t c = 0; c < C; ++c) {
    const float* plane = maps + c * HW;
    float* oc = o + c * P;
    for (int64_t j = 0; j < len; j += 8) {
      __m256 acc = zero;
      for (int k = 0; k < 4; ++k) {
        const __m256i ik =
            _mm256_load_si256(reinterpret_cast<const __m256i*>(idx[k] + j));
        acc = _mm256_add_ps(acc,
                            _mm256_mul_ps(_mm256_load_ps(wgt[k] + j),
                                          _mm256_i32gather_ps(plane, ik, 4)));
      }
      if (len - j >= 8) {
        _mm256_storeu_ps(oc + j, acc);
      } else {
        _mm256_maskstore_ps(oc + j, tail, acc);
      }
    }
  }
}

template <typename scalar_t>
__attribute__((target("avx2,fma"), optimize("O3"))) void forward_block_avx2(
    const scalar_t* g, const scalar_t* maps, scalar_t* o, int64_t len,
    int64_t C, int64_t H, int64_t W, int64_t HW, int64_t P) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t nan = std::numeric_limits<acc_t>::quiet_NaN();
  MMEXT_FORWARD_BLOCK_BODY
}
#endif
#undef MMEXT_FORWARD_BLOCK_BODY

template <typename scalar_t>
void forward_kernel(const at::Tensor& input, const at::Tensor& grid,
                    at::Tensor& output) {
  const int64_t N = input.size(0), C = input.size(1), H = input.size(2),
                W = input.size(3);
  const int64_t HW = H * W, P = grid.size(1) * grid.size(2);
  const scalar_t* in = input.const_data_ptr<scalar_t>();
  const scalar_t* gr = grid.const_data_ptr<scalar_t>();
  scalar_t* out = output.mutable_data_ptr<scalar_t>();
  auto block = &forward_block<scalar_t>;
#ifdef MMEXT_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    if constexpr (std::is_same_v<scalar_t, float>) {
      block = &forward_block_avx2_f32;
    } else {
      block = &forward_block_avx2<scalar_t>;
    }
  }
#endif
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      for (int64_t p0 = 0; p0 < P; p0 += kBlock) {
        block(gr + (n * P + p0) * 2, in + n * C * HW, out + n * C * P + p0,
              std::min(kBlock, P - p0), C, H, W, HW, P);
      }
    }
  });
}

// dst[i * ld_dst + r] = src[r * ld_src + i] for an 8 x 8 float tile, in
// three rounds of two-vector shuffles (unpack, 64-bit, 128-bit lanes).
MMEXT_INLINE void transpose8x8(const float* src, int64_t ld_src, float* dst,
                               int64_t ld_dst) {
  using F8 = Vec<float, 8>;
  using I8 = Vec<int32_t, 8>;
  F8 r[8], t[8], u[8];
  for (int k = 0; k < 8; ++k) r[k] = vload<F8>(src + k * ld_src);
  for (int k = 0; k < 8; k += 2) {
    t[k] = __builtin_shuffle(r[k], r[k + 1], I8{0, 8, 1, 9, 4, 12, 5, 13});
    t[k + 1] =
        __builtin_shuffle(r[k], r[k + 1], I8{2, 10, 3, 11, 6, 14, 7, 15});
  }
  for (int k = 0; k < 8; k += 4) {
    for (int h = 0; h < 2; ++h) {
      u[k + 2 * h] = __builtin_shuffle(t[k + h], t[k + h + 2],
                                       I8{0, 1, 8, 9, 4, 5, 12, 13});
      u[k + 2 * h + 1] = __builtin_shuffle(t[k + h], t[k + h + 2],
                                           I8{2, 3, 10, 11, 6, 7, 14, 15});
    }
  }
  for (int k = 0; k < 4; ++k) {
    vstore(dst + k * ld_dst, __builtin_shuffle(u[k], u[k + 4],
                                               I8{0, 1, 2, 3, 8, 9, 10, 11}));
    vstore(dst + (k + 4) * ld_dst,
           __builtin_shuffle(u[k], u[k + 4], I8{4, 5, 6, 7, 12, 13, 14, 15}));
  }
}

// dst[i * ld_dst + r] = src[r * ld_src + i] for r < rows, i < cols; float to
// float in 8 x 8 tiles of shuffles, the rest element by element.
template <typename D, typename S>
MMEXT_INLINE void transpose(const S* src, int64_t rows, int64_t cols,
                            int64_t ld_src, D* dst, int64_t ld_dst) {
  constexpr bool tiles = std::is_same_v<S, float> && std::is_same_v<D, float>;
  const int64_t rt = tiles ? rows / 8 * 8 : 0, ct = tiles ? cols / 8 * 8 : 0;
  if constexpr (tiles) {
    for (int64_t r = 0; r < rt; r += 8) {
      for (int64_t i = 0; i < ct; i += 8) {
        transpose8x8(src + r * ld_src + i, ld_src, dst + i * ld_dst + r,
                     ld_dst);
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = r < rt ? ct : 0; i < cols; ++i) {
      dst[i * ld_dst + r] = static_cast<D>(src[r * ld_src + i]);
    }
  }
}

// Row width of the backward's channels-last scratch: kCs (4 or 8) when C
// fits, else (kCs = 0) C rounded up to kLanes. Rows are processed kCs or
// kLanes channels at a time as one vector.
constexpr int64_t kLanes = 8;

inline int64_t row_width(int64_t kCs, int64_t C) {
  return kCs ? kCs : (C + kLanes - 1) / kLanes * kLanes;
}

template <typename scalar_t>
struct Args {
  const scalar_t* in;    // (N, C, H*W), contiguous
  const scalar_t* grid;  // (N, P, 2), contiguous
  const scalar_t* gout;  // (N, C, Hk, Wk), strides so_*
  scalar_t* gin;         // (N, C, H*W) or nullptr when not needed
  scalar_t* ggrid;       // (N, P, 2) or nullptr when not needed
  int64_t C, H, W, P, Wk, so_n, so_c, so_h, so_w;
};

// Per point of a block: the scratch offsets of its four corner rows (nw,
// ne, sw, se; outside corners: the zero row at HW * Cs) and its fractional
// position (NaN for a non-finite position, whose corners are all the zero
// row: its samples and its position gradient come out NaN and its feature
// gradient lands in the discarded row).
template <typename acc_t>
struct BlockCorners {
  int32_t row[4][kBlock];
  acc_t tx[kBlock], ty[kBlock];
};

// Corners of the `len` points at `gb` ((x, y) pairs), G points at a time: a
// vector of 8 for float accumulation (float, half, bfloat16), scalars for
// double.
template <typename scalar_t, typename acc_t>
MMEXT_INLINE void corners(const scalar_t* gb, int64_t len, int64_t H,
                          int64_t W, int64_t Cs, BlockCorners<acc_t>& b) {
  constexpr int64_t G = std::is_same_v<acc_t, float> ? 8 : 1;
  using VG = Vec<acc_t, G>;
  using IG = Vec<int32_t, G>;
  const acc_t sx = acc_t(0.5) * acc_t(W - 1), sy = acc_t(0.5) * acc_t(H - 1);
  const int32_t W32 = static_cast<int32_t>(W), H32 = static_cast<int32_t>(H);
  const int32_t Cs32 = static_cast<int32_t>(Cs);
  const IG zero_row = IG{} + static_cast<int32_t>(H * W * Cs);
  const VG nan = VG{} + std::numeric_limits<acc_t>::quiet_NaN();
  for (int64_t j = 0; j < len; j += G) {
    VG gx{}, gy{};
    if constexpr (G == 1) {
      gx = acc_t(gb[2 * j]);
      gy = acc_t(gb[2 * j + 1]);
    } else {
      // a partial last group is zero-padded (kBlock % G == 0)
      const int64_t m = len - j < G ? len - j : G;
      for (int64_t l = 0; l < m; ++l) {
        gx[l] = acc_t(gb[2 * (j + l)]);
        gy[l] = acc_t(gb[2 * (j + l) + 1]);
      }
    }
    const Cell<VG, IG> k = locate<VG, IG>(gx, gy, sx, sy, H32, W32);
    const auto vx0 = (k.x0 >= 0) & (k.x0 < W32);
    const auto vx1 = (k.x0 >= -1) & (k.x0 < W32 - 1);
    const auto vy0 = (k.y0 >= 0) & (k.y0 < H32) & k.finite;
    const auto vy1 = (k.y0 >= -1) & (k.y0 < H32 - 1) & k.finite;
    const IG base = (k.y0 * W32 + k.x0) * Cs32;
    vstore(b.row[0] + j, (vy0 & vx0) ? base : zero_row);
    vstore(b.row[1] + j, (vy0 & vx1) ? base + Cs32 : zero_row);
    vstore(b.row[2] + j, (vy1 & vx0) ? base + W32 * Cs32 : zero_row);
    vstore(b.row[3] + j, (vy1 & vx1) ? base + (W32 + 1) * Cs32 : zero_row);
    vstore(b.tx + j, k.finite ? k.tx : nan);
    vstore(b.ty + j, k.finite ? k.ty : nan);
  }
}

// The backward pass over maps [begin, end); `scratch` holds
// (2 * (H*W + 1) + kBlock) * Cs values: the features, their gradient, the
// block's incoming gradient.
template <typename scalar_t, int64_t kCs, bool need_input, bool need_grid>
struct BackwardPass {
  using acc_t = at::opmath_type<scalar_t>;

  static int64_t scratch_size(const Args<scalar_t>& a) {
    return (2 * (a.H * a.W + 1) + kBlock) * row_width(kCs, a.C);
  }

  static MMEXT_INLINE void run(const Args<scalar_t>& a, int64_t begin,
                               int64_t end, acc_t* scratch) {
    constexpr int64_t L = kCs ? kCs : kLanes;
    using V = Vec<acc_t, L>;
    const int64_t C = a.C, HW = a.H * a.W, P = a.P, Cs = row_width(kCs, C);
    acc_t* xt = scratch;                  // (HW + 1, Cs) features
    acc_t* gt = scratch + (HW + 1) * Cs;  // (HW + 1, Cs) their gradient
    acc_t* gvb = gt + (HW + 1) * Cs;      // (kBlock, Cs) grad_output rows
    BlockCorners<acc_t> b;
    int64_t off[kBlock];
    const acc_t sx = acc_t(0.5) * acc_t(a.W - 1);
    const acc_t sy = acc_t(0.5) * acc_t(a.H - 1);
    // zero rows and padding channels stay zero: only [0, HW) x [0, C) of xt
    // and [0, C) of the gvb rows are written below
    for (int64_t i = 0; i < scratch_size(a); ++i) scratch[i] = 0;
    for (int64_t n = begin; n < end; ++n) {
      if (need_grid) {
        transpose(a.in + n * C * HW, C, HW, HW, xt, Cs);
      }
      if (need_input) {
        for (int64_t i = 0; i < (HW + 1) * Cs; ++i) gt[i] = 0;
      }
      const scalar_t* go = a.gout + n * a.so_n;
      for (int64_t p0 = 0; p0 < P; p0 += kBlock) {
        const int64_t len = P - p0 < kBlock ? P - p0 : kBlock;
        corners(a.grid + (n * P + p0) * 2, len, a.H, a.W, Cs, b);
        // the block's incoming gradient, transposed to (len, Cs); read
        // through its strides: the gradient of a sum is an expanded
        // (stride-0) tensor that must not be materialised
        if (a.so_w == 1 && a.so_h == a.Wk) {
          transpose(go + p0, C, len, a.so_c, gvb, Cs);
        } else {
          // offsets in grad_output without a division per point
          for (int64_t j = 0, ph = p0 / a.Wk, pw = p0 % a.Wk; j < len; ++j) {
            off[j] = ph * a.so_h + pw * a.so_w;
            const bool wrap = ++pw == a.Wk;
            ph += wrap;
            pw = wrap ? 0 : pw;
          }
          for (int64_t c = 0; c < C; ++c) {
            const scalar_t* goc = go + c * a.so_c;
            for (int64_t j = 0; j < len; ++j) {
              gvb[j * Cs + c] = acc_t(goc[off[j]]);
            }
          }
        }
        for (int64_t j = 0; j < len; ++j) {
          const acc_t* gv = gvb + j * Cs;
          const acc_t tx = b.tx[j], ty = b.ty[j], ux = 1 - tx, uy = 1 - ty;
          if (need_input) {
            // corner by corner: outside corners share the discarded row
            const acc_t w[4] = {ux * uy, tx * uy, ux * ty, tx * ty};
            for (int k = 0; k < 4; ++k) {
              acc_t* r = gt + b.row[k][j];
              for (int64_t c = 0; c < Cs; c += L) {
                vstore(r + c, vload<V>(r + c) + w[k] * vload<V>(gv + c));
              }
            }
          }
          if (need_grid) {
            const acc_t* v00 = xt + b.row[0][j];
            const acc_t* v01 = xt + b.row[1][j];
            const acc_t* v10 = xt + b.row[2][j];
            const acc_t* v11 = xt + b.row[3][j];
            V dx{}, dy{};
            for (int64_t c = 0; c < Cs; c += L) {
              const V a00 = vload<V>(v00 + c), a01 = vload<V>(v01 + c);
              const V a10 = vload<V>(v10 + c), a11 = vload<V>(v11 + c);
              const V g = vload<V>(gv + c);
              dx += g * ((a01 - a00) * uy + (a11 - a10) * ty);
              dy += g * ((a10 - a00) * ux + (a11 - a01) * tx);
            }
            acc_t sum_x = 0, sum_y = 0;
            for (int64_t l = 0; l < L; ++l) {
              sum_x += dx[l];
              sum_y += dy[l];
            }
            scalar_t* out = a.ggrid + (n * P + p0 + j) * 2;
            out[0] = static_cast<scalar_t>(sum_x * sx);
            out[1] = static_cast<scalar_t>(sum_y * sy);
          }
        }
      }
      if (need_input) {
        transpose(gt, HW, C, Cs, a.gin + n * C * HW, HW);
      }
    }
  }
};

// Pass::run compiled for the baseline ISA and, on x86-64, for AVX2/FMA,
// picked at run time.
template <typename Pass, typename scalar_t, typename acc_t>
void run_pass(const Args<scalar_t>& a, int64_t begin, int64_t end,
              acc_t* scratch) {
  Pass::run(a, begin, end, scratch);
}

#ifdef MMEXT_AVX2
template <typename Pass, typename scalar_t, typename acc_t>
__attribute__((target("avx2,fma"), optimize("O3"))) void run_pass_avx2(
    const Args<scalar_t>& a, int64_t begin, int64_t end, acc_t* scratch) {
  Pass::run(a, begin, end, scratch);
}
#endif

// Pass over all N maps, one task per map, each thread with its own scratch
// (a few rows per thread, negligible next to the tensors).
template <typename Pass, typename scalar_t>
void parallel_maps(const Args<scalar_t>& a, int64_t N) {
  using acc_t = at::opmath_type<scalar_t>;
  auto fn = &run_pass<Pass, scalar_t, acc_t>;
#ifdef MMEXT_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fn = &run_pass_avx2<Pass, scalar_t, acc_t>;
  }
#endif
  const int64_t size = Pass::scratch_size(a);
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    std::vector<acc_t> scratch(size);
    fn(a, begin, end, scratch.data());
  });
}

// Calls f with std::integral_constant<int64_t, kCs>, the row width for C.
template <typename F>
void with_row_width(int64_t C, F&& f) {
  if (C <= 4) {
    f(std::integral_constant<int64_t, 4>{});
  } else if (C <= 8) {
    f(std::integral_constant<int64_t, 8>{});
  } else {
    f(std::integral_constant<int64_t, 0>{});
  }
}

template <typename scalar_t>
Args<scalar_t> make_args(const at::Tensor& in, const at::Tensor& gr) {
  Args<scalar_t> a{};
  a.in = in.const_data_ptr<scalar_t>();
  a.grid = gr.const_data_ptr<scalar_t>();
  a.C = in.size(1);
  a.H = in.size(2);
  a.W = in.size(3);
  a.P = gr.size(1) * gr.size(2);
  a.Wk = gr.size(2);
  // int32 scratch offsets
  TORCH_CHECK((a.H * a.W + 1) * row_width(0, a.C) <
                  std::numeric_limits<int32_t>::max(),
              "deform_sample: a map of ", a.C, " x ", a.H, " x ", a.W,
              " is too large for the CPU kernel");
  return a;
}

}  // namespace

at::Tensor deform_sample_forward_cpu(const at::Tensor& input,
                                     const at::Tensor& grid) {
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  at::Tensor output = at::empty(
      {in.size(0), in.size(1), gr.size(1), gr.size(2)}, in.options());
  if (output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_forward_cpu",
      [&] { forward_kernel<scalar_t>(in, gr, output); });
  return output;
}

std::tuple<at::Tensor, at::Tensor> deform_sample_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input,
    const at::Tensor& grid, bool need_input, bool need_grid) {
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  // A gradient that is not needed is returned as an empty tensor; the ones
  // needed are written in full, so they need no zero fill.
  at::Tensor grad_input =
      need_input ? at::empty_like(in) : at::empty({0}, in.options());
  at::Tensor grad_grid =
      need_grid ? at::empty_like(gr) : at::empty({0}, gr.options());
  if (in.numel() == 0 || gr.numel() == 0) {
    grad_input.zero_();
    grad_grid.zero_();
    return {grad_input, grad_grid};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_backward_cpu",
      [&] {
        Args<scalar_t> a = make_args<scalar_t>(in, gr);
        a.gout = grad_output.const_data_ptr<scalar_t>();
        a.gin = need_input ? grad_input.mutable_data_ptr<scalar_t>() : nullptr;
        a.ggrid = need_grid ? grad_grid.mutable_data_ptr<scalar_t>() : nullptr;
        a.so_n = grad_output.stride(0);
        a.so_c = grad_output.stride(1);
        a.so_h = grad_output.stride(2);
        a.so_w = grad_output.stride(3);
        with_row_width(a.C, [&](auto cs) {
          constexpr int64_t kCs = decltype(cs)::value;
          if (need_input && need_grid) {
            parallel_maps<BackwardPass<scalar_t, kCs, true, true>>(
                a, in.size(0));
          } else if (need_input) {
            parallel_maps<BackwardPass<scalar_t, kCs, true, false>>(
                a, in.size(0));
          } else if (need_grid) {
            parallel_maps<BackwardPass<scalar_t, kCs, false, true>>(
                a, in.size(0));
          }
        });
      });
  return {grad_input, grad_grid};
}

}  // namespace mmext
