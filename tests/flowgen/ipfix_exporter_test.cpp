// IpfixExporter over real loopback sockets: what a UDP or TCP collector
// receives (decoded by the independent test decoder), sequence numbers,
// message size limit, template refresh, collector down and TCP reconnect.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <vector>

#include "flowgen/ipfix_exporter.hpp"
#include "tests/flowgen/ipfix_decode.hpp"

using namespace flowgen;

namespace {

constexpr uint64_t kNow = 1700000000000;

struct Socket {
    int fd = -1;
    uint16_t port = 0;
    explicit Socket(int type) {
        fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(fd >= 0);
    }
    // Binds 127.0.0.1:port (0 = any free port) and records the port.
    bool bind_loopback(uint16_t want = 0) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(want);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
        return true;
    }
    ~Socket() {
        if (fd >= 0) ::close(fd);
    }
};

std::vector<std::vector<uint8_t>> recv_datagrams(int fd) {
    std::vector<std::vector<uint8_t>> out;
    uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        out.emplace_back(buf, buf + n);
    }
    return out;
}

// Reads what is queued on a stream socket and splits it at the IPFIX
// message length field.
std::vector<std::vector<uint8_t>> recv_stream(int fd) {
    std::vector<uint8_t> all;
    uint8_t buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0) break;
        all.insert(all.end(), buf, buf + n);
    }
    std::vector<std::vector<uint8_t>> out;
    size_t off = 0;
    while (all.size() - off >= 4) {
        const size_t len = ipfix_test::be16(all.data() + off + 2);
        BOOST_REQUIRE(len >= 16);
        if (off + len > all.size()) break;
        out.emplace_back(all.begin() + off, all.begin() + off + len);
        off += len;
    }
    BOOST_CHECK_EQUAL(off, all.size());  // no partial message left over
    return out;
}

ConversationRecord conversation(uint32_t i) {
    ConversationRecord r{};
    r.family = Family::kIpv4;
    r.initiator.bytes[0] = 10, r.initiator.bytes[3] = uint8_t(i);
    r.responder.bytes[0] = 10, r.responder.bytes[1] = 1, r.responder.bytes[3] = uint8_t(i >> 8);
    r.flow_id = i;
    r.dir[0] = DirectionCounters{84ull * (i % 5 + 1), i % 5 + 1, kNow, kNow + 10, 84, 84, 8, 0, 56, 56, 56};
    r.dir[1] = DirectionCounters{84, 1, kNow + 1, kNow + 1, 84, 84, 0, 0, 56, 56, 56};
    return r;
}

ExporterConfig config_for(const std::string& collector) {
    ExporterConfig c;
    CollectorAddress a;
    BOOST_REQUIRE(parse_collector(collector, a).ok());
    c.collectors.push_back(a);
    c.observation_domain_id = 77;
    return c;
}

// Decodes a sequence of messages as one collector would and checks, for
// each, that its sequence number counts the data records before it.
struct Received {
    std::vector<ipfix_test::Message> messages;
    uint64_t flow_records = 0, packets = 0, template_messages = 0, data_records = 0;
};

Received decode_all(const std::vector<std::vector<uint8_t>>& raw, size_t max_bytes, bool expect_contiguous) {
    Received r;
    ipfix_test::Decoder d;
    for (const auto& m : raw) {
        BOOST_CHECK_LE(m.size(), max_bytes);
        ipfix_test::Message msg = d.decode(m.data(), m.size());
        BOOST_REQUIRE_MESSAGE(msg.error.empty(), "decode: " << msg.error);
        BOOST_CHECK_EQUAL(msg.odid, 77u);
        if (expect_contiguous) BOOST_CHECK_EQUAL(msg.sequence, r.data_records);
        r.data_records += msg.records.size();
        if (msg.template_records > 0) ++r.template_messages;
        for (const auto& rec : msg.records) {
            if (rec.template_id == kTemplateIpv4 || rec.template_id == kTemplateIpv6) {
                ++r.flow_records;
                r.packets += rec.u(2);
            }
        }
        r.messages.push_back(std::move(msg));
    }
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ipfix_exporter)

BOOST_AUTO_TEST_CASE(parse_collector_accepts_schemes_and_bracketed_ipv6) {
    CollectorAddress a;
    BOOST_REQUIRE(parse_collector("127.0.0.1:4739", a).ok());
    BOOST_CHECK(a.transport == CollectorAddress::Transport::kUdp);
    BOOST_CHECK_EQUAL(a.host, "127.0.0.1");
    BOOST_CHECK_EQUAL(a.port, 4739);
    BOOST_REQUIRE(parse_collector("tcp://collector.example:9995", a).ok());
    BOOST_CHECK(a.transport == CollectorAddress::Transport::kTcp);
    BOOST_CHECK_EQUAL(a.host, "collector.example");
    BOOST_REQUIRE(parse_collector("UDP://[::1]:2055", a).ok());
    BOOST_CHECK(a.transport == CollectorAddress::Transport::kUdp);
    BOOST_CHECK_EQUAL(a.host, "::1");
    BOOST_CHECK_EQUAL(a.port, 2055);
    BOOST_CHECK_EQUAL(a.text, "UDP://[::1]:2055");
}

BOOST_AUTO_TEST_CASE(parse_collector_errors_name_text_and_problem) {
    CollectorAddress a;
    const struct {
        const char* text;
        const char* problem;
    } cases[] = {
        {"127.0.0.1", "missing ':PORT'"},       {"127.0.0.1:0", "not a number in 1..65535"},
        {"127.0.0.1:70000", "1..65535"},        {"127.0.0.1:47x", "not a number"},
        {"sctp://h:1", "unknown transport"},    {"::1:4739", "brackets"},
        {"[::1:4739", "missing ']'"},           {":4739", "missing host"},
    };
    for (const auto& c : cases) {
        const Status s = parse_collector(c.text, a);
        BOOST_TEST_CONTEXT(c.text) {
            BOOST_CHECK(!s.ok());
            BOOST_CHECK(s.message().find(c.text) != std::string::npos);
            BOOST_CHECK(s.message().find(c.problem) != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(validate_rejects_unusable_configs) {
    ExporterConfig ok = config_for("127.0.0.1:4739");
    BOOST_CHECK(validate(ok).ok());
    ExporterConfig c = ok;
    c.collectors.clear();
    BOOST_CHECK(!validate(c).ok());
    c = ok;
    c.max_message_bytes = 200;
    BOOST_CHECK(validate(c).message().find("max message size") != std::string::npos);
    c = ok;
    c.max_message_bytes = 65535;  // more than a UDP datagram can carry
    BOOST_CHECK(validate(c).message().find("127.0.0.1:4739") != std::string::npos);
    c = ok;
    c.template_refresh_s = 0;
    BOOST_CHECK(!validate(c).ok());
    c = ok;
    c.flush_interval_ms = 0;
    BOOST_CHECK(!validate(c).ok());
    c = ok;
    c.enterprise_number = 0;
    BOOST_CHECK(!validate(c).ok());
}

BOOST_AUTO_TEST_CASE(validate_refuses_the_rfc5103_reverse_pen_for_detection_elements) {
    ExporterConfig c = config_for("127.0.0.1:4739");
    c.enterprise_number = kReversePen;
    for (bool biflow : {false, true}) {
        c.biflow = biflow;
        const Status s = validate(c);
        BOOST_TEST_CONTEXT("biflow " << biflow) {
            BOOST_CHECK(!s.ok());
            BOOST_CHECK(s.message().find("29305") != std::string::npos);
        }
    }
    // Without detection elements the number is never written.
    c.detection_elements = false;
    BOOST_CHECK(validate(c).ok());
}

BOOST_AUTO_TEST_CASE(open_names_the_collector_that_cannot_be_resolved) {
    IpfixExporter e;
    ExporterConfig c = config_for("udp://no-such-host.invalid:4739");
    const Status s = e.open(c);
    BOOST_CHECK(!s.ok());
    BOOST_CHECK(s.message().find("udp://no-such-host.invalid:4739") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(udp_collector_gets_templates_first_and_contiguous_sequence_numbers) {
    Socket col(SOCK_DGRAM);
    BOOST_REQUIRE(col.bind_loopback());
    ExporterConfig c = config_for("127.0.0.1:" + std::to_string(col.port));
    c.max_message_bytes = 600;
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    uint64_t packets = 0;
    std::vector<std::vector<uint8_t>> raw;
    for (uint32_t i = 0; i < 500; ++i) {
        const ConversationRecord r = conversation(i);
        packets += r.dir[0].packets + r.dir[1].packets;
        e.add(r, kNow);
        // Read as we go: the socket's receive buffer would overflow otherwise.
        for (auto& d : recv_datagrams(col.fd)) raw.push_back(std::move(d));
    }
    e.poll(kNow + c.flush_interval_ms);  // sends the partial last message
    for (auto& d : recv_datagrams(col.fd)) raw.push_back(std::move(d));
    const Received got = decode_all(raw, c.max_message_bytes, true);
    BOOST_REQUIRE(!got.messages.empty());
    BOOST_CHECK_EQUAL(got.messages[0].template_records, 4u);  // templates before any data
    BOOST_CHECK_EQUAL(got.messages[0].records.size(), 0u);
    BOOST_CHECK_EQUAL(got.flow_records, 1000u);
    BOOST_CHECK_EQUAL(got.packets, packets);
    BOOST_CHECK_EQUAL(e.stats().records_exported.get(), 1000u);
    BOOST_CHECK_EQUAL(e.stats().messages_sent.get(), raw.size());
    BOOST_CHECK_EQUAL(e.stats().export_errors.get(), 0u);
    for (const auto& m : got.messages)
        for (const auto& r : m.records)
            if (r.template_id == kTemplateIpv4) BOOST_CHECK(r.has(1, c.enterprise_number));  // detection score
}

BOOST_AUTO_TEST_CASE(udp_templates_and_statistics_are_refreshed_on_interval) {
    Socket col(SOCK_DGRAM);
    BOOST_REQUIRE(col.bind_loopback());
    ExporterConfig c = config_for("127.0.0.1:" + std::to_string(col.port));
    c.template_refresh_s = 10;
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    e.poll(kNow);
    e.add(conversation(1), kNow);
    e.poll(kNow + 9999);  // flushes data, no refresh yet
    ProcessStats ps;
    ps.observed_packets = 1234;
    e.set_process_stats(ps);
    e.poll(kNow + 10000);  // refresh
    const Received got = decode_all(recv_datagrams(col.fd), c.max_message_bytes, true);
    BOOST_CHECK_EQUAL(got.template_messages, 2u);
    // The last statistics record carries what was set and what was exported.
    const ipfix_test::Record* stats = nullptr;
    for (const auto& m : got.messages)
        for (const auto& r : m.records)
            if (r.template_id == kTemplateProcessStats) stats = &r;
    BOOST_REQUIRE(stats);
    BOOST_CHECK_EQUAL(stats->u(86), 1234u);  // packetTotalCount
    BOOST_CHECK_EQUAL(stats->u(42), 2u);     // exportedFlowRecordTotalCount
    BOOST_CHECK_EQUAL(stats->u(149), 77u);   // scope: observation domain
    // RFC 5610 type records name our elements.
    bool named = false;
    for (const auto& m : got.messages)
        for (const auto& r : m.records)
            if (r.template_id == kTemplateIeType && r.u(303) == 8 && r.u(346) == c.enterprise_number)
                named = r.str(341) == "echoflowVerdict";
    BOOST_CHECK(named);
}

BOOST_AUTO_TEST_CASE(udp_collector_down_is_counted_not_blocking) {
    uint16_t port;
    {
        Socket probe(SOCK_DGRAM);
        BOOST_REQUIRE(probe.bind_loopback());
        port = probe.port;
    }  // closed: nothing listens there now
    ExporterConfig c = config_for("127.0.0.1:" + std::to_string(port));
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    for (uint32_t i = 0; i < 50; ++i) {
        e.add(conversation(i), kNow + i * 1000);
        e.poll(kNow + i * 1000 + 500);
    }
    e.close(kNow + 60000);
    // Loopback reports port unreachable at once; the sends after it fail.
    BOOST_CHECK_GT(e.stats().export_errors.get(), 0u);
    BOOST_CHECK_GT(e.stats().records_not_sent.get(), 0u);
    BOOST_CHECK_LE(e.stats().records_not_sent.get(), e.stats().records_exported.get());
    BOOST_CHECK_EQUAL(e.stats().records_exported.get(), 100u);
}

BOOST_AUTO_TEST_CASE(tcp_collector_gets_templates_then_every_record) {
    Socket listener(SOCK_STREAM);
    BOOST_REQUIRE(listener.bind_loopback());
    BOOST_REQUIRE(::listen(listener.fd, 4) == 0);
    ExporterConfig c = config_for("tcp://127.0.0.1:" + std::to_string(listener.port));
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    for (uint32_t i = 0; i < 300; ++i) e.add(conversation(i), kNow);  // before the connect completes
    e.poll(kNow + 1);
    e.poll(kNow + 1000);
    const int conn = ::accept(listener.fd, nullptr, nullptr);
    BOOST_REQUIRE(conn >= 0);
    e.close(kNow + 2000);
    const Received got = decode_all(recv_stream(conn), c.max_message_bytes, true);
    ::close(conn);
    BOOST_REQUIRE(!got.messages.empty());
    BOOST_CHECK_EQUAL(got.messages[0].template_records, 4u);
    BOOST_CHECK_EQUAL(got.template_messages, 1u);  // TCP: once per connection
    BOOST_CHECK_EQUAL(got.flow_records, 600u);
    BOOST_CHECK_EQUAL(e.stats().tcp_connects.get(), 1u);
    BOOST_CHECK_EQUAL(e.stats().records_not_sent.get(), 0u);
}

BOOST_AUTO_TEST_CASE(tcp_collector_down_drops_and_counts_then_reconnects) {
    uint16_t port;
    {
        Socket probe(SOCK_STREAM);
        BOOST_REQUIRE(probe.bind_loopback());
        port = probe.port;
    }
    ExporterConfig c = config_for("tcp://127.0.0.1:" + std::to_string(port));
    c.tcp_buffer_bytes = 8 * c.max_message_bytes;  // small, so that it fills
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    uint64_t now = kNow;
    for (uint32_t i = 0; i < 400; ++i) {
        e.add(conversation(i), now);
        e.poll(now += 50);
    }
    BOOST_CHECK_EQUAL(e.stats().tcp_connects.get(), 0u);
    BOOST_CHECK_GT(e.stats().records_not_sent.get(), 0u);  // buffer full: whole messages dropped
    BOOST_CHECK_GT(e.stats().export_errors.get(), 0u);
    const uint64_t dropped = e.stats().records_not_sent.get();

    Socket listener(SOCK_STREAM);
    BOOST_REQUIRE(listener.bind_loopback(port));
    BOOST_REQUIRE(::listen(listener.fd, 4) == 0);
    for (int i = 0; i < 200 && e.stats().tcp_connects.get() == 0; ++i) e.poll(now += 1000);  // backoff <= 30 s
    BOOST_REQUIRE_EQUAL(e.stats().tcp_connects.get(), 1u);
    const int conn = ::accept(listener.fd, nullptr, nullptr);
    BOOST_REQUIRE(conn >= 0);
    e.add(conversation(1000), now);
    e.close(now);
    const Received got = decode_all(recv_stream(conn), c.max_message_bytes, false);
    ::close(conn);
    BOOST_REQUIRE(!got.messages.empty());
    BOOST_CHECK_EQUAL(got.messages[0].template_records, 4u);
    // Everything is either received or counted as not sent.
    BOOST_CHECK_EQUAL(got.flow_records + e.stats().records_not_sent.get(), e.stats().records_exported.get());
    BOOST_CHECK_EQUAL(e.stats().records_not_sent.get(), dropped);
    BOOST_CHECK_GT(got.flow_records, 0u);
    // Sequence numbers never go back, and the gap equals what was lost.
    const auto& last = got.messages.back();
    BOOST_CHECK_GE(last.sequence + last.records.size(), got.data_records + dropped);
}

BOOST_AUTO_TEST_CASE(tcp_collector_that_drops_the_connection_gets_templates_again) {
    Socket listener(SOCK_STREAM);
    BOOST_REQUIRE(listener.bind_loopback());
    BOOST_REQUIRE(::listen(listener.fd, 4) == 0);
    ExporterConfig c = config_for("tcp://127.0.0.1:" + std::to_string(listener.port));
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    uint64_t now = kNow;
    e.poll(now);
    e.poll(now += 10);
    BOOST_REQUIRE_EQUAL(e.stats().tcp_connects.get(), 1u);
    const int first = ::accept(listener.fd, nullptr, nullptr);
    BOOST_REQUIRE(first >= 0);
    ::close(first);  // the collector goes away; the exporter notices on a later send
    for (uint32_t i = 0; i < 100 && e.stats().tcp_connects.get() < 2; ++i) {
        e.add(conversation(i), now);
        e.poll(now += 1000);
    }
    BOOST_REQUIRE_EQUAL(e.stats().tcp_connects.get(), 2u);
    const int second = ::accept(listener.fd, nullptr, nullptr);
    BOOST_REQUIRE(second >= 0);
    e.add(conversation(500), now);
    e.close(now);
    const Received got = decode_all(recv_stream(second), c.max_message_bytes, false);
    ::close(second);
    BOOST_REQUIRE(!got.messages.empty());
    BOOST_CHECK_EQUAL(got.messages[0].template_records, 4u);  // a new stream starts with templates
    BOOST_CHECK_GT(got.flow_records, 0u);
}

BOOST_AUTO_TEST_SUITE_END()
