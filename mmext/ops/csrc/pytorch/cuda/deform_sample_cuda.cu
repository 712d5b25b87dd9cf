// Deformable key/value sampling (DAT, Xia et al. CVPR 2022, Sec. 3.2) on the
// GPU; the maths of cpu/deform_sample_cpu.cpp (F.grid_sample, bilinear,
// zero padding, align_corners=True). Forward: one thread per output value.
// Backward: one thread per sampled point, looping over its channels, so the
// position gradient needs no atomics; the feature gradient is scattered with
// atomics as in PyTorch's own grid_sample backward.
//
// c10 headers only: ATen/cuda/CUDAContext.h pulls in cuSPARSE/cuBLAS headers
// that a compile-only toolkit may lack.
#include <ATen/OpMathType.h>
#include <ATen/cuda/Atomic.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/extension.h>

#include <limits>

namespace mmext {
namespace {

constexpr int kThreads = 256;

template <typename acc_t>
struct Corners {
  int64_t idx[4];  // nw, ne, sw, se; -1 outside the map
  acc_t tx, ty;
  bool finite;
};

template <typename acc_t>
__device__ __forceinline__ Corners<acc_t> make_corners(acc_t gx, acc_t gy,
                                                       int64_t H, int64_t W) {
  Corners<acc_t> c;
  const acc_t ix = (gx + 1) * acc_t(0.5) * acc_t(W - 1);
  const acc_t iy = (gy + 1) * acc_t(0.5) * acc_t(H - 1);
  c.finite = isfinite(ix) && isfinite(iy);
  if (!c.finite) {
    c.tx = c.ty = acc_t(0);
    c.idx[0] = c.idx[1] = c.idx[2] = c.idx[3] = -1;
    return c;
  }
  const acc_t x0 = floor(ix), y0 = floor(iy);
  c.tx = ix - x0;
  c.ty = iy - y0;
  const bool x0_in = x0 >= 0 && x0 <= acc_t(W - 1);
  const bool x1_in = x0 + 1 >= 0 && x0 + 1 <= acc_t(W - 1);
  const bool y0_in = y0 >= 0 && y0 <= acc_t(H - 1);
  const bool y1_in = y0 + 1 >= 0 && y0 + 1 <= acc_t(H - 1);
  const int64_t xi = x0_in || x1_in ? static_cast<int64_t>(x0) : 0;
  const int64_t yi = y0_in || y1_in ? static_cast<int64_t>(y0) : 0;
  c.idx[0] = y0_in && x0_in ? yi * W + xi : -1;
  c.idx[1] = y0_in && x1_in ? yi * W + xi + 1 : -1;
  c.idx[2] = y1_in && x0_in ? (yi + 1) * W + xi : -1;
  c.idx[3] = y1_in && x1_in ? (yi + 1) * W + xi + 1 : -1;
  return c;
}

template <typename scalar_t>
__global__ void forward_kernel(const scalar_t* __restrict__ in,
                               const scalar_t* __restrict__ grid,
                               scalar_t* __restrict__ out, int64_t N,
                               int64_t C, int64_t H, int64_t W, int64_t P) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = N * C * P;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t p = i % P;
    const int64_t nc = i / P;
    const int64_t n = nc / C;
    const scalar_t* g = grid + (n * P + p) * 2;
    const Corners<acc_t> k =
        make_corners<acc_t>(acc_t(g[0]), acc_t(g[1]), H, W);
    if (!k.finite) {
      out[i] = static_cast<scalar_t>(std::numeric_limits<acc_t>::quiet_NaN());
      continue;
    }
    const scalar_t* plane = in + nc * H * W;
    const acc_t v00 = k.idx[0] >= 0 ? acc_t(plane[k.idx[0]]) : acc_t(0);
    const acc_t v01 = k.idx[1] >= 0 ? acc_t(plane[k.idx[1]]) : acc_t(0);
    const acc_t v10 = k.idx[2] >= 0 ? acc_t(plane[k.idx[2]]) : acc_t(0);
    const acc_t v11 = k.idx[3] >= 0 ? acc_t(plane[k.idx[3]]) : acc_t(0);
    const acc_t top = v00 + k.tx * (v01 - v00);
    const acc_t bottom = v10 + k.tx * (v11 - v10);
    out[i] = static_cast<scalar_t>(top + k.ty * (bottom - top));
  }
}

template <typename scalar_t>
__global__ void backward_kernel(const scalar_t* __restrict__ gout,
                                const scalar_t* __restrict__ in,
                                const scalar_t* __restrict__ grid,
                                scalar_t* __restrict__ gin,
                                scalar_t* __restrict__ ggrid, int64_t N,
                                int64_t C, int64_t H, int64_t W, int64_t P) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = N * P;
  const acc_t sx = acc_t(0.5) * acc_t(W - 1), sy = acc_t(0.5) * acc_t(H - 1);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t n = i / P, p = i % P;
    const scalar_t* g = grid + i * 2;
    const Corners<acc_t> k =
        make_corners<acc_t>(acc_t(g[0]), acc_t(g[1]), H, W);
    if (!k.finite) {
      if (ggrid != nullptr) {
        ggrid[2 * i] = ggrid[2 * i + 1] =
            static_cast<scalar_t>(std::numeric_limits<acc_t>::quiet_NaN());
      }
      continue;
    }
    const acc_t w00 = (1 - k.tx) * (1 - k.ty), w01 = k.tx * (1 - k.ty);
    const acc_t w10 = (1 - k.tx) * k.ty, w11 = k.tx * k.ty;
    acc_t dx = 0, dy = 0;
    for (int64_t c = 0; c < C; ++c) {
      const int64_t nc = n * C + c;
      const acc_t gv = acc_t(gout[nc * P + p]);
      if (gin != nullptr) {
        scalar_t* gplane = gin + nc * H * W;
        if (k.idx[0] >= 0) gpuAtomicAdd(gplane + k.idx[0], scalar_t(gv * w00));
        if (k.idx[1] >= 0) gpuAtomicAdd(gplane + k.idx[1], scalar_t(gv * w01));
        if (k.idx[2] >= 0) gpuAtomicAdd(gplane + k.idx[2], scalar_t(gv * w10));
        if (k.idx[3] >= 0) gpuAtomicAdd(gplane + k.idx[3], scalar_t(gv * w11));
      }
      if (ggrid != nullptr) {
        const scalar_t* plane = in + nc * H * W;
        const acc_t v00 = k.idx[0] >= 0 ? acc_t(plane[k.idx[0]]) : acc_t(0);
        const acc_t v01 = k.idx[1] >= 0 ? acc_t(plane[k.idx[1]]) : acc_t(0);
        const acc_t v10 = k.idx[2] >= 0 ? acc_t(plane[k.idx[2]]) : acc_t(0);
        const acc_t v11 = k.idx[3] >= 0 ? acc_t(plane[k.idx[3]]) : acc_t(0);
        dx += gv * ((v01 - v00) * (1 - k.ty) + (v11 - v10) * k.ty);
        dy += gv * ((v10 - v00) * (1 - k.tx) + (v11 - v01) * k.tx);
      }
    }
    if (ggrid != nullptr) {
      ggrid[2 * i] = static_cast<scalar_t>(dx * sx);
      ggrid[2 * i + 1] = static_cast<scalar_t>(dy * sy);
    }
  }
}

inline int blocks_for(int64_t total) {
  int device = 0, sms = 0;
  C10_CUDA_CHECK(cudaGetDevice(&device));
  C10_CUDA_CHECK(
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  // grid-stride loops: a few waves per SM are enough
  const int64_t max_blocks = int64_t(sms) * 32;
  return static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>((total + kThreads - 1) / kThreads,
                                             max_blocks)));
}

}  // namespace

at::Tensor deform_sample_forward_cuda(const at::Tensor& input,
                                      const at::Tensor& grid) {
  const c10::cuda::OptionalCUDAGuard guard(input.device());
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  const int64_t N = in.size(0), C = in.size(1), H = in.size(2), W = in.size(3);
  const int64_t P = gr.size(1) * gr.size(2);
  at::Tensor output = at::empty({N, C, gr.size(1), gr.size(2)}, in.options());
  if (output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_forward_cuda",
      [&] {
        forward_kernel<scalar_t>
            <<<blocks_for(N * C * P), kThreads, 0,
               c10::cuda::getCurrentCUDAStream()>>>(
                in.const_data_ptr<scalar_t>(), gr.const_data_ptr<scalar_t>(),
                output.mutable_data_ptr<scalar_t>(), N, C, H, W, P);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return output;
}

std::tuple<at::Tensor, at::Tensor> deform_sample_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input,
    const at::Tensor& grid, bool need_input, bool need_grid) {
  const c10::cuda::OptionalCUDAGuard guard(input.device());
  const at::Tensor go = grad_output.contiguous();
  const at::Tensor in = input.contiguous();
  const at::Tensor gr = grid.contiguous();
  const int64_t N = in.size(0), C = in.size(1), H = in.size(2), W = in.size(3);
  const int64_t P = gr.size(1) * gr.size(2);
  at::Tensor grad_input =
      need_input ? at::zeros_like(in) : at::empty({0}, in.options());
  at::Tensor grad_grid =
      need_grid ? at::empty_like(gr) : at::empty({0}, gr.options());
  if (N * P == 0 || !(need_input || need_grid)) {
    if (need_grid) grad_grid.zero_();
    return {grad_input, grad_grid};
  }
  AT_DISPATCH_FLOATING_TYPES_AND2(
      at::kHalf, at::kBFloat16, in.scalar_type(), "deform_sample_backward_cuda",
      [&] {
        backward_kernel<scalar_t>
            <<<blocks_for(N * P), kThreads, 0,
               c10::cuda::getCurrentCUDAStream()>>>(
                go.const_data_ptr<scalar_t>(), in.const_data_ptr<scalar_t>(),
                gr.const_data_ptr<scalar_t>(),
                need_input ? grad_input.mutable_data_ptr<scalar_t>() : nullptr,
                need_grid ? grad_grid.mutable_data_ptr<scalar_t>() : nullptr,
                N, C, H, W, P);
      });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {grad_input, grad_grid};
}

}  // namespace mmext
