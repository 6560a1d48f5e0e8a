#pragma once
// The server's stop and reload signals, taken from any thread. Handlers (not
// a blocked mask and sigwait) because threads that libraries start before
// main — OpenBLAS's pool among them — never see main's mask: a signal the
// kernel hands to one of those while main is not waiting (during start, a
// SIGHUP reload or the drain) took its default action and killed the server
// on the spot.
#include <initializer_list>

namespace roiserve::server {

// Routes `signals` to wait_for_signal(). Call once, first thing in main.
void catch_signals(std::initializer_list<int> signals);

// Blocks until one of the caught signals arrives (or arrived since the last
// call) and returns it, in arrival order.
int wait_for_signal();

}  // namespace roiserve::server
