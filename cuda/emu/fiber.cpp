// Fibers (see fiber.h): the stack switch and the stack pool.
#include "cuda/emu/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

#include "tensor/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define MD_FIBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MD_FIBER_ASAN 1
#endif
#endif
#if defined(MD_FIBER_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace mindiff::cuda::emu {

namespace {

// The two ends of the switch in progress on this thread: the code that runs next learns from
// them where it came from.
thread_local Fiber* tls_from = nullptr;
thread_local Fiber* tls_to = nullptr;

// Before a switch: tell AddressSanitizer which stack comes next. A fiber that will never run
// again passes no save slot, so that its fake stack is freed.
void leaving(Fiber& from, Fiber& to, bool for_good) {
  tls_from = &from;
  tls_to = &to;
#if defined(MD_FIBER_ASAN)
  __sanitizer_start_switch_fiber(for_good ? nullptr : &from.fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)for_good;
#endif
}

// After a switch, on the stack of `self`: tell AddressSanitizer the switch is done, and note the
// bounds of the stack just left when it was a thread's own (never set by fiber_init).
void arrived(Fiber& self) {
#if defined(MD_FIBER_ASAN)
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(self.fake_stack, &bottom, &size);
  if (tls_from && !tls_from->stack_bottom) {
    tls_from->stack_bottom = bottom;
    tls_from->stack_size = size;
  }
#else
  (void)self;
#endif
}

// Where every fiber starts: finish the switch that started it, then run its entry.
void fiber_start() {
  Fiber& self = *tls_to;
  arrived(self);
  self.entry();
  __builtin_unreachable();  // entry ends with fiber_exit
}

void set_entry(Fiber& f, void* stack, size_t bytes, void (*entry)()) {
  f.entry = entry;
  f.stack_bottom = stack;
  f.stack_size = bytes;
  f.fake_stack = nullptr;
}

}  // namespace

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
  //   top - 8       0             a return address for fiber_start, which never returns
  //                               (ends backtraces)
  //   top - 16      fiber_start   popped by md_emu_switch's `ret`; it calls f.entry
  //   top - 64..24  0 x 6         the callee-saved registers md_emu_switch pops first
  // After the `ret`, rsp = top - 8, as at the start of any function called with an aligned stack.
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<void**>(top);
  slot[-1] = nullptr;
  slot[-2] = reinterpret_cast<void*>(fiber_start);
  for (int i = 3; i <= 8; ++i) slot[-i] = nullptr;
  f.sp = &slot[-8];
  set_entry(f, stack, bytes, entry);
}

namespace {
void raw_switch(Fiber& from, Fiber& to) { md_emu_switch(&from.sp, to.sp); }
}  // namespace

#else

void fiber_init(Fiber& f, void* stack, size_t bytes, void (*entry)()) {
  getcontext(&f.ctx);
  f.ctx.uc_stack.ss_sp = stack;
  f.ctx.uc_stack.ss_size = bytes;
  f.ctx.uc_link = nullptr;
  makecontext(&f.ctx, fiber_start, 0);
  set_entry(f, stack, bytes, entry);
}

namespace {
void raw_switch(Fiber& from, Fiber& to) { swapcontext(&from.ctx, &to.ctx); }
}  // namespace

#endif

void fiber_switch(Fiber& from, Fiber& to) {
  leaving(from, to, false);
  raw_switch(from, to);
  arrived(from);  // resumed: someone switched back to `from`
}

void fiber_exit(Fiber& from, Fiber& to) {
  leaving(from, to, true);
  raw_switch(from, to);
  __builtin_unreachable();
}

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
