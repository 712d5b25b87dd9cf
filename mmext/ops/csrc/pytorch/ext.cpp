// The Python module of mmext's compiled ops. Each op registers itself with
// TORCH_LIBRARY_FRAGMENT(mmext, m) in its own file and is called as
// torch.ops.mmext.<name>; importing this module loads those registrations.
#include <torch/extension.h>

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "mmext compiled ops (registered under torch.ops.mmext)";
#ifdef MMEXT_WITH_CUDA
  m.attr("with_cuda") = true;
#else
  m.attr("with_cuda") = false;
#endif
}
