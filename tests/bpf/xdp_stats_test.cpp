// probe/xdp_stats against icmp_steer attached to the loopback device of the
// test's private network namespace (generic XDP), with real traffic from
// kernel sockets: an ICMP echo through a raw socket, a TCP transfer, UDP
// datagrams. Both ways the program can be attached are covered: directly
// through libbpf (what DPDK 22.11's af_xdp PMD does with xdp_prog=), and as
// a component of libxdp's multi-program dispatcher (xdp-loader, libxdp
// users, when the kernel lets it; the test's private bpffs is there for it).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "probe/xdp_stats.hpp"
#include "tests/bpf/steer_object.hpp"

namespace tests::bpf {
namespace {

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) { BOOST_TEST_REQUIRE(fd_ >= 0, "socket: " << errno_string(errno)); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { close(fd_); }
    int get() const { return fd_; }

private:
    int fd_;
};

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// Waits (bounded) until fd is readable; the assertion is on the data, the
// bound only keeps a broken build from hanging.
bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 5000) == 1;
}

uint16_t internet_checksum(const uint8_t* p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// One ICMP echo request to 127.0.0.1 through a raw socket; returns once the
// kernel's echo reply has come back (so both frames crossed lo's XDP hook).
void ping_loopback_once() {
    Fd s(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    uint8_t echo[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'e', 'c', 'h', 'o', 'f', 'l', 'o', 'w'};
    const uint16_t sum = internet_checksum(echo, sizeof echo);
    echo[2] = static_cast<uint8_t>(sum >> 8);
    echo[3] = static_cast<uint8_t>(sum);
    sockaddr_in to = loopback(0);
    BOOST_TEST_REQUIRE(sendto(s.get(), echo, sizeof echo, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
                       static_cast<ssize_t>(sizeof echo));
    // A raw ICMP socket sees every incoming ICMP message: our own request
    // first, then the reply (type 0).
    for (int i = 0; i < 4; ++i) {
        BOOST_TEST_REQUIRE(readable(s.get()), "no echo reply on lo");
        uint8_t buf[256];
        ssize_t n = recv(s.get(), buf, sizeof buf, 0);
        BOOST_TEST_REQUIRE(n >= 28);
        const size_t ihl = static_cast<size_t>(buf[0] & 0x0F) * 4;
        if (buf[ihl] == 0) return;
    }
    BOOST_FAIL("echo reply not seen");
}

// A TCP connection on lo carrying `bytes`, read in full by the listener.
void tcp_transfer_loopback(size_t bytes) {
    Fd listener(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in any = loopback(0);
    BOOST_TEST_REQUIRE(bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
    BOOST_TEST_REQUIRE(listen(listener.get(), 1) == 0);
    socklen_t len = sizeof any;
    BOOST_TEST_REQUIRE(getsockname(listener.get(), reinterpret_cast<sockaddr*>(&any), &len) == 0);

    Fd client(socket(AF_INET, SOCK_STREAM, 0));
    BOOST_TEST_REQUIRE(connect(client.get(), reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
    Fd server(accept(listener.get(), nullptr, nullptr));
    std::vector<uint8_t> data(bytes, 0x5A);
    size_t received = 0;
    size_t sent = 0;
    while (received < bytes) {
        if (sent < bytes) {
            ssize_t n = send(client.get(), data.data() + sent, std::min<size_t>(bytes - sent, 16384), 0);
            BOOST_TEST_REQUIRE(n > 0);
            sent += static_cast<size_t>(n);
        }
        BOOST_TEST_REQUIRE(readable(server.get()));
        ssize_t n = recv(server.get(), data.data(), bytes, 0);
        BOOST_TEST_REQUIRE(n > 0);
        received += static_cast<size_t>(n);
    }
    BOOST_TEST(received == bytes);
}

probe::XdpCounters read_lo() {
    probe::XdpCounters c;
    flowgen::Status s = probe::read_xdp_counters("lo", c);
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    return c;
}

// Sends one UDP datagram to a bound socket on lo; returns whether it arrived
// after the program counted it (passed or dropped), so "not delivered" is a
// fact, not a timeout.
bool udp_datagram_delivered(uint64_t probe::XdpCounters::*counter) {
    Fd receiver(socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in addr = loopback(0);
    BOOST_TEST_REQUIRE(bind(receiver.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    BOOST_TEST_REQUIRE(getsockname(receiver.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    Fd sender(socket(AF_INET, SOCK_DGRAM, 0));
    const uint64_t before = read_lo().*counter;
    const char msg[] = "mirror";
    BOOST_TEST_REQUIRE(sendto(sender.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) ==
                       static_cast<ssize_t>(sizeof msg));
    // lo runs the receive path, XDP included, before sendto returns; the
    // loop only guards against a kernel that defers it.
    for (int i = 0; i < 500 && read_lo().*counter == before; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const uint64_t after = read_lo().*counter;
    BOOST_TEST_REQUIRE(after == before + 1);
    char buf[16];
    return recv(receiver.get(), buf, sizeof buf, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof msg);
}

int lo_index() {
    const int ifindex = static_cast<int>(if_nametoindex("lo"));
    BOOST_TEST_REQUIRE(ifindex > 0);
    return ifindex;
}

// The behaviour both attachment styles must show.
void check_counters_config_and_detach() {
    const probe::XdpCounters start = read_lo();
    BOOST_TEST(start.redirected + start.passed + start.dropped == 0u);

    ping_loopback_once();
    probe::XdpCounters d = read_lo() - start;
    BOOST_TEST(d.no_socket == 2u);  // request and reply, no AF_XDP socket bound
    BOOST_TEST(d.redirected == 0u);

    const probe::XdpCounters before_tcp = read_lo();
    tcp_transfer_loopback(200000);
    d = read_lo() - before_tcp;
    BOOST_TEST(d.passed >= 4u);  // handshake and data segments, each seen once on lo
    BOOST_TEST(d.no_socket == 0u);
    BOOST_TEST(d.dropped == 0u);

    BOOST_TEST(udp_datagram_delivered(&probe::XdpCounters::passed));
    flowgen::Status s = probe::set_xdp_drop_other("lo", true);
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    BOOST_TEST(!udp_datagram_delivered(&probe::XdpCounters::dropped));
    s = probe::set_xdp_drop_other("lo", false);
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    BOOST_TEST(udp_datagram_delivered(&probe::XdpCounters::passed));

    s = probe::detach_xdp("lo");
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    probe::XdpCounters after;
    s = probe::read_xdp_counters("lo", after);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "xdp on lo: no XDP program attached");
    s = probe::detach_xdp("lo");  // nothing attached: still fine
    BOOST_TEST(s.ok(), s.message());
}

struct LoopbackFixture {
    LoopbackFixture() { enter_private_namespaces(); }
    ~LoopbackFixture() { bpf_xdp_detach(lo_index(), XDP_FLAGS_SKB_MODE, nullptr); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(xdp_stats, LoopbackFixture)

BOOST_AUTO_TEST_CASE(program_attached_directly_through_libbpf_is_found_read_configured_and_detached) {
    SteerObject steer;
    const int err = bpf_xdp_attach(lo_index(), steer.prog_fd(), XDP_FLAGS_SKB_MODE, nullptr);
    BOOST_TEST_REQUIRE(err == 0, "bpf_xdp_attach(lo): " << errno_string(err));
    check_counters_config_and_detach();
}

// libxdp runs the program behind its dispatcher when the kernel and a bpffs
// allow it, and falls back to attaching it directly otherwise (it says so
// on stderr). Either way xdp_stats must find it; the log says which way was
// exercised. (On the sandbox this was written on, the kernel refuses the
// dispatcher's freplace programs with EPERM, so only the fallback ran there.)
BOOST_AUTO_TEST_CASE(program_attached_through_libxdp_is_found_read_configured_and_detached) {
    xdp_program* prog = xdp_program__open_file(ICMP_STEER_BPF_OBJ, "xdp", nullptr);
    BOOST_TEST_REQUIRE(libxdp_get_error(prog) == 0);
    int err = xdp_program__attach(prog, lo_index(), XDP_MODE_SKB, 0);
    BOOST_TEST_REQUIRE(err == 0, "xdp_program__attach(lo): " << errno_string(err));
    xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(lo_index());
    BOOST_TEST_REQUIRE(libxdp_get_error(mp) == 0);
    const bool dispatcher = !xdp_multiprog__is_legacy(mp);
    BOOST_TEST_MESSAGE("libxdp attached icmp_steer " << (dispatcher ? "behind its dispatcher" : "directly (legacy)"));
    xdp_multiprog__close(mp);

    check_counters_config_and_detach();
    mp = xdp_multiprog__get_from_ifindex(lo_index());
    BOOST_TEST(libxdp_get_error(mp) == -ENOENT);  // nothing left, dispatcher included
    xdp_program__close(prog);
}

BOOST_AUTO_TEST_CASE(another_program_is_reported_by_name_and_left_attached) {
    // r0 = XDP_PASS; exit
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    const int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "other_prog", "BSD", insns, 2, nullptr);
    BOOST_TEST_REQUIRE(fd >= 0, "bpf_prog_load: " << errno_string(errno));
    Fd other(fd);
    BOOST_TEST_REQUIRE(bpf_xdp_attach(lo_index(), other.get(), XDP_FLAGS_SKB_MODE, nullptr) == 0);

    probe::XdpCounters c;
    flowgen::Status s = probe::read_xdp_counters("lo", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "xdp on lo: attached XDP program is other_prog, not icmp_steer");
    s = probe::detach_xdp("lo");
    BOOST_TEST(s.ok(), s.message());
    uint32_t id = 0;
    BOOST_TEST(bpf_xdp_query_id(lo_index(), XDP_FLAGS_SKB_MODE, &id) == 0);
    BOOST_TEST(id != 0u);  // still attached
}

BOOST_AUTO_TEST_CASE(unknown_interface_is_named_in_the_error) {
    probe::XdpCounters c;
    flowgen::Status s = probe::read_xdp_counters("ef-xnone", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "xdp on ef-xnone: if_nametoindex: 19 (No such device)");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace tests::bpf
