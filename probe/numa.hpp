// Where memory is: the NUMA node of a page, as the kernel placed it.
//
// Linux places an anonymous page on the node of the CPU that first writes
// it ("first touch", the default memory policy; Documentation/admin-guide/
// mm/numa_memory_policy.rst). A worker's tables are therefore allocated and
// zeroed by the worker's own lcore, and start-up reports where their pages
// really are, with move_pages(2) in query mode (no nodes given: it moves
// nothing and returns each page's node).
#pragma once

#include <string>

namespace probe {

// The node of the page holding `address`; -1 when the page is not resident
// (never touched), the address is null, or the kernel has no NUMA support.
int node_of_page(const void* address) noexcept;

// "node N", or "not resident" / "unknown" for what node_of_page cannot say.
std::string describe_node_of(const void* address);

}  // namespace probe
