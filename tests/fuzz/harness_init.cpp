// Linked into every fuzz harness: libFuzzer calls LLVMFuzzerInitialize once, before the first
// input. One OpenMP thread (inputs are small, and the fuzzer follows one thread's coverage), and
// tensors bounded by kHarnessTensorBytes, their cache by a quarter of it.
#include <omp.h>

#include "tensor/host_allocator.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  omp_set_num_threads(1);
  mindiff::set_host_memory_limit(mindiff::fuzz::kHarnessTensorBytes);
  mindiff::set_host_cache_limit(mindiff::fuzz::kHarnessTensorBytes / 4);
  return 0;
}
