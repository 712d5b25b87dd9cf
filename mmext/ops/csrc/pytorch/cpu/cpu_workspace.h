// A process-wide pool of large CPU buffers for ops whose working set is
// allocated afresh on every call (the covariance square root's forward cache
// and backward buffers). With glibc, blocks of this size are mmap-ed and
// unmapped on every call, so each call pays a page fault per 4 KiB page
// (about 10% of the op's time at iSQRT-COV's ResNet-50 shape); reusing the
// same pages avoids that. Freed blocks stay cached up to a byte limit
// (MMEXT_CPU_WORKSPACE_MB, default 1024; 0 disables the pool) and
// torch.ops.mmext.cpu_workspace_release() returns them to the system.
#pragma once

#include <ATen/ATen.h>

namespace mmext {

// An uninitialized contiguous CPU tensor whose storage comes from the pool
// (at::empty when the pool is disabled or `options` is not a CPU layout).
at::Tensor cpu_workspace(at::IntArrayRef sizes,
                         const at::TensorOptions& options);

// Bytes currently cached (free) in the pool.
int64_t cpu_workspace_cached_bytes();

// Frees every cached block; returns the number of bytes released.
int64_t cpu_workspace_release();

}  // namespace mmext
