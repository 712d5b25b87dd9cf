// CPU kernels of the covariance square-root ops: the triangular
// gather/scatter (fused with the sqrt(trace) post-compensation) plus the
// shared ATen algorithm of common/cov_sqrt_common.h.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include "../../common/cov_sqrt_common.h"
#include "cpu_workspace.h"

namespace mmext {
namespace {

// Offset of row i of the upper triangle of a C x C matrix, row-major.
inline int64_t row_offset(int64_t i, int64_t c) {
  return i * c - i * (i - 1) / 2;
}

struct CPUKernels {
  static at::Tensor workspace(at::IntArrayRef sizes,
                              const at::TensorOptions& options) {
    return cpu_workspace(sizes, options);
  }

  // (B, C, C) -> (B, C (C + 1) / 2), times scale[b] when scale is defined.
  static at::Tensor triu_pack(const at::Tensor& m, const at::Tensor& scale) {
    const int64_t b = m.size(0), c = m.size(1), d = c * (c + 1) / 2;
    auto out = at::empty({b, d}, m.options());
    auto s = scale.defined() ? scale.contiguous() : scale;
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, m.scalar_type(), "triu_pack_cpu", [&] {
          const scalar_t* src = m.data_ptr<scalar_t>();
          const scalar_t* sp = s.defined() ? s.data_ptr<scalar_t>() : nullptr;
          scalar_t* dst = out.data_ptr<scalar_t>();
          at::parallel_for(0, b * c, 16, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t bi = r / c, i = r % c;
              const scalar_t f = sp ? sp[bi] : scalar_t(1);
              const scalar_t* row = src + (bi * c + i) * c;
              scalar_t* o = dst + bi * d + row_offset(i, c);
              for (int64_t j = i; j < c; ++j) o[j - i] = row[j] * f;
            }
          });
        });
    return out;
  }

  // (B, C (C + 1) / 2) -> (B, C, C) with zeros below the diagonal.
  static at::Tensor triu_unpack(const at::Tensor& v, int64_t c,
                                const at::Tensor& scale) {
    const int64_t b = v.size(0), d = c * (c + 1) / 2;
    TORCH_CHECK_VALUE(v.dim() == 2 && v.size(1) == d,
                      "triu_vec backward: expected grad of shape (B, ", d,
                      "), but got ", v.sizes());
    auto out = workspace({b, c, c}, v.options());
    auto s = scale.defined() ? scale.contiguous() : scale;
    AT_DISPATCH_FLOATING_TYPES_AND2(
        at::kHalf, at::kBFloat16, v.scalar_type(), "triu_unpack_cpu", [&] {
          const scalar_t* src = v.data_ptr<scalar_t>();
          const scalar_t* sp = s.defined() ? s.data_ptr<scalar_t>() : nullptr;
          scalar_t* dst = out.data_ptr<scalar_t>();
          at::parallel_for(0, b * c, 16, [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r) {
              const int64_t bi = r / c, i = r % c;
              const scalar_t f = sp ? sp[bi] : scalar_t(1);
              const scalar_t* in = src + bi * d + row_offset(i, c);
              scalar_t* row = dst + (bi * c + i) * c;
              for (int64_t j = 0; j < i; ++j) row[j] = scalar_t(0);
              for (int64_t j = i; j < c; ++j) row[j] = in[j - i] * f;
            }
          });
        });
    return out;
  }
};

using CPUOps = cov_sqrt::Ops<CPUKernels>;

}  // namespace

std::tuple<at::Tensor, at::Tensor> cov_pool_forward_cpu(const at::Tensor& x) {
  return CPUOps::cov_pool_fwd(x);
}
at::Tensor cov_pool_backward_cpu(const at::Tensor& grad, const at::Tensor& x,
                                 const at::Tensor& mu) {
  return CPUOps::cov_pool_bwd(grad, x, mu);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor> sqrtm_ns_forward_cpu(
    const at::Tensor& s, int64_t num_iter, double eps) {
  return CPUOps::sqrtm_fwd(s, num_iter, eps);
}
at::Tensor sqrtm_ns_backward_cpu(const at::Tensor& grad,
                                 const at::Tensor& cache, const at::Tensor& t,
                                 int64_t num_iter, double eps) {
  return CPUOps::sqrtm_bwd(grad, cache, t, num_iter, eps);
}
at::Tensor triu_vec_forward_cpu(const at::Tensor& m) {
  return CPUOps::triu_fwd(m);
}
at::Tensor triu_vec_backward_cpu(const at::Tensor& grad, int64_t dim) {
  return CPUOps::triu_bwd(grad, dim);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>
isqrt_cov_forward_cpu(const at::Tensor& x, int64_t num_iter, double eps,
                      bool triu) {
  return CPUOps::isqrt_cov_fwd(x, num_iter, eps, triu);
}
at::Tensor isqrt_cov_backward_cpu(const at::Tensor& grad, const at::Tensor& x,
                                  const at::Tensor& mu, const at::Tensor& cache,
                                  const at::Tensor& t, int64_t num_iter,
                                  double eps, bool triu) {
  return CPUOps::isqrt_cov_bwd(grad, x, mu, cache, t, num_iter, eps, triu);
}

}  // namespace mmext
