// SIGPIPE as a stop request; see broken_pipe.h.
#include "diffusion/app/broken_pipe.h"

#include <unistd.h>

#include <cstring>

namespace mindiff::diffusion {

namespace {

volatile std::sig_atomic_t* g_flag = nullptr;
const char* g_message = nullptr;
size_t g_length = 0;
volatile std::sig_atomic_t g_told = 0;

// Only async-signal-safe calls here: write(2) and plain stores.
void on_broken_pipe(int) {
  if (!g_told && g_message) {
    g_told = 1;
    const ssize_t ignored = ::write(STDERR_FILENO, g_message, g_length);
    (void)ignored;  // stderr may be closed too; nothing more can be done from here
  }
  if (g_flag) *g_flag = 1;
}

}  // namespace

void stop_on_broken_pipe(volatile std::sig_atomic_t* stop_flag, const char* message) {
  g_flag = stop_flag;
  g_message = message;
  g_length = std::strlen(message);
  g_told = 0;
  struct sigaction sa {};
  sa.sa_handler = on_broken_pipe;  // no SA_RESETHAND: every later write must not kill either
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPIPE, &sa, nullptr);
}

}  // namespace mindiff::diffusion
