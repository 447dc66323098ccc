// Reading a small text input (a configuration or pattern file) whole, with
// a cap on its size: an operator who points an option at /dev/zero, a
// directory or a multi-gigabyte file gets one clear error, never a process
// that reads until it runs out of memory.
#pragma once

#include <cstddef>
#include <string>

#include "flowgen/status.hpp"

namespace flowgen {

// Reads the file at `path` into `out` (replacing its content). `what` names
// the input in errors ("config file", "patterns"): "config file /etc/x:
// is a directory", "patterns /dev/zero: larger than the 4 MiB limit".
// Fails on an open or read error, a directory, or more than `max_bytes`
// bytes (it reads at most max_bytes + one buffer). Start-up code only.
Status read_bounded_file(const std::string& what, const std::string& path, size_t max_bytes, std::string& out);

// "1 MiB", "4 KiB", "100 bytes": a cap said in the unit it was chosen in.
std::string byte_size_text(size_t bytes);

}  // namespace flowgen
