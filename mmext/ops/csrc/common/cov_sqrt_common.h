// Covariance square root (iSQRT-COV, Li et al., CVPR 2018): the algorithm,
// written once with ATen calls and shared by the CPU and CUDA kernels. Each
// device supplies the two gather/scatter kernels of the triangular
// vectorization (Kernels::triu_pack, Kernels::triu_unpack); everything else
// (batched products, elementwise updates) is ATen and runs on either device.
//
// Each device supplies the large buffers too (Kernels::workspace: a reused
// pool on CPU, the caching allocator on CUDA).
//
// Memory: the M x M centring matrix of the paper is never formed
// (Sigma = (X - mu)(X - mu)^T / M, dX = Gs X - (Gs mu) 1^T); every product
// of the forward is written once into a preallocated cache (K, B, C, C),
// K = 3 (N - 1) + 2, laid out as [A, Y_final, Y_0..Y_{N-2}, Z_0..Z_{N-2},
// T_1..T_{N-1}], and the backward reads it instead of recomputing. The
// layout is the one of mmext/ops/cov_sqrt_ref.py.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <tuple>

namespace mmext {
namespace cov_sqrt {

inline int64_t cache_size(int64_t num_iter) { return 3 * (num_iter - 1) + 2; }

inline void check_num_iter(int64_t num_iter) {
  TORCH_CHECK_VALUE(num_iter >= 1, "num_iter must be >= 1, but got ",
                    num_iter);
}

inline void check_batched(const at::Tensor& t, const char* fn,
                          const char* name, bool square) {
  TORCH_CHECK_VALUE(t.dim() == 3, fn, ": `", name,
                    "` must be 3-D (B, C, ", square ? "C" : "M",
                    "), but got ", t.dim(), "-D");
  TORCH_CHECK_VALUE(t.is_floating_point(), fn, ": `", name,
                    "` must be floating point, but got ", t.scalar_type());
  if (square) {
    TORCH_CHECK_VALUE(t.size(1) == t.size(2), fn, ": `", name,
                      "` must be square (B, C, C), but got ", t.sizes());
  }
}

// `values` is the input itself (square-root entry point) or the B traces of
// its covariance (fused op): NaN/Inf anywhere in X reaches a diagonal entry
// of the covariance, so B numbers are enough to detect it there.
inline void check_finite(const at::Tensor& values, const char* fn,
                         const char* name) {
  TORCH_CHECK_VALUE(at::isfinite(values).all().item<bool>(), fn,
                    ": input `", name,
                    "` contains NaN or Inf (or its covariance overflows ",
                    values.scalar_type(), ")");
}

inline at::Tensor bT(const at::Tensor& t) { return t.transpose(1, 2); }

inline std::tuple<at::Tensor, at::Tensor> cov_pool_forward(
    const at::Tensor& x_in) {
  check_batched(x_in, "cov_pool", "x", false);
  auto x = x_in.contiguous();
  auto mu = x.mean({2});
  auto xc = x - mu.unsqueeze(2);
  auto sigma = at::bmm(xc, bT(xc)).div_(x.size(2));
  return {sigma, mu};
}

template <typename Kernels>
at::Tensor cov_pool_backward(const at::Tensor& grad, const at::Tensor& x,
                             const at::Tensor& mu) {
  auto gs = Kernels::workspace(grad.sizes(), grad.options());
  at::add_out(gs, grad, bT(grad)).div_(x.size(2));
  return at::bmm(gs, x).sub_(at::bmm(gs, mu.unsqueeze(2)));
}

// Batched inner products <U_b, V_b> (B) of two contiguous (B, C, C) tensors,
// as one (1 x C^2) x (C^2 x 1) product per batch: no temporary.
inline at::Tensor batched_dot(const at::Tensor& u, const at::Tensor& v) {
  const int64_t b = u.size(0), cc = u.size(1) * u.size(2);
  return at::bmm(u.reshape({b, 1, cc}), v.reshape({b, cc, 1})).view({b});
}

// Newton-Schulz iterations. On entry cache[0] holds S (B, C, C); on return
// it holds A = S / t and the other slots all products. Returns
// t = max(tr(S), eps) (B).
inline at::Tensor sqrtm_fill_cache(at::Tensor& cache, int64_t num_iter,
                                   double eps) {
  const int64_t b = cache.size(1), c = cache.size(2), n = num_iter - 1;
  auto a = cache[0];
  auto t = a.diagonal(0, 1, 2).sum(-1).clamp_min(eps);
  a.div_(t.view({b, 1, 1}));
  auto eye15 = at::eye(c, a.options()).mul_(1.5).expand({b, c, c});
  // Z0 = (3I - A) / 2 lands in its cache slot (or a temporary for N = 1).
  auto z = n > 0 ? cache[2 + n] : at::empty_like(a);
  at::add_out(z, eye15, a, -0.5);
  auto y = n > 0 ? cache[2] : cache[1];
  at::bmm_out(y, a, z);
  for (int64_t k = 1; k <= n; ++k) {
    // T_k = 1.5 I - Z Y / 2: the product scaled in the GEMM (beta = 0, the
    // slot's old content is not read), then only the diagonal is touched.
    auto tk = cache[1 + 2 * n + k];
    at::baddbmm_out(tk, tk, z, y, 0.0, -0.5).diagonal(0, 1, 2).add_(1.5);
    auto y_next = k < n ? cache[2 + k] : cache[1];
    at::bmm_out(y_next, y, tk);
    if (k < n) {
      auto z_next = cache[2 + n + k];
      at::bmm_out(z_next, tk, z);
      z = z_next;
    }
    y = y_next;
  }
  return t;
}

// dL/dS from p = dL/dY_final = sqrt(t) dL/dOut. Every product writes into
// one of four work buffers (in-place baddbmm_ accumulates, nothing is
// copied); the result is one of them.
template <typename Kernels>
at::Tensor sqrtm_backward_impl(const at::Tensor& p,
                                      const at::Tensor& cache,
                                      const at::Tensor& t, int64_t num_iter,
                                      double eps) {
  const int64_t b = p.size(0), c = p.size(1), n = num_iter - 1;
  auto a = cache[0], y_final = cache[1];
  auto g_t = batched_dot(p, y_final).div_(t * 2);
  auto w0 = Kernels::workspace(p.sizes(), p.options()),
       w1 = Kernels::workspace(p.sizes(), p.options()),
       w2 = Kernels::workspace(p.sizes(), p.options());
  // free0 is a buffer no live gradient occupies when the loop ends.
  at::Tensor g_y, g_z, z0, free0 = w0;
  if (n == 0) {
    g_y = p;
    g_z = w1.zero_();
    z0 = w2;
    at::add_out(z0, at::eye(c, p.options()).mul_(1.5).expand({b, c, c}), a,
                -0.5);
  } else {
    auto y = cache[1 + n], z = cache[1 + 2 * n], tk = cache[1 + 3 * n];
    // Y_f = Y T, T = (3I - Z Y) / 2.
    auto ytp = at::bmm_out(w0, bT(y), p);
    g_y = at::bmm_out(w1, p, bT(tk)).baddbmm_(bT(z), ytp, 1.0, -0.5);
    g_z = at::baddbmm_out(w2, w2, ytp, bT(y), 0.0, -0.5);
    at::Tensor free1 = p;
    for (int64_t k = n - 1; k >= 1; --k) {
      y = cache[1 + k];
      z = cache[1 + n + k];
      tk = cache[1 + 2 * n + k];
      // (Y_k, Z_k) = (Y T, T Z), T = (3I - Z Y) / 2.
      auto g_t_mat = at::bmm_out(free0, bT(y), g_y).baddbmm_(g_z, bT(z));
      auto g_y_new = at::bmm_out(free1, g_y, bT(tk))
                         .baddbmm_(bT(z), g_t_mat, 1.0, -0.5);
      auto g_z_new =
          at::bmm_out(g_y, bT(tk), g_z).baddbmm_(g_t_mat, bT(y), 1.0, -0.5);
      free0 = g_t_mat;
      free1 = g_z;
      g_y = g_y_new;
      g_z = g_z_new;
    }
    z0 = cache[2 + n];
  }
  // Y0 = A Z0, Z0 = (3I - A) / 2: dL/dZ0 += A^T dL/dY0.
  g_z.baddbmm_(bT(a), g_y);
  auto g_a = at::bmm_out(free0, g_y, bT(z0)).add_(g_z, -0.5);
  // A = S / t, t = tr(S) where not clamped.
  g_t.sub_(batched_dot(g_a, a).div_(t));
  g_t = at::where(t > eps, g_t, at::zeros_like(g_t));
  g_a.div_(t.view({b, 1, 1}));
  g_a.diagonal(0, 1, 2).add_(g_t.unsqueeze(1));
  return g_a;
}

template <typename Kernels>
struct Ops {
  static std::tuple<at::Tensor, at::Tensor> cov_pool_fwd(const at::Tensor& x) {
    return cov_pool_forward(x);
  }

  static at::Tensor cov_pool_bwd(const at::Tensor& grad, const at::Tensor& x,
                                 const at::Tensor& mu) {
    return cov_pool_backward<Kernels>(grad.contiguous(), x.contiguous(),
                                      mu);
  }

  static std::tuple<at::Tensor, at::Tensor, at::Tensor> sqrtm_fwd(
      const at::Tensor& s_in, int64_t num_iter, double eps) {
    check_batched(s_in, "newton_schulz_sqrt", "s", true);
    check_num_iter(num_iter);
    auto s = s_in.contiguous();
    check_finite(s, "newton_schulz_sqrt", "s");
    auto cache = Kernels::workspace(
        {cache_size(num_iter), s.size(0), s.size(1), s.size(2)}, s.options());
    cache[0].copy_(s);
    auto t = sqrtm_fill_cache(cache, num_iter, eps);
    auto y = cache[1] * t.sqrt().view({s.size(0), 1, 1});
    return {y, cache, t};
  }

  static at::Tensor sqrtm_bwd(const at::Tensor& grad, const at::Tensor& cache,
                              const at::Tensor& t, int64_t num_iter,
                              double eps) {
    auto p = grad * t.sqrt().view({grad.size(0), 1, 1});
    return sqrtm_backward_impl<Kernels>(p, cache, t, num_iter, eps);
  }

  static at::Tensor triu_fwd(const at::Tensor& m) {
    check_batched(m, "triu_vec", "m", true);
    return Kernels::triu_pack(m.contiguous(), at::Tensor());
  }

  static at::Tensor triu_bwd(const at::Tensor& grad, int64_t dim) {
    return Kernels::triu_unpack(grad.contiguous(), dim, at::Tensor());
  }

  static std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>
  isqrt_cov_fwd(const at::Tensor& x_in, int64_t num_iter, double eps,
                bool triu) {
    check_batched(x_in, "isqrt_cov", "x", false);
    check_num_iter(num_iter);
    auto x = x_in.contiguous();
    const int64_t c = x.size(1);
    auto mu = x.mean({2});
    auto cache = Kernels::workspace({cache_size(num_iter), x.size(0), c, c},
                                    x.options());
    {
      auto xc = Kernels::workspace(x.sizes(), x.options());
      at::sub_out(xc, x, mu.unsqueeze(2));
      auto sigma = cache[0];
      at::bmm_out(sigma, xc, bT(xc)).div_(x.size(2));
    }
    check_finite(cache[0].diagonal(0, 1, 2).sum(-1), "isqrt_cov", "x");
    auto t = sqrtm_fill_cache(cache, num_iter, eps);
    auto scale = t.sqrt();
    auto out = triu ? Kernels::triu_pack(cache[1], scale)
                    : cache[1] * scale.view({x.size(0), 1, 1});
    return {out, mu, cache, t};
  }

  static at::Tensor isqrt_cov_bwd(const at::Tensor& grad, const at::Tensor& x,
                                  const at::Tensor& mu,
                                  const at::Tensor& cache, const at::Tensor& t,
                                  int64_t num_iter, double eps, bool triu) {
    auto scale = t.sqrt();
    auto p = triu ? Kernels::triu_unpack(grad.contiguous(), x.size(1), scale)
                  : grad * scale.view({x.size(0), 1, 1});
    auto g_sigma = sqrtm_backward_impl<Kernels>(p, cache, t, num_iter, eps);
    return cov_pool_backward<Kernels>(g_sigma, x.contiguous(), mu);
  }
};

}  // namespace cov_sqrt
}  // namespace mmext
