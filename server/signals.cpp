#include "server/signals.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <system_error>

namespace roiserve::server {
namespace {

// Written by the handler (write() is async-signal-safe), read by main.
int signal_pipe[2] = {-1, -1};

extern "C" void forward_signal(int signal) {
  const int saved_errno = errno;
  const auto byte = static_cast<unsigned char>(signal);
  if (write(signal_pipe[1], &byte, 1) < 0) {
    // The pipe holds thousands of signals: a full one already wakes main.
  }
  errno = saved_errno;
}

}  // namespace

void catch_signals(std::initializer_list<int> signals) {
  if (pipe2(signal_pipe, O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot create the signal pipe");
  }
  struct sigaction action {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int signal : signals) sigaction(signal, &action, nullptr);
}

int wait_for_signal() {
  unsigned char byte = 0;
  while (read(signal_pipe[0], &byte, 1) != 1) {
    if (errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "cannot read the signal pipe");
    }
  }
  return byte;
}

}  // namespace roiserve::server
