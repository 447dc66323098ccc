// Test-side handle on the built icmp_steer object (ICMP_STEER_BPF_OBJ, set by
// meson): open and load it with libbpf, run the program on a frame with
// BPF_PROG_TEST_RUN, read its counters, set its config.
//
// Test-only: aborts the test (BOOST_TEST_REQUIRE) on any libbpf failure.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "probe/bpf/icmp_steer.h"
#include "probe/xdp_stats.hpp"

namespace tests::bpf {

// steer_config_for(flowgen::ParseOptions{}, false), from main.cpp (a test
// file that includes <netinet/ip_icmp.h> cannot include flowgen/packet.hpp).
icmp_steer_config parser_default_config();

inline std::string errno_string(int err) {
    return std::to_string(err) + " " + std::strerror(err < 0 ? -err : err);
}

class SteerObject {
public:
    SteerObject() {
        obj_ = bpf_object__open_file(ICMP_STEER_BPF_OBJ, nullptr);
        BOOST_TEST_REQUIRE(libbpf_get_error(obj_) == 0, "bpf_object__open_file(" ICMP_STEER_BPF_OBJ ")");
        int err = bpf_object__load(obj_);
        BOOST_TEST_REQUIRE(err == 0, "bpf_object__load (verifier): " << errno_string(err));
        bpf_program* prog = bpf_object__find_program_by_name(obj_, ICMP_STEER_PROG_NAME);
        BOOST_TEST_REQUIRE(prog != nullptr);
        prog_fd_ = bpf_program__fd(prog);
        xsks_fd_ = map_fd(ICMP_STEER_XSKS_MAP_NAME);
        counters_fd_ = map_fd(ICMP_STEER_COUNTERS_MAP_NAME);
        config_fd_ = map_fd(ICMP_STEER_CONFIG_MAP_NAME);
        // What echoflow writes when its port starts: the parser's defaults.
        set_config(parser_default_config());
    }
    SteerObject(const SteerObject&) = delete;
    SteerObject& operator=(const SteerObject&) = delete;
    ~SteerObject() { bpf_object__close(obj_); }

    int prog_fd() const { return prog_fd_; }
    int xsks_fd() const { return xsks_fd_; }

    // Runs the program once on `frame` (copied by the kernel) and returns
    // its XDP action. The kernel refuses frames shorter than an Ethernet
    // header (EINVAL), so callers pass at least 14 bytes.
    uint32_t run(const std::vector<uint8_t>& frame) const {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                    .data_size_in = static_cast<uint32_t>(frame.size()), .repeat = 1);
        int err = bpf_prog_test_run_opts(prog_fd_, &opts);
        BOOST_TEST_REQUIRE(err == 0, "bpf_prog_test_run_opts(" << frame.size() << " bytes): " << errno_string(err));
        return opts.retval;
    }

    // steer_counters[0] summed over CPUs (test_run runs on the calling CPU,
    // which may change between runs).
    probe::XdpCounters counters() const {
        int cpus = libbpf_num_possible_cpus();
        BOOST_TEST_REQUIRE(cpus > 0);
        std::vector<icmp_steer_counters> per_cpu(static_cast<size_t>(cpus));
        uint32_t key = 0;
        BOOST_TEST_REQUIRE(bpf_map_lookup_elem(counters_fd_, &key, per_cpu.data()) == 0);
        probe::XdpCounters sum;
        for (const icmp_steer_counters& c : per_cpu) {
            sum.redirected += c.redirected;
            sum.passed += c.passed;
            sum.dropped += c.dropped;
            sum.no_socket += c.no_socket;
            sum.malformed += c.malformed;
        }
        return sum;
    }

    // Replaces the flags, keeps the ports.
    void set_flags(uint32_t flags) const {
        icmp_steer_config config = get_config();
        config.flags = flags;
        set_config(config);
    }

    void set_config(const icmp_steer_config& config) const {
        uint32_t key = 0;
        BOOST_TEST_REQUIRE(bpf_map_update_elem(config_fd_, &key, &config, BPF_ANY) == 0);
    }

    icmp_steer_config get_config() const {
        icmp_steer_config config{};
        uint32_t key = 0;
        BOOST_TEST_REQUIRE(bpf_map_lookup_elem(config_fd_, &key, &config) == 0);
        return config;
    }

private:
    int map_fd(const char* name) const {
        bpf_map* map = bpf_object__find_map_by_name(obj_, name);
        BOOST_TEST_REQUIRE(map != nullptr, "map " << name);
        return bpf_map__fd(map);
    }

    bpf_object* obj_ = nullptr;
    int prog_fd_ = -1;
    int xsks_fd_ = -1;
    int counters_fd_ = -1;
    int config_fd_ = -1;
};

// Difference of two counter snapshots, field by field.
inline probe::XdpCounters operator-(const probe::XdpCounters& a, const probe::XdpCounters& b) {
    return {a.redirected - b.redirected, a.passed - b.passed, a.dropped - b.dropped, a.no_socket - b.no_socket,
            a.malformed - b.malformed};
}

// The test process moves into its own network namespace (fresh lo, no other
// interfaces) and mount namespace (a private bpffs at /sys/fs/bpf, for
// libxdp's dispatcher) once, before the first test that needs it. Nothing
// outside the test process is touched. Needs root.
void enter_private_namespaces();

}  // namespace tests::bpf
