// Boost.Test printers for flowgen types, so that failed assertions show
// values ("10.0.0.1", "lack-of-resources") instead of refusing to compile.
#pragma once

#include <arpa/inet.h>

#include <ostream>

#include "flowgen/flow_record.hpp"

namespace flowgen {

inline std::ostream& boost_test_print_type(std::ostream& os, const IpAddress& a) {
    char text[INET6_ADDRSTRLEN] = "?";
    // An IPv4 address has zeros in bytes 4..15 (see packet.hpp).
    bool v4 = true;
    for (int i = 4; i < 16; ++i) v4 = v4 && a.bytes[i] == 0;
    inet_ntop(v4 ? AF_INET : AF_INET6, a.bytes, text, sizeof text);
    return os << text;
}

inline std::ostream& boost_test_print_type(std::ostream& os, EndReason r) {
    switch (r) {
    case EndReason::kIdleTimeout: return os << "idle-timeout";
    case EndReason::kActiveTimeout: return os << "active-timeout";
    case EndReason::kEndOfFlow: return os << "end-of-flow";
    case EndReason::kForcedEnd: return os << "forced-end";
    case EndReason::kLackOfResources: return os << "lack-of-resources";
    }
    return os << "end-reason-" << static_cast<int>(r);
}

}  // namespace flowgen
