// CUDA kernels of the covariance square-root ops: the triangular
// gather/scatter (fused with the sqrt(trace) post-compensation) plus the
// shared ATen algorithm of common/cov_sqrt_common.h (cuBLAS batched GEMMs).
// c10 headers only: ATen/cuda/CUDAContext.h pulls in cuSPARSE/cuBLAS headers
// that a compile-only toolkit may lack.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include "../../common/cov_sqrt_common.h"

namespace mmext {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  return static_cast<int>((n + kThreads - 1) / kThreads);
}

__device__ __forceinline__ int64_t row_offset(int64_t i, int64_t c) {
  return i * c - i * (i - 1) / 2;
}

// One thread per matrix entry (b, i, j); entries with j >= i are written.
template <typename scalar_t>
__global__ void triu_pack_kernel(const scalar_t* __restrict__ src,
                                 const scalar_t* __restrict__ scale,
                                 scalar_t* __restrict__ dst, int64_t total,
                                 int64_t c, int64_t d) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
       idx < total; idx += (int64_t)blockDim.x * gridDim.x) {
    const int64_t j = idx % c, i = (idx / c) % c, b = idx / (c * c);
    if (j < i) continue;
    const scalar_t f = scale ? scale[b] : scalar_t(1);
    dst[b * d + row_offset(i, c) + j - i] = src[idx] * f;
  }
}

template <typename scalar_t>
__global__ void triu_unpack_kernel(const scalar_t* __restrict__ src,
                                   const scalar_t* __restrict__ scale,
                                   scalar_t* __restrict__ dst, int64_t total,
                                   int64_t c, int64_t d) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
       idx < total; idx += (int64_t)blockDim.x * gridDim.x) {
    const int64_t j = idx % c, i = (idx / c) % c, b = idx / (c * c);
    const scalar_t f = scale ? scale[b] : scalar_t(1);
    dst[idx] = j < i ? scalar_t(0) : src[b * d + row_offset(i, c) + j - i] * f;
  }
}

// Launches the pack (matrix -> triangle) or unpack kernel over the
// B x C x C matrix entries; `src` and `out` are contiguous.
void launch_triu(bool pack, const at::Tensor& src, const at::Tensor& scale,
                 const at::Tensor& out, int64_t b, int64_t c, int64_t d) {
  const int64_t total = b * c * c;
  if (total == 0) return;
  auto s = scale.defined() ? scale.contiguous() : scale;
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, src.scalar_type(), "triu_vec_cuda", [&] {
        const scalar_t* sp = s.defined() ? s.data_ptr<scalar_t>() : nullptr;
        auto kernel = pack ? triu_pack_kernel<scalar_t>
                           : triu_unpack_kernel<scalar_t>;
        kernel<<<blocks_for(total), kThreads, 0, stream>>>(
            src.data_ptr<scalar_t>(), sp, out.data_ptr<scalar_t>(), total, c,
            d);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

struct CUDAKernels {
  static at::Tensor workspace(at::IntArrayRef sizes,
                              const at::TensorOptions& options) {
    return at::empty(sizes, options);
  }

  static at::Tensor triu_pack(const at::Tensor& m, const at::Tensor& scale) {
    const c10::cuda::CUDAGuard guard(m.device());
    const int64_t b = m.size(0), c = m.size(1), d = c * (c + 1) / 2;
    auto out = at::empty({b, d}, m.options());
    launch_triu(true, m, scale, out, b, c, d);
    return out;
  }

  static at::Tensor triu_unpack(const at::Tensor& v, int64_t c,
                                const at::Tensor& scale) {
    const c10::cuda::CUDAGuard guard(v.device());
    const int64_t b = v.size(0), d = c * (c + 1) / 2;
    TORCH_CHECK_VALUE(v.dim() == 2 && v.size(1) == d,
                      "triu_vec backward: expected grad of shape (B, ", d,
                      "), but got ", v.sizes());
    auto out = at::empty({b, c, c}, v.options());
    launch_triu(false, v, scale, out, b, c, d);
    return out;
  }
};

using CUDAOps = cov_sqrt::Ops<CUDAKernels>;

}  // namespace

std::tuple<at::Tensor, at::Tensor> cov_pool_forward_cuda(const at::Tensor& x) {
  const c10::cuda::CUDAGuard guard(x.device());
  return CUDAOps::cov_pool_fwd(x);
}
at::Tensor cov_pool_backward_cuda(const at::Tensor& grad, const at::Tensor& x,
                                  const at::Tensor& mu) {
  const c10::cuda::CUDAGuard guard(x.device());
  return CUDAOps::cov_pool_bwd(grad, x, mu);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor> sqrtm_ns_forward_cuda(
    const at::Tensor& s, int64_t num_iter, double eps) {
  const c10::cuda::CUDAGuard guard(s.device());
  return CUDAOps::sqrtm_fwd(s, num_iter, eps);
}
at::Tensor sqrtm_ns_backward_cuda(const at::Tensor& grad,
                                  const at::Tensor& cache, const at::Tensor& t,
                                  int64_t num_iter, double eps) {
  const c10::cuda::CUDAGuard guard(grad.device());
  return CUDAOps::sqrtm_bwd(grad, cache, t, num_iter, eps);
}
at::Tensor triu_vec_forward_cuda(const at::Tensor& m) {
  return CUDAOps::triu_fwd(m);
}
at::Tensor triu_vec_backward_cuda(const at::Tensor& grad, int64_t dim) {
  return CUDAOps::triu_bwd(grad, dim);
}
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>
isqrt_cov_forward_cuda(const at::Tensor& x, int64_t num_iter, double eps,
                       bool triu) {
  const c10::cuda::CUDAGuard guard(x.device());
  return CUDAOps::isqrt_cov_fwd(x, num_iter, eps, triu);
}
at::Tensor isqrt_cov_backward_cuda(const at::Tensor& grad, const at::Tensor& x,
                                   const at::Tensor& mu,
                                   const at::Tensor& cache,
                                   const at::Tensor& t, int64_t num_iter,
                                   double eps, bool triu) {
  const c10::cuda::CUDAGuard guard(x.device());
  return CUDAOps::isqrt_cov_bwd(grad, x, mu, cache, t, num_iter, eps, triu);
}

}  // namespace mmext
