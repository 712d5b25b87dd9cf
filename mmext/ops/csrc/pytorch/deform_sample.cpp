// torch.ops.mmext.deform_sample_{forward,backward}: DAT's deformable
// key/value sampling (F.grid_sample, bilinear, zero padding,
// align_corners=True). Python API and autograd: mmext/ops/deform_sample.py.
#include <torch/extension.h>

namespace mmext {

at::Tensor deform_sample_forward_cpu(const at::Tensor& input,
                                     const at::Tensor& grid);
std::tuple<at::Tensor, at::Tensor> deform_sample_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input,
    const at::Tensor& grid, bool need_input, bool need_grid);

#ifdef MMEXT_WITH_CUDA
at::Tensor deform_sample_forward_cuda(const at::Tensor& input,
                                      const at::Tensor& grid);
std::tuple<at::Tensor, at::Tensor> deform_sample_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input,
    const at::Tensor& grid, bool need_input, bool need_grid);
#endif

}  // namespace mmext

TORCH_LIBRARY_FRAGMENT(mmext, m) {
  // input (N, C, H, W), grid (N, Hk, Wk, 2) -> (N, C, Hk, Wk)
  m.def("deform_sample_forward(Tensor input, Tensor grid) -> Tensor");
  // Gradients not asked for come back as empty tensors.
  m.def(
      "deform_sample_backward(Tensor grad_output, Tensor input, Tensor grid, "
      "bool need_input, bool need_grid) -> (Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(mmext, CPU, m) {
  m.impl("deform_sample_forward", &mmext::deform_sample_forward_cpu);
  m.impl("deform_sample_backward", &mmext::deform_sample_backward_cpu);
}

#ifdef MMEXT_WITH_CUDA
TORCH_LIBRARY_IMPL(mmext, CUDA, m) {
  m.impl("deform_sample_forward", &mmext::deform_sample_forward_cuda);
  m.impl("deform_sample_backward", &mmext::deform_sample_backward_cuda);
}
#endif
