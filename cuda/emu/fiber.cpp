// Fibers (see fiber.h): the stack switch and the stack pool.
#include "cuda/emu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "tensor/error.h"

namespace mindiff::cuda::emu {

#if defined(__x86_64__)

// void md_emu_switch(void** save_sp, void* load_sp)   (System V AMD64: rdi, rsi)
// Pushes the six callee-saved integer registers, saves rsp into *save_sp, loads load_sp and pops
// the other fiber's registers; `ret` then returns into the other fiber's call of this function
// (or, the first time, into its entry function). The SSE control word and x87 state are not
// switched: no kernel changes rounding modes.
extern "C" void md_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl md_emu_switch
  .type md_emu_switch, @function
md_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size md_emu_switch, .-md_emu_switch
)");

void fiber_init(Fiber& f, void* stack, size_t bytes, void (*entry)()) {
  // The new stack, from its 16-byte aligned top down:
  //   top - 8       0       a return address for entry, which never returns (ends backtraces)
  //   top - 16      entry   popped by md_emu_switch's `ret`
  //   top - 64..24  0 x 6   the callee-saved registers md_emu_switch pops first
  // After the `ret`, rsp = top - 8, as at the start of any function called with an aligned stack.
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top);
  slot[-1] = nullptr;
  slot[-2] = reinterpret_cast<void*>(entry);
  for (int i = 3; i <= 8; ++i) slot[-i] = nullptr;
  f.sp = &slot[-8];
}

void fiber_switch(Fiber& from, Fiber& to) { md_emu_switch(&from.sp, to.sp); }

#else

void fiber_init(Fiber& f, void* stack, size_t bytes, void (*entry)()) {
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = stack;
  f.ctx.uc_stack.ss_size = bytes;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, entry, 0);
}

void fiber_switch(Fiber& from, Fiber& to) { swapcontext(&from.ctx, &to.ctx); }

#endif

StackPool::~StackPool() {
  if (base_) munmap(base_, mapped_);
}

void StackPool::reserve(int count, size_t bytes) {
  if (count <= count_ && bytes <= bytes_) return;
  if (base_) munmap(base_, mapped_);
  const size_t page = page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  bytes_ = (bytes + page - 1) / page * page;
  count_ = count;
  mapped_ = static_cast<size_t>(count) * (bytes_ + page);
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  MD_CHECK(p != MAP_FAILED, "CUDA emulator: cannot map ", mapped_, " bytes of fiber stacks");
  base_ = static_cast<char*>(p);
  for (int i = 0; i < count; ++i)  // guard page at the low end of each stack (stacks grow down)
    mprotect(base_ + static_cast<size_t>(i) * (bytes_ + page), page, PROT_NONE);
}

void* StackPool::stack(int i) const {
  return base_ + static_cast<size_t>(i) * (bytes_ + page_) + page_;
}

}  // namespace mindiff::cuda::emu
