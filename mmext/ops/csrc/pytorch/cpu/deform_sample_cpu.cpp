// Deformable key/value sampling (DAT, Xia et al. CVPR 2022, Sec. 3.2) on the
// CPU: bilinear sampling of (N, C, H, W) features at (N, P, 2) normalised
// (x, y) positions, zero padding, align_corners=True; F.grid_sample's maths.
//
// Layout of the work: one task per sampled map n; inside it, one pass over
// the points, each computing its four corner offsets and bilinear weights
// once and applying them to all C channels. The backward pass owns map n
// completely (its grad_input planes and its P position gradients), so it
// needs no atomics and no per-thread scratch buffers, and it is specialised
// for the gradients asked for.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <type_traits>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mmext {
namespace {

// Corner offsets into an H*W plane (-1: outside the map) and the fractional
// parts of the unnormalised position, for one sampled point.
template <typename acc_t>
struct Corners {
  int64_t idx[4];  // nw, ne, sw, se
  acc_t tx, ty;
  bool finite;
};

template <typename acc_t>
inline Corners<acc_t> make_corners(acc_t gx, acc_t gy, int64_t H, int64_t W) {
  Corners<acc_t> c;
  // align_corners=True: -1 -> centre of the first pixel, 1 -> of the last.
  const acc_t ix = (gx + 1) * acc_t(0.5) * acc_t(W - 1);
  const acc_t iy = (gy + 1) * acc_t(0.5) * acc_t(H - 1);
  c.finite = std::isfinite(ix) && std::isfinite(iy);
  if (!c.finite) {
    c.tx = c.ty = acc_t(0);
    c.idx[0] = c.idx[1] = c.idx[2] = c.idx[3] = -1;
    return c;
  }
  // Clamping first keeps the integer conversion defined for positions far
  // outside the map (all four corners are outside for any clamped value) and
  // lets floor be a truncation plus fix-up instead of a libm call.
  const acc_t xc = std::min(std::max(ix, acc_t(-2)), acc_t(W + 1));
  const acc_t yc = std::min(std::max(iy, acc_t(-2)), acc_t(H + 1));
  int64_t x0 = static_cast<int64_t>(xc), y0 = static_cast<int64_t>(yc);
  x0 -= acc_t(x0) > xc;
  y0 -= acc_t(y0) > yc;
  c.tx = xc - acc_t(x0);
  c.ty = yc - acc_t(y0);
  const bool x0_in = x0 >= 0 && x0 < W, x1_in = x0 + 1 >= 0 && x0 + 1 < W;
  const bool y0_in = y0 >= 0 && y0 < H, y1_in = y0 + 1 >= 0 && y0 + 1 < H;
  c.idx[0] = y0_in && x0_in ? y0 * W + x0 : -1;
  c.idx[1] = y0_in && x1_in ? y0 * W + x0 + 1 : -1;
  c.idx[2] = y1_in && x0_in ? (y0 + 1) * W + x0 : -1;
  c.idx[3] = y1_in && x1_in ? (y0 + 1) * W + x0 + 1 : -1;
  return c;
}

// Points per block of the forward pass: small enough that the block's
// offsets and weights stay in L1, large enough to amortise the loop set-up.
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
    const acc_t ix = (acc_t(g[2 * j]) + 1) * sx;                              \
    const acc_t iy = (acc_t(g[2 * j + 1]) + 1) * sy;                          \
    /* NaN and +-inf fail this test (inf - inf is NaN) */                     \
    const bool finite = (ix - ix == 0) & (iy - iy == 0);                     \
    /* clamps as ternaries: std::min/max are not inlined into the */          \
    /* optimize("O3") clone and were called per point */                      \
    const acc_t xl = ix > acc_t(-2) ? ix : acc_t(-2);                         \
    const acc_t yl = iy > acc_t(-2) ? iy : acc_t(-2);                         \
    const acc_t xc = finite ? (xl < acc_t(W + 1) ? xl : acc_t(W + 1))         \
                            : acc_t(0);                                       \
    const acc_t yc = finite ? (yl < acc_t(H + 1) ? yl : acc_t(H + 1))         \
                            : acc_t(0);                                       \
    int32_t x0 = static_cast<int32_t>(xc), y0 = static_cast<int32_t>(yc);     \
    x0 -= acc_t(x0) > xc;                                                     \
    y0 -= acc_t(y0) > yc;                                                     \
    const acc_t tx = xc - acc_t(x0), ty = yc - acc_t(y0);                     \
    const bool vx0 = (x0 >= 0) & (x0 < W32), vx1 = (x0 >= -1) & (x0 < W32 - 1); \
    const bool vy0 = (y0 >= 0) & (y0 < H32), vy1 = (y0 >= -1) & (y0 < H32 - 1); \
    const acc_t bad = finite ? acc_t(0) : nan;                                \
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
__attribute__((target("arch=haswell"), optimize("O3"))) void forward_block_avx2(
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

template <typename scalar_t, bool need_input, bool need_grid>
void backward_kernel(const at::Tensor& grad_output, const at::Tensor& input,
                     const at::Tensor& grid, at::Tensor& grad_input,
                     at::Tensor& grad_grid) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t N = input.size(0), C = input.size(1), H = input.size(2),
                W = input.size(3);
  const int64_t HW = H * W, P = grid.size(1) * grid.size(2);
  const scalar_t* in = input.const_data_ptr<scalar_t>();
  const scalar_t* gr = grid.const_data_ptr<scalar_t>();
  // grad_output is read through its strides: the gradient of a sum is an
  // expanded (stride-0) tensor that must not be materialised.
  const scalar_t* gout = grad_output.const_data_ptr<scalar_t>();
  const int64_t Wk = grid.size(2);
  const int64_t so_n = grad_output.stride(0), so_c = grad_output.stride(1),
                so_h = grad_output.stride(2), so_w = grad_output.stride(3);
  scalar_t* gin = need_input ? grad_input.mutable_data_ptr<scalar_t>() : nullptr;
  scalar_t* ggrid = need_grid ? grad_grid.mutable_data_ptr<scalar_t>() : nullptr;
  // d(ix)/d(x) and d(iy)/d(y) of the align_corners=True unnormalisation.
  const acc_t sx = acc_t(0.5) * acc_t(W - 1), sy = acc_t(0.5) * acc_t(H - 1);
  const acc_t nan = std::numeric_limits<acc_t>::quiet_NaN();

  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      const scalar_t* g = gr + n * P * 2;
      for (int64_t p = 0; p < P; ++p) {
        const scalar_t* go = gout + n * so_n + (p / Wk) * so_h + (p % Wk) * so_w;
        const Corners<acc_t> k =
            make_corners<acc_t>(g[2 * p], g[2 * p + 1], H, W);
        if (!k.finite) {
          if (need_grid) {
            ggrid[(n * P + p) * 2] = ggrid[(n * P + p) * 2 + 1] =
                scalar_t(nan);
          }
          continue;
        }
        const acc_t w00 = (1 - k.tx) * (1 - k.ty), w01 = k.tx * (1 - k.ty);
        const acc_t w10 = (1 - k.tx) * k.ty, w11 = k.tx * k.ty;
        acc_t dx = 0, dy = 0;
        for (int64_t c = 0; c < C; ++c) {
          const acc_t gv = acc_t(go[c * so_c]);
          if (need_input) {
            scalar_t* gplane = gin + (n * C + c) * HW;
            if (k.idx[0] >= 0) gplane[k.idx[0]] += gv * w00;
            if (k.idx[1] >= 0) gplane[k.idx[1]] += gv * w01;
            if (k.idx[2] >= 0) gplane[k.idx[2]] += gv * w10;
            if (k.idx[3] >= 0) gplane[k.idx[3]] += gv * w11;
          }
          if (need_grid) {
            const scalar_t* plane = in + (n * C + c) * HW;
            const acc_t v00 = k.idx[0] >= 0 ? acc_t(plane[k.idx[0]]) : acc_t(0);
            const acc_t v01 = k.idx[1] >= 0 ? acc_t(plane[k.idx[1]]) : acc_t(0);
            const acc_t v10 = k.idx[2] >= 0 ? acc_t(plane[k.idx[2]]) : acc_t(0);
            const acc_t v11 = k.idx[3] >= 0 ? acc_t(plane[k.idx[3]]) : acc_t(0);
            dx += gv * ((v01 - v00) * (1 - k.ty) + (v11 - v10) * k.ty);
            dy += gv * ((v10 - v00) * (1 - k.tx) + (v11 - v01) * k.tx);
          }
        }
        if (need_grid) {
          ggrid[(n * P + p) * 2] = static_cast<scalar_t>(dx * sx);
          ggrid[(n * P + p) * 2 + 1] = static_cast<scalar_t>(dy * sy);
        }
      }
    }
  });
}

}  // namespace

at::Tensor deform_sample_forward_cpu(const at::Tensor& input,
                                     const at::Tensor& grid) {
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  at::Tensor output = at::empty(
      {in.size(0), in.size(1), gr.size(1), gr.size(2)}, in.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_forward_cpu",
      [&] { forward_kernel<scalar_t>(in, gr, output); });
  return output;
}

std::tuple<at::Tensor, at::Tensor> deform_sample_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input,
    const at::Tensor& grid, bool need_input, bool need_grid) {
  const at::Tensor& go = grad_output;
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  // A gradient that is not needed is returned as an empty tensor.
  at::Tensor grad_input =
      need_input ? at::zeros_like(in) : at::empty({0}, in.options());
  at::Tensor grad_grid =
      need_grid ? at::empty_like(gr) : at::empty({0}, gr.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_backward_cpu",
      [&] {
        if (need_input && need_grid) {
          backward_kernel<scalar_t, true, true>(go, in, gr, grad_input,
                                                grad_grid);
        } else if (need_input) {
          backward_kernel<scalar_t, true, false>(go, in, gr, grad_input,
                                                 grad_grid);
        } else if (need_grid) {
          backward_kernel<scalar_t, false, true>(go, in, gr, grad_input,
                                                 grad_grid);
        }
      });
  return {grad_input, grad_grid};
}

}  // namespace mmext
