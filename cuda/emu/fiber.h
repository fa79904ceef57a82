// Fibers: the smallest coroutine the emulator needs. A fiber is a stack and a saved stack
// pointer; switching saves the callee-saved registers of the running code on its own stack,
// stores its stack pointer, loads the other's and pops its registers. Everything else (caller-
// saved registers, the program counter) is already on the stack by the calling convention.
//
// On x86-64 the switch is eight instructions of assembly (fiber.cpp), about 5 ns. Elsewhere it
// falls back to ucontext's swapcontext, which is portable but also saves the signal mask with a
// system call (close to 1 us in a sandbox), a hundred times slower.
//
// Under AddressSanitizer (make test-sanitize) every switch is announced to it with
// __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber, so that it knows which stack
// is running: without that, an exception thrown on a fiber's stack looks to it like a jump into
// unknown memory, and its reports on those stacks would be false.
#pragma once
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace mindiff::cuda::emu {

struct Fiber {
#if defined(__x86_64__)
  void* sp = nullptr;  // saved stack pointer while the fiber is switched out
#else
  ucontext_t ctx;
#endif
  void (*entry)() = nullptr;
  // The fiber's stack, for AddressSanitizer: set by fiber_init, or, for the thread's own stack
  // (a Fiber never passed to fiber_init), learnt at the first switch away from it.
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // AddressSanitizer's state of the fiber while it is switched out
};

// Prepares `f` to run `entry()` on the stack [stack, stack + bytes) at its first switch_to.
// `entry` must never return: it ends with fiber_exit.
void fiber_init(Fiber& f, void* stack, size_t bytes, void (*entry)());

// Saves the running code into `from` and continues `to` where it left off.
void fiber_switch(Fiber& from, Fiber& to);
// The last switch away from a fiber whose entry has finished: `from` is never resumed.
void fiber_exit(Fiber& from, Fiber& to);

// Stacks for the fibers of one OS thread: `count` stacks of `bytes` each, every one with an
// inaccessible guard page below it, so an overflow faults at once instead of overwriting the
// neighbour's stack. Reserved with mmap; pages are committed only when touched.
class StackPool {
 public:
  StackPool() = default;
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  void reserve(int count, size_t bytes);  // grows (never shrinks) the pool
  void* stack(int i) const;               // lowest usable address of stack i
  size_t stack_bytes() const { return bytes_; }

 private:
  char* base_ = nullptr;
  size_t mapped_ = 0;
  size_t bytes_ = 0;
  size_t page_ = 4096;
  int count_ = 0;
};

}  // namespace mindiff::cuda::emu
