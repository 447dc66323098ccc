// echoflow: ICMP/ICMPv6 flow probe with inline tunnel detection.
// main() only parses, picks the mode and turns results into exit codes:
// 0 success, 1 start-up or run failure, 2 usage error.
#include <rte_version.h>
#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "detect/pattern_cache.hpp"
#include "probe/config.hpp"
#include "probe/live.hpp"
#include "probe/offline.hpp"
#include "probe/stats.hpp"
#include "probe/xdp_stats.hpp"

namespace {

bool readable(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

// Installed files first, then the source tree the binary was built from.
std::string first_readable(std::initializer_list<const char*> candidates) {
    for (const char* c : candidates)
        if (readable(c)) return c;
    return {};
}

std::vector<std::string> interface_eal_args(const char* argv0, const probe::Config& c, const std::string& xdp_object) {
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const uint32_t queues = c.interface_queues ? c.interface_queues : 1;
    // Main lcore + one worker per queue, on the cores there are.
    std::string lcores;
    for (uint32_t i = 0; i <= queues; ++i)
        lcores += (i ? "," : "") + std::to_string(i) + "@" + std::to_string(i % (cores > 0 ? cores : 1));
    return {argv0,
            "--lcores", lcores,
            "--no-pci",
            "--no-huge", "-m", "1024",
            "--file-prefix", "echoflow-" + c.interface,
            "--log-level", "pmd.net.af_xdp:warning",
            "--vdev", "net_af_xdp0,iface=" + c.interface + ",start_queue=0,queue_count=" + std::to_string(queues) +
                          ",xdp_prog=" + xdp_object};
}

}  // namespace

int main(int argc, char** argv) {
    probe::ParsedArgs args;
    if (flowgen::Status s = probe::parse_args(argc, argv, args); !s.ok()) {
        std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
        return 2;
    }
    probe::Config& config = args.config;
    if (config.show_help) {
        std::fputs(probe::usage().c_str(), stdout);
        return 0;
    }
    if (config.show_version) {
        std::printf("echoflow %s (%s, Hyperscan %s)\n", ECHOFLOW_VERSION, rte_version(), hs_version());
        return 0;
    }
    if (config.detect && config.detection.patterns_path.empty())
        config.detection.patterns_path = first_readable({ECHOFLOW_PATTERNS_INSTALLED, ECHOFLOW_PATTERNS_SOURCE});
    if (!config.pattern_cache_chosen) config.detection.pattern_cache_dir = detect::PatternCache::default_dir();
    if (!config.interface.empty() && config.xdp_object.empty())
        config.xdp_object = first_readable({ECHOFLOW_XDP_INSTALLED, ECHOFLOW_XDP_BUILD});
    const bool have_eal = !args.eal_args.empty();
    if (flowgen::Status s = probe::validate(config, have_eal); !s.ok()) {
        std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
        return 2;
    }
    probe::Identity identity;
    if (!config.user.empty()) {
        if (flowgen::Status s = probe::resolve_identity(config.user, config.group, identity); !s.ok()) {
            std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
            return 2;
        }
    }
    const probe::Identity* switch_to = config.user.empty() ? nullptr : &identity;

    // Not under --check: the unit's RuntimeDirectory (/run/echoflow) is
    // created only when the service starts, and --check judges the
    // configuration, not this moment's file system.
    if (!config.stats_json_path.empty() && !config.check_only) {
        if (flowgen::Status s = probe::check_stats_json_path(config.stats_json_path); !s.ok()) {
            std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
            return 1;
        }
    }

    if (config.check_only) {
        // What start-up would check before touching a port: the pattern
        // file compiles, the allow-list parses.
        if (config.detect) {
            detect::Pipeline pipeline;
            if (flowgen::Status s = pipeline.init(config.detection); !s.ok()) {
                std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
                return 1;
            }
        }
        std::printf("echoflow: configuration ok\n");
        return 0;
    }
    if (switch_to) {
        if (flowgen::Status s = probe::check_can_switch(identity); !s.ok()) {
            std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
            return 1;
        }
    }
    // Whatever echoflow and the EAL create (alerts, statistics, the
    // telemetry socket, runtime files) is not for other users: no
    // permission for "others" (the telemetry socket stays root's, 0750).
    umask(umask(0) | 027);
    if (!config.pcap_path.empty()) return probe::run_offline(config, switch_to);

    probe::LiveOptions live;
    if (!config.interface.empty()) {
        if (!readable(config.xdp_object)) {
            std::fprintf(stderr, "echoflow: xdp object '%s' is not readable (see --xdp-object)\n",
                         config.xdp_object.c_str());
            return 1;
        }
        live.eal_args = interface_eal_args(argv[0], config, config.xdp_object);
        live.xdp_interface = config.interface;
        live.xdp_drop_other = config.xdp_drop_other;
        // A probe killed with SIGKILL leaves its program attached, and DPDK's
        // af_xdp PMD then refuses to start: remove ours (only ours) first.
        if (flowgen::Status s = probe::detach_xdp(config.interface); !s.ok()) {
            std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
            return 1;
        }
    } else {
        live.eal_args = args.eal_args;
    }
    live.identity = switch_to;
    const int rc = probe::run_live(config, live);
    if (!live.xdp_interface.empty()) {
        // DPDK's af_xdp PMD detaches on close; make sure nothing of ours stays.
        if (flowgen::Status s = probe::detach_xdp(live.xdp_interface); !s.ok())
            std::fprintf(stderr, "echoflow: %s\n", s.message().c_str());
    }
    return rc;
}
