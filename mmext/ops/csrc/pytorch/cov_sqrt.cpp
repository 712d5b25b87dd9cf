// Registration of the covariance square-root ops as torch.ops.mmext.*
// (forward/backward pairs; autograd lives in mmext/ops/cov_sqrt.py).
#include <torch/extension.h>
#include <torch/library.h>

#include <tuple>

namespace mmext {

#define MMEXT_COV_SQRT_DECLARE(dev)                                           \
  std::tuple<at::Tensor, at::Tensor> cov_pool_forward_##dev(                  \
      const at::Tensor& x);                                                   \
  at::Tensor cov_pool_backward_##dev(const at::Tensor& grad,                  \
                                     const at::Tensor& x,                     \
                                     const at::Tensor& mu);                   \
  std::tuple<at::Tensor, at::Tensor, at::Tensor> sqrtm_ns_forward_##dev(      \
      const at::Tensor& s, int64_t num_iter, double eps);                     \
  at::Tensor sqrtm_ns_backward_##dev(const at::Tensor& grad,                  \
                                     const at::Tensor& cache,                 \
                                     const at::Tensor& t, int64_t num_iter,   \
                                     double eps);                             \
  at::Tensor triu_vec_forward_##dev(const at::Tensor& m);                     \
  at::Tensor triu_vec_backward_##dev(const at::Tensor& grad, int64_t dim);    \
  std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>                  \
      isqrt_cov_forward_##dev(const at::Tensor& x, int64_t num_iter,          \
                              double eps, bool triu);                         \
  at::Tensor isqrt_cov_backward_##dev(                                        \
      const at::Tensor& grad, const at::Tensor& x, const at::Tensor& mu,      \
      const at::Tensor& cache, const at::Tensor& t, int64_t num_iter,         \
      double eps, bool triu);

#define MMEXT_COV_SQRT_IMPL(m, dev)                                 \
  m.impl("cov_pool_forward", &cov_pool_forward_##dev);               \
  m.impl("cov_pool_backward", &cov_pool_backward_##dev);             \
  m.impl("sqrtm_ns_forward", &sqrtm_ns_forward_##dev);               \
  m.impl("sqrtm_ns_backward", &sqrtm_ns_backward_##dev);             \
  m.impl("triu_vec_forward", &triu_vec_forward_##dev);               \
  m.impl("triu_vec_backward", &triu_vec_backward_##dev);             \
  m.impl("isqrt_cov_forward", &isqrt_cov_forward_##dev);             \
  m.impl("isqrt_cov_backward", &isqrt_cov_backward_##dev);

MMEXT_COV_SQRT_DECLARE(cpu)
#ifdef MMEXT_WITH_CUDA
MMEXT_COV_SQRT_DECLARE(cuda)
#endif

TORCH_LIBRARY_FRAGMENT(mmext, m) {
  m.def("cov_pool_forward(Tensor x) -> (Tensor sigma, Tensor mu)");
  m.def("cov_pool_backward(Tensor grad, Tensor x, Tensor mu) -> Tensor");
  m.def(
      "sqrtm_ns_forward(Tensor s, int num_iter, float eps) -> "
      "(Tensor y, Tensor cache, Tensor t)");
  m.def(
      "sqrtm_ns_backward(Tensor grad, Tensor cache, Tensor t, int num_iter, "
      "float eps) -> Tensor");
  m.def("triu_vec_forward(Tensor m) -> Tensor");
  m.def("triu_vec_backward(Tensor grad, int dim) -> Tensor");
  m.def(
      "isqrt_cov_forward(Tensor x, int num_iter, float eps, bool triu) -> "
      "(Tensor out, Tensor mu, Tensor cache, Tensor t)");
  m.def(
      "isqrt_cov_backward(Tensor grad, Tensor x, Tensor mu, Tensor cache, "
      "Tensor t, int num_iter, float eps, bool triu) -> Tensor");
}

TORCH_LIBRARY_IMPL(mmext, CPU, m) { MMEXT_COV_SQRT_IMPL(m, cpu) }

#ifdef MMEXT_WITH_CUDA
TORCH_LIBRARY_IMPL(mmext, CUDA, m) { MMEXT_COV_SQRT_IMPL(m, cuda) }
#endif

}  // namespace mmext
