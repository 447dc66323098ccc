// xdp_steer_ctl: command-line access to probe/xdp_stats for integration
// tests and for a person checking a host by hand.
//
//   xdp_steer_ctl IFNAME counters        one line of JSON with the summed counters
//   xdp_steer_ctl IFNAME drop-other on|off
//   xdp_steer_ctl IFNAME detach
//
// Exit status 0 on success, 1 with the error on stderr otherwise.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "probe/xdp_stats.hpp"

namespace {

int usage() {
    std::fprintf(stderr, "usage: xdp_steer_ctl IFNAME counters | drop-other on|off | detach\n");
    return 2;
}

int report(const flowgen::Status& s) {
    if (s) return 0;
    std::fprintf(stderr, "xdp_steer_ctl: %s\n", s.message().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string ifname = argv[1];
    const std::string command = argv[2];

    if (command == "counters" && argc == 3) {
        probe::XdpCounters c;
        if (int rc = report(probe::read_xdp_counters(ifname, c)); rc != 0) return rc;
        std::printf("{\"xdp_redirected\":%" PRIu64 ",\"xdp_passed\":%" PRIu64 ",\"xdp_dropped\":%" PRIu64
                    ",\"xdp_no_socket\":%" PRIu64 ",\"xdp_malformed\":%" PRIu64 "}\n",
                    c.redirected, c.passed, c.dropped, c.no_socket, c.malformed);
        return 0;
    }
    if (command == "drop-other" && argc == 4) {
        if (std::strcmp(argv[3], "on") == 0) return report(probe::set_xdp_drop_other(ifname, true));
        if (std::strcmp(argv[3], "off") == 0) return report(probe::set_xdp_drop_other(ifname, false));
        return usage();
    }
    if (command == "detach" && argc == 3) return report(probe::detach_xdp(ifname));
    return usage();
}
