#include "probe/numa.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace probe {

namespace {

// move_pages(2) through syscall(2): libnuma's wrapper would add a library
// for one call. Returns the node, or a negative errno (the page's status, or
// the call's own error).
int query_node(const void* address) noexcept {
    if (address == nullptr) return -EFAULT;
    const long page = sysconf(_SC_PAGESIZE);
    void* pages[1] = {reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(address) &
                                              ~static_cast<uintptr_t>(page - 1))};
    int status[1] = {-EFAULT};
    if (syscall(SYS_move_pages, 0, 1UL, pages, nullptr, status, 0) != 0) return -errno;
    return status[0];
}

}  // namespace

int node_of_page(const void* address) noexcept {
    const int node = query_node(address);
    return node >= 0 ? node : -1;
}

std::string describe_node_of(const void* address) {
    const int node = query_node(address);
    if (node >= 0) return "node " + std::to_string(node);
    if (node == -ENOENT) return "not resident";
    return "unknown";
}

}  // namespace probe
