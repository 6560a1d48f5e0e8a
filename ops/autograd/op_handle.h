#pragma once
// Dispatcher handles of the ops of a namespace chosen at compile time, so that
// one autograd code serves every namespace that registers the pooling ops.
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

namespace roiserve::ops::detail {

// Namespace::Name, looked up on first use and kept. Both names are template
// arguments so that every op has its own cached handle.
template <const char* Namespace, const char* Name, typename Signature>
const c10::TypedOperatorHandle<Signature>& op_handle() {
  static const auto handle =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow((std::string(Namespace) + "::" + Name).c_str(), "")
          .typed<Signature>();
  return handle;
}

}  // namespace roiserve::ops::detail
