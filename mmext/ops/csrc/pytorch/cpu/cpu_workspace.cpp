// The CPU workspace pool of cpu_workspace.h, and its two ops:
// torch.ops.mmext.cpu_workspace_cached_bytes() and
// torch.ops.mmext.cpu_workspace_release().
#include "cpu_workspace.h"

#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mmext {
namespace {

int64_t limit_from_env() {
  const char* env = std::getenv("MMEXT_CPU_WORKSPACE_MB");
  if (env == nullptr || *env == '\0') return int64_t(1024) << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(env, &end, 10);
  TORCH_CHECK_VALUE(end != env && *end == '\0' && mb >= 0,
                    "MMEXT_CPU_WORKSPACE_MB must be a non-negative integer "
                    "(MiB), but got '", env, "'");
  return static_cast<int64_t>(mb) << 20;
}

class Pool {
 public:
  static Pool& get() {
    // Never destroyed: tensors may outlive static destruction at exit.
    static Pool* pool = new Pool();
    return *pool;
  }

  int64_t limit() const { return limit_; }

  void* take(size_t nbytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(nbytes);
      if (it != free_.end() && !it->second.empty()) {
        void* ptr = it->second.back();
        it->second.pop_back();
        cached_ -= static_cast<int64_t>(nbytes);
        return ptr;
      }
    }
    return c10::alloc_cpu(nbytes);
  }

  void give(void* ptr, size_t nbytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + static_cast<int64_t>(nbytes) <= limit_) {
        free_[nbytes].push_back(ptr);
        cached_ += static_cast<int64_t>(nbytes);
        return;
      }
    }
    c10::free_cpu(ptr);
  }

  int64_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }

  int64_t release() {
    std::map<size_t, std::vector<void*>> blocks;
    int64_t released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_);
      released = cached_;
      cached_ = 0;
    }
    for (auto& kv : blocks)
      for (void* ptr : kv.second) c10::free_cpu(ptr);
    return released;
  }

 private:
  Pool() : limit_(limit_from_env()) {}

  const int64_t limit_;
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  int64_t cached_ = 0;
};

}  // namespace

at::Tensor cpu_workspace(at::IntArrayRef sizes,
                         const at::TensorOptions& options) {
  Pool& pool = Pool::get();
  int64_t numel = 1;
  for (int64_t s : sizes) numel *= s;
  const size_t nbytes =
      static_cast<size_t>(numel) * options.dtype().itemsize();
  if (pool.limit() == 0 || nbytes == 0 || !options.device().is_cpu() ||
      options.layout() != at::kStrided) {
    return at::empty(sizes, options);
  }
  void* ptr = pool.take(nbytes);
  return at::from_blob(
      ptr, sizes, [nbytes](void* p) { Pool::get().give(p, nbytes); },
      options);
}

int64_t cpu_workspace_cached_bytes() { return Pool::get().cached(); }

int64_t cpu_workspace_release() { return Pool::get().release(); }

TORCH_LIBRARY_FRAGMENT(mmext, m) {
  m.def("cpu_workspace_cached_bytes() -> int", &cpu_workspace_cached_bytes);
  m.def("cpu_workspace_release() -> int", &cpu_workspace_release);
}

}  // namespace mmext
