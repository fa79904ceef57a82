// A closed standard output as a request to stop, for a long-running front end (train).
//
// `./train ... | head -2` closes the pipe after two lines; the next write to it raises SIGPIPE,
// whose default action kills the process at once and without a word. stop_on_broken_pipe
// replaces that: the first such write prints `message` on stderr and sets *stop_flag (the flag
// the training loop already polls for Ctrl-C), so the run finishes its step, saves a checkpoint
// and exits like an interrupted one. Later writes to the closed pipe fail quietly (EPIPE).
#pragma once
#include <csignal>

namespace mindiff::diffusion {

// `message` must outlive the process (a string literal): the signal handler writes it as is.
void stop_on_broken_pipe(volatile std::sig_atomic_t* stop_flag, const char* message);

}  // namespace mindiff::diffusion
