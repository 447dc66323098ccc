// With a real AF_XDP socket in xsks_map, icmp_steer returns XDP_REDIRECT
// for ICMP and counts it as redirected; without one it falls back to
// XDP_PASS. The socket is bound (copy mode) to queue 0 of the loopback
// device of the test's private network namespace, which is the device and
// queue BPF_PROG_TEST_RUN reports in ctx->rx_queue_index.
#include <linux/bpf.h>
#include <linux/if_xdp.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdint>
#include <vector>

#include "tests/bpf/steer_object.hpp"
#include "tests/support/packet_builder.hpp"

namespace tests::bpf {
namespace {

using support::PacketBuilder;
using support::v4;
using support::v6;

// An AF_XDP socket on lo queue 0 with its UMEM; nothing is ever received on
// it (BPF_PROG_TEST_RUN does not deliver), it only has to exist.
class LoopbackXsk {
public:
    LoopbackXsk() {
        area_ = mmap(nullptr, kAreaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        BOOST_TEST_REQUIRE(area_ != MAP_FAILED);
        int err = xsk_umem__create(&umem_, area_, kAreaSize, &fill_, &completion_, nullptr);
        BOOST_TEST_REQUIRE(err == 0, "xsk_umem__create: " << errno_string(err));
        xsk_socket_config config{};
        config.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
        config.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
        config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // we own the program
        config.bind_flags = XDP_COPY;
        // The kernel releases a closed AF_XDP socket's binding after the
        // close returns: the previous case's socket may still hold queue 0.
        for (int attempt = 0; attempt < 100; ++attempt) {
            err = xsk_socket__create(&xsk_, "lo", 0, umem_, &rx_, &tx_, &config);
            if (err != -EBUSY) break;
            usleep(20'000);
        }
        BOOST_TEST_REQUIRE(err == 0, "xsk_socket__create(lo, queue 0): " << errno_string(err));
    }
    LoopbackXsk(const LoopbackXsk&) = delete;
    LoopbackXsk& operator=(const LoopbackXsk&) = delete;
    ~LoopbackXsk() {
        if (xsk_ != nullptr) xsk_socket__delete(xsk_);
        if (umem_ != nullptr) xsk_umem__delete(umem_);
        if (area_ != MAP_FAILED) munmap(area_, kAreaSize);
    }

    int fd() const { return xsk_socket__fd(xsk_); }

private:
    static constexpr size_t kAreaSize = 64 * XSK_UMEM__DEFAULT_FRAME_SIZE;
    void* area_ = MAP_FAILED;
    xsk_umem* umem_ = nullptr;
    xsk_socket* xsk_ = nullptr;
    xsk_ring_prod fill_{};
    xsk_ring_cons completion_{};
    xsk_ring_cons rx_{};
    xsk_ring_prod tx_{};
};

// A base class, so that the namespaces are entered before the members
// (the socket) are built: never on the host's loopback.
struct InPrivateNamespaces {
    InPrivateNamespaces() { enter_private_namespaces(); }
};

struct RedirectFixture : InPrivateNamespaces {
    RedirectFixture() {
        uint32_t queue = 0;
        int fd = xsk.fd();
        BOOST_TEST_REQUIRE(bpf_map_update_elem(steer.xsks_fd(), &queue, &fd, BPF_ANY) == 0,
                           "xsks_map[0] = socket: " << errno_string(errno));
    }
    SteerObject steer;
    LoopbackXsk xsk;
};

std::vector<uint8_t> icmp_in_two_tags() {
    return PacketBuilder{}
        .ethernet()
        .vlan(10, 0x88a8)
        .vlan(20)
        .ipv4(v4("192.0.2.1"), v4("192.0.2.2"))
        .icmp_echo(8, 0x77, 1)
        .payload_counting(56)
        .build();
}

std::vector<uint8_t> icmpv6_behind_extension_headers() {
    return PacketBuilder{}
        .ethernet()
        .ipv6(v6("2001:db8::1"), v6("2001:db8::2"))
        .ipv6_hop_by_hop()
        .ipv6_destination_options(16)
        .icmpv6_echo(128, 0x77, 2)
        .build();
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(xsk_redirect, RedirectFixture)

BOOST_AUTO_TEST_CASE(icmp_with_a_socket_on_the_queue_is_redirected) {
    for (const auto& frame : {icmp_in_two_tags(), icmpv6_behind_extension_headers()}) {
        const probe::XdpCounters before = steer.counters();
        BOOST_TEST(steer.run(frame) == static_cast<uint32_t>(XDP_REDIRECT));
        const probe::XdpCounters d = steer.counters() - before;
        BOOST_TEST(d.redirected == 1u);
        BOOST_TEST(d.passed == 0u);
        BOOST_TEST(d.no_socket == 0u);
    }
}

BOOST_AUTO_TEST_CASE(tcp_and_truncated_icmp_are_not_redirected_even_with_a_socket) {
    const auto tcp = PacketBuilder{}.ethernet().ipv4(v4("192.0.2.1"), v4("192.0.2.2")).tcp(1, 2).build();
    BOOST_TEST(steer.run(tcp) == static_cast<uint32_t>(XDP_PASS));
    auto cut = icmp_in_two_tags();
    cut.resize(cut.size() - 1);
    BOOST_TEST(steer.run(cut) == static_cast<uint32_t>(XDP_PASS));
    const probe::XdpCounters c = steer.counters();
    BOOST_TEST(c.redirected == 0u);
    BOOST_TEST(c.passed == 2u);
    BOOST_TEST(c.malformed == 1u);
}

BOOST_AUTO_TEST_CASE(removing_the_socket_makes_icmp_fall_back_to_pass) {
    BOOST_TEST(steer.run(icmp_in_two_tags()) == static_cast<uint32_t>(XDP_REDIRECT));
    uint32_t queue = 0;
    BOOST_TEST_REQUIRE(bpf_map_delete_elem(steer.xsks_fd(), &queue) == 0);
    BOOST_TEST(steer.run(icmp_in_two_tags()) == static_cast<uint32_t>(XDP_PASS));
    const probe::XdpCounters c = steer.counters();
    BOOST_TEST(c.redirected == 1u);
    BOOST_TEST(c.no_socket == 1u);
    BOOST_TEST(c.passed == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace tests::bpf
