#define BOOST_TEST_MODULE bpf
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "flowgen/packet.hpp"
#include "tests/bpf/steer_object.hpp"

namespace tests::bpf {

namespace {

// Every case loads BPF programs in a private network namespace: without root
// the whole module is skipped (exit status 77 is meson's "skipped").
struct RootOrSkip {
    RootOrSkip() {
        if (geteuid() == 0) return;
        std::fprintf(stderr, "bpf tests skipped: they need root (BPF programs, network namespaces)\n");
        std::exit(77);
    }
};
BOOST_TEST_GLOBAL_FIXTURE(RootOrSkip);

void bring_loopback_up() {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    BOOST_TEST_REQUIRE(fd >= 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    BOOST_TEST_REQUIRE(ioctl(fd, SIOCGIFFLAGS, &ifr) == 0);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    BOOST_TEST_REQUIRE(ioctl(fd, SIOCSIFFLAGS, &ifr) == 0, "lo up: " << errno_string(errno));
    close(fd);
}

}  // namespace

icmp_steer_config parser_default_config() { return probe::steer_config_for(flowgen::ParseOptions{}, false); }

void enter_private_namespaces() {
    static bool entered = false;
    if (entered) return;
    BOOST_TEST_REQUIRE(geteuid() == 0, "the bpf tests need root (BPF programs, namespaces)");
    BOOST_TEST_REQUIRE(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0, "unshare: " << errno_string(errno));
    // Keep our mounts to ourselves, then give libxdp a bpffs of its own.
    BOOST_TEST_REQUIRE(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0,
                       "mount --make-rprivate /: " << errno_string(errno));
    // Only libxdp's dispatcher needs it, and libxdp falls back without it.
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, nullptr) != 0)
        BOOST_TEST_MESSAGE("no private bpffs (" << errno_string(errno) << "): libxdp will attach directly");
    bring_loopback_up();
    entered = true;
}

}  // namespace tests::bpf
