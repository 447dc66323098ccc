// End to end with real collectors: IpfixExporter -> nfcapd (nfdump 1.7),
// and the same messages, written to a pcap, decoded by tshark.
//
// Checks that nfdump counts exactly the packets and octets exported, shows
// the ICMP type/code, and invents no zero-count flows for records that carry
// our enterprise elements; and that tshark decodes every message without a
// malformed-packet or expert warning.
#define BOOST_TEST_MODULE ipfix_collector
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "flowgen/ipfix_exporter.hpp"

extern char** environ;

using namespace flowgen;
namespace fs = std::filesystem;

namespace {

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE_MESSAGE(p, "popen " << cmd);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);) {
        // nfdump pads columns: collapse runs of spaces for comparison.
        std::string c;
        for (char ch : l)
            if (!(ch == ' ' && (c.empty() || c.back() == ' '))) c += ch;
        while (!c.empty() && c.back() == ' ') c.pop_back();
        if (!c.empty()) v.push_back(c);
    }
    std::sort(v.begin(), v.end());
    return v;
}

uint16_t free_udp_port() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// True once something holds the UDP port (we cannot bind it ourselves).
bool udp_port_taken(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool taken = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
    ::close(fd);
    return taken;
}

IpAddress addr4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress x{};
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

IpAddress addr6(uint8_t last) {
    IpAddress x{};
    x.bytes[0] = 0x20, x.bytes[1] = 0x01, x.bytes[2] = 0x0d, x.bytes[3] = 0xb8, x.bytes[15] = last;
    return x;
}

// Known conversations: the expected nfdump lines are written by hand below.
std::vector<ConversationRecord> conversations(uint64_t t0) {
    std::vector<ConversationRecord> v;
    ConversationRecord a{};
    a.initiator = addr4(192, 0, 2, 1);
    a.responder = addr4(198, 51, 100, 7);
    a.family = Family::kIpv4;
    a.flow_id = 1;
    a.end_reason = EndReason::kIdleTimeout;
    a.dir[0] = DirectionCounters{3 * 84, 3, t0, t0 + 2000, 84, 84, 8, 0, 56, 56, 168};
    a.dir[1] = DirectionCounters{3 * 84, 3, t0 + 1, t0 + 2001, 84, 84, 0, 0, 56, 56, 168};
    a.detection = DetectionSummary{900, 0x3, 7950, 2, 2};
    v.push_back(a);
    ConversationRecord b{};  // an unanswered, fragmented big ping: 2 packets, 1500 + 548
    b.initiator = addr4(192, 0, 2, 9);
    b.responder = addr4(203, 0, 113, 5);
    b.family = Family::kIpv4;
    b.flow_id = 2;
    b.end_reason = EndReason::kForcedEnd;
    b.dir[0] = DirectionCounters{2048, 2, t0 + 10, t0 + 11, 548, 1500, 8, 0, 2020, 2020, 2020};
    v.push_back(b);
    ConversationRecord c{};  // destination unreachable, port unreachable
    c.initiator = addr4(198, 51, 100, 1);
    c.responder = addr4(192, 0, 2, 1);
    c.family = Family::kIpv4;
    c.flow_id = 3;
    c.dir[0] = DirectionCounters{56, 1, t0 + 20, t0 + 20, 56, 56, 3, 3, 0, 0, 0};
    v.push_back(c);
    ConversationRecord d{};  // ICMPv6 echo, 4 each way, 104 bytes
    d.initiator = addr6(1);
    d.responder = addr6(2);
    d.family = Family::kIpv6;
    d.flow_id = 4;
    d.dir[0] = DirectionCounters{4 * 104, 4, t0 + 30, t0 + 3030, 104, 104, 128, 0, 56, 56, 224};
    d.dir[1] = DirectionCounters{4 * 104, 4, t0 + 31, t0 + 3031, 104, 104, 129, 0, 56, 56, 224};
    v.push_back(d);
    return v;
}

// nfdump -o 'fmt:%pr %sa %da %it %ic %pkt %byt' for the records above, in
// the collector's notation (type.code for %ic).
const std::vector<std::string> kExpected = {
    "ICMP 192.0.2.1 198.51.100.7 8 0 3 252",
    "ICMP 198.51.100.7 192.0.2.1 0 0 3 252",
    "ICMP 192.0.2.9 203.0.113.5 8 0 2 2048",
    "ICMP 198.51.100.1 192.0.2.1 3 3 1 56",
    "ICMP6 2001:db8::1 2001:db8::2 128 0 4 416",
    "ICMP6 2001:db8::2 2001:db8::1 129 0 4 416",
};

// Writes UDP payloads as a LINKTYPE_RAW pcap (IPv4 + UDP, checksum 0).
void write_pcap(const fs::path& path, const std::vector<std::vector<uint8_t>>& msgs, uint16_t dport) {
    std::ofstream f(path, std::ios::binary);
    auto u32 = [&](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
    u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(101);
    uint32_t ts = 1700000000;
    for (const auto& m : msgs) {
        const uint16_t ip_len = uint16_t(20 + 8 + m.size());
        uint8_t h[28] = {0x45, 0, uint8_t(ip_len >> 8), uint8_t(ip_len), 0, 0, 0x40, 0, 64, 17, 0, 0,
                         127, 0, 0, 1, 127, 0, 0, 1,
                         0x30, 0x39, uint8_t(dport >> 8), uint8_t(dport), uint8_t((ip_len - 20) >> 8),
                         uint8_t(ip_len - 20), 0, 0};
        uint32_t sum = 0;  // IPv4 header checksum, RFC 791
        for (int i = 0; i < 20; i += 2) sum += uint32_t(h[i] << 8 | h[i + 1]);
        while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
        h[10] = uint8_t(~sum >> 8), h[11] = uint8_t(~sum);
        u32(ts++), u32(0), u32(ip_len), u32(ip_len);
        f.write(reinterpret_cast<const char*>(h), sizeof h);
        f.write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size()));
    }
}

// A collector process, stopped with SIGTERM (and waited for) at scope end.
struct Collector {
    pid_t pid = -1;
    Collector(const Collector&) = delete;  // one owner stops the process
    Collector& operator=(const Collector&) = delete;
    Collector(const std::vector<std::string>& args, const fs::path& log, uint16_t port) {
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        BOOST_REQUIRE_MESSAGE(rc == 0, "cannot start " << args[0]);
        // Wait (bounded) until it listens; datagrams sent before are lost.
        for (int i = 0; i < 200 && !udp_port_taken(port); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        BOOST_REQUIRE_MESSAGE(udp_port_taken(port), args[0] << " did not bind port " << port);
    }
    // Asks the collector to finish (it writes its files on the way out);
    // SIGKILL after a bounded wait so a stuck collector cannot hang the test.
    void stop(int sig = SIGTERM) {
        if (pid < 0) return;
        ::kill(pid, sig);
        int st = 0;
        for (int i = 0; i < 100; ++i) {
            if (::waitpid(pid, &st, WNOHANG) == pid) {
                pid = -1;
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        BOOST_ERROR(pid << " did not exit on signal " << sig);
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &st, 0);
        pid = -1;
    }
    ~Collector() { stop(); }
};

uint64_t now_ms() {
    return uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
}

fs::path fresh_dir(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("echoflow-ipfix-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// ECHOFLOW_KEEP_TEST_FILES=1 keeps the collectors' files and the pcap for a look.
void cleanup(const fs::path& dir) {
    if (std::getenv("ECHOFLOW_KEEP_TEST_FILES")) {
        BOOST_TEST_MESSAGE("kept " << dir);
        return;
    }
    fs::remove_all(dir);
}

std::string file_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// An exporter configuration with one collector, 127.0.0.1:port.
ExporterConfig one_collector(uint16_t port) {
    ExporterConfig c;
    CollectorAddress col;
    BOOST_REQUIRE(parse_collector("127.0.0.1:" + std::to_string(port), col).ok());
    c.collectors.push_back(col);
    return c;
}

// nfacctd on 127.0.0.1:port with its print plugin writing a CSV of
// `aggregate` to dir/out.csv; `primitives`, when given, becomes its
// aggregate_primitives file (enterprise elements).
Collector start_nfacctd(const fs::path& dir, uint16_t port, const std::string& aggregate,
                        const std::string& primitives = {}) {
    {
        std::ofstream conf(dir / "nfacctd.conf");
        conf << "daemonize: false\n"
             << "nfacctd_ip: 127.0.0.1\n"
             << "nfacctd_port: " << port << "\n";
        if (!primitives.empty()) {
            std::ofstream(dir / "primitives.lst") << primitives;
            conf << "aggregate_primitives: " << (dir / "primitives.lst").string() << "\n";
        }
        conf << "plugins: print\n"
             << "aggregate: " << aggregate << "\n"
             << "print_output: csv\n"
             << "print_output_file: " << (dir / "out.csv").string() << "\n"
             << "print_refresh_time: 60\n";
    }
    return Collector({"nfacctd", "-f", (dir / "nfacctd.conf").string()}, dir / "nfacctd.log", port);
}

// Stops nfacctd once it has read its socket (its print plugin writes its
// cache on exit), checks that it accepted every template (it logs a
// rejected one as malformed) and returns the lines of its CSV.
std::vector<std::string> stop_nfacctd(Collector& nfacctd, const fs::path& dir) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    nfacctd.stop(SIGINT);
    const std::string csv = file_text(dir / "out.csv");
    BOOST_TEST_MESSAGE("nfacctd csv:\n" << csv);
    const std::string log = file_text(dir / "nfacctd.log");
    BOOST_CHECK_MESSAGE(log.find("malformed") == std::string::npos, "nfacctd log:\n" << log);
    return lines_of(csv);
}

struct Run {
    fs::path dir;
    std::vector<std::vector<uint8_t>> messages;  // as a second collector received them
    uint16_t port = 0;
};

// Many small conversations: 10.0.x.y pinging 10.1.x.y, i%5+1 requests, one reply.
ConversationRecord bulk_conversation(uint32_t i, uint64_t t0) {
    ConversationRecord r{};
    r.family = Family::kIpv4;
    r.initiator = addr4(10, 0, uint8_t(i >> 8), uint8_t(i));
    r.responder = addr4(10, 1, uint8_t(i >> 8), uint8_t(i));
    r.flow_id = 1000 + i;
    const uint32_t n = i % 5 + 1;
    r.dir[0] = DirectionCounters{84ull * n, n, t0 + i, t0 + i + 10, 84, 84, 8, 0, 56, 56, 56ull * n};
    r.dir[1] = DirectionCounters{84, 1, t0 + i + 1, t0 + i + 1, 84, 84, 0, 0, 56, 56, 56};
    return r;
}

Run export_to_nfcapd(const std::string& name, bool biflow, bool detection, uint32_t bulk = 0) {
    Run r;
    r.dir = fresh_dir(name);
    r.port = free_udp_port();
    fs::create_directories(r.dir / "data");  // nfcapd files only: nfdump -R reads every file
    Collector nfcapd({"nfcapd", "-w", (r.dir / "data").string(), "-p", std::to_string(r.port), "-b", "127.0.0.1",
                      "-t", "60"},
                     r.dir / "nfcapd.log", r.port);

    const int tap = ::socket(AF_INET, SOCK_DGRAM, 0);  // second collector: the capture for tshark
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(tap, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(tap, reinterpret_cast<sockaddr*>(&a), &len);

    ExporterConfig c;
    CollectorAddress col;
    BOOST_REQUIRE(parse_collector("udp://127.0.0.1:" + std::to_string(r.port), col).ok());
    c.collectors.push_back(col);
    BOOST_REQUIRE(parse_collector("127.0.0.1:" + std::to_string(ntohs(a.sin_port)), col).ok());
    c.collectors.push_back(col);
    c.biflow = biflow;
    c.detection_elements = detection;
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    const uint64_t now = now_ms();
    for (const auto& rec : conversations(now - 10000)) e.add(rec, now);
    for (uint32_t i = 0; i < bulk; ++i) e.add(bulk_conversation(i, now - 10000), now);
    e.close(now);
    BOOST_CHECK_EQUAL(e.stats().export_errors.get(), 0u);
    uint8_t buf[65536];
    for (ssize_t n; (n = ::recv(tap, buf, sizeof buf, MSG_DONTWAIT)) > 0;) r.messages.emplace_back(buf, buf + n);
    ::close(tap);
    // Let nfcapd read its socket before it is told to stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    nfcapd.stop();
    return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(nfdump_counts_exactly_what_was_exported_with_enterprise_elements) {
    const Run r = export_to_nfcapd("uni", false, true);
    const std::string out =
        run("nfdump -R " + (r.dir / "data").string() + " -q -o 'fmt:%pr %sa %da %it %ic %pkt %byt' 2>&1");
    BOOST_TEST_MESSAGE("nfdump:\n" << out);
    const auto got = lines_of(out);
    auto want = kExpected;
    std::sort(want.begin(), want.end());
    BOOST_TEST(got == want, boost::test_tools::per_element());  // also: no zero-count extra flows
    const std::string raw = run("nfdump -R " + (r.dir / "data").string() + " -o raw 2>&1");
    BOOST_CHECK(raw.find("first        =                 0") == std::string::npos);
    cleanup(r.dir);
}

BOOST_AUTO_TEST_CASE(tshark_decodes_the_export_without_warnings) {
    const Run r = export_to_nfcapd("tshark", false, true);
    BOOST_REQUIRE(!r.messages.empty());
    const fs::path pcap = r.dir / "export.pcap";
    write_pcap(pcap, r.messages, r.port);
    const std::string out = run("tshark -n -r " + pcap.string() + " -d udp.port==" + std::to_string(r.port) +
                                ",cflow -V 2>&1");
    BOOST_CHECK(out.find("Malformed") == std::string::npos);
    BOOST_CHECK(out.find("Expert Info (Warning") == std::string::npos);
    BOOST_CHECK(out.find("Expert Info (Error") == std::string::npos);
    BOOST_CHECK(out.find("Version: 10") != std::string::npos);
    const std::string fields = run("tshark -n -r " + pcap.string() + " -d udp.port==" + std::to_string(r.port) +
                                   ",cflow -T fields -e cflow.packets 2>&1");
    BOOST_TEST_MESSAGE("tshark packets64 fields:\n" << fields);
    uint64_t packets = 0;
    std::istringstream in(fields);
    for (std::string tok; std::getline(in, tok, '\n');) {
        std::istringstream l(tok);
        for (std::string v; std::getline(l, v, ',');)
            if (!v.empty() && std::isdigit(static_cast<unsigned char>(v[0]))) packets += std::stoull(v);
    }
    BOOST_CHECK_EQUAL(packets, 3u + 3 + 2 + 1 + 4 + 4);
    cleanup(r.dir);
}

BOOST_AUTO_TEST_CASE(nfdump_reads_biflow_records_with_reverse_counters) {
    const Run r = export_to_nfcapd("bi", true, true);
    const std::string data = (r.dir / "data").string();
    const std::string out =
        run("nfdump -R " + data + " -q -o 'fmt:%pr %sa %da %it %ic %pkt %byt %opkt %obyt' 2>&1");
    BOOST_TEST_MESSAGE("nfdump (biflow):\n" << out);
    // One line per conversation: forward counters, reverse (out) counters
    // from the RFC 5103 elements, the forward ICMP type/code.
    auto want = std::vector<std::string>{
        "ICMP 192.0.2.1 198.51.100.7 8 0 3 252 3 252",
        "ICMP 192.0.2.9 203.0.113.5 8 0 2 2048 0 0",
        "ICMP 198.51.100.1 192.0.2.1 3 3 1 56 0 0",
        "ICMP6 2001:db8::1 2001:db8::2 128 0 4 416 4 416",
    };
    std::sort(want.begin(), want.end());
    BOOST_TEST(lines_of(out) == want, boost::test_tools::per_element());
    // Every record has real start/end times (no reverse element overwrote them).
    const std::string raw = run("nfdump -R " + data + " -o raw 2>&1");
    BOOST_CHECK(raw.find("first        =                 0") == std::string::npos);
    BOOST_CHECK(raw.find("Flow Record") != std::string::npos);
    cleanup(r.dir);
}

BOOST_AUTO_TEST_CASE(nfacctd_reads_the_detection_enterprise_elements) {
    const fs::path dir = fresh_dir("nfacctd");
    const uint16_t port = free_udp_port();
    Collector nfacctd = start_nfacctd(
        dir, port, "src_host, dst_host, proto, ef_score, ef_reasons, ef_entropy, ef_paymax, ef_sig, ef_verdict",
        "name=ef_score\tfield_type=32473:1\tlen=2\tsemantics=u_int\n"
        "name=ef_reasons\tfield_type=32473:2\tlen=4\tsemantics=hex\n"
        "name=ef_entropy\tfield_type=32473:3\tlen=2\tsemantics=u_int\n"
        "name=ef_paymax\tfield_type=32473:5\tlen=2\tsemantics=u_int\n"
        "name=ef_sig\tfield_type=32473:7\tlen=2\tsemantics=u_int\n"
        "name=ef_verdict\tfield_type=32473:8\tlen=1\tsemantics=u_int\n");
    IpfixExporter e;
    BOOST_REQUIRE(e.open(one_collector(port)).ok());
    const uint64_t now = now_ms();
    for (const auto& rec : conversations(now - 10000)) e.add(rec, now);
    e.close(now);
    const auto lines = stop_nfacctd(nfacctd, dir);
    // The tunnel-flagged echo request direction: score 900, reasons 0x3,
    // entropy 7950, payload max 56, signature 2, verdict 2, 3 packets, 252 bytes
    // (nfacctd prints semantics=hex without a 0x prefix).
    bool found = false;
    for (const auto& l : lines)
        if (l.find("192.0.2.1,198.51.100.7,icmp,900,3,7950,56,2,2,3,252") != std::string::npos) found = true;
    BOOST_CHECK_MESSAGE(found, "no nfacctd line with the detection values");
    BOOST_CHECK_EQUAL(lines.size(), 1u + 6u);  // header + one line per exported record
    cleanup(dir);
}

// Aggregates of one-packet conversations (templates 262/263,
// flowgen/singleton_fold.hpp) as nfacctd reads them: every template
// accepted, the prefix lengths as its src_mask/dst_mask, the counts whole.
BOOST_AUTO_TEST_CASE(nfacctd_reads_the_aggregate_templates) {
    const fs::path dir = fresh_dir("nfacctd-aggregates");
    const uint16_t port = free_udp_port();
    Collector nfacctd = start_nfacctd(dir, port, "src_host, dst_host, src_mask, dst_mask, proto");
    ExporterConfig c = one_collector(port);
    c.aggregate_templates = true;
    c.segment_elements = true;
    IpfixExporter e;
    BOOST_REQUIRE(e.open(c).ok());
    const uint64_t now = now_ms();
    ConversationRecord a;  // 1,000 one-packet echo requests from 203.0.113.0/24 to 198.51.100.7
    a.initiator = IpAddress{};
    a.responder = IpAddress{};
    a.initiator.bytes[0] = 203, a.initiator.bytes[1] = 0, a.initiator.bytes[2] = 113;
    a.responder.bytes[0] = 198, a.responder.bytes[1] = 51, a.responder.bytes[2] = 100, a.responder.bytes[3] = 7;
    a.family = Family::kIpv4;
    a.key_type = 8;
    a.dir[0] = DirectionCounters{84000, 1000, now - 2000, now - 1001, 84, 84, 8, 0, 56, 56, 56000};
    a.source_prefix_length = 24;
    a.destination_prefix_length = 32;
    a.flow_count = 1000;
    ConversationRecord v6 = a;  // the IPv6 catch-all
    v6.family = Family::kIpv6;
    v6.initiator = IpAddress{};
    v6.responder = IpAddress{};
    v6.source_prefix_length = v6.destination_prefix_length = 0;
    v6.key_type = v6.dir[0].icmp_type = 128;
    v6.dir[0].packets = v6.flow_count = 7;
    v6.dir[0].octets = 7 * 104;
    e.add(a, now);
    e.add(v6, now);
    e.close(now);
    const auto lines = stop_nfacctd(nfacctd, dir);
    BOOST_CHECK_EQUAL(lines.size(), 1u + 2u);  // header + one line per aggregate
    bool v4_found = false, v6_found = false;
    for (const auto& l : lines) {
        v4_found |= l.find("203.0.113.0,198.51.100.7,24,32,icmp,1000,84000") != std::string::npos;
        v6_found |= l.find("::,::,0,0,ipv6-icmp,7,728") != std::string::npos;
    }
    BOOST_CHECK_MESSAGE(v4_found, "no nfacctd line for the /24 aggregate");
    BOOST_CHECK_MESSAGE(v6_found, "no nfacctd line for the IPv6 catch-all");
    cleanup(dir);
}

BOOST_AUTO_TEST_CASE(nfcapd_sees_no_sequence_failures_across_many_messages) {
    const uint32_t bulk = 600;
    const Run r = export_to_nfcapd("seq", false, true, bulk);
    BOOST_REQUIRE_GT(r.messages.size(), 20u);
    uint64_t flows = 6, packets = 17, bytes = 3440;  // the known conversations
    for (uint32_t i = 0; i < bulk; ++i) {
        flows += 2;
        packets += i % 5 + 2;
        bytes += 84ull * (i % 5 + 2);
    }
    const std::string info = run("nfdump -R " + (r.dir / "data").string() + " -I 2>&1");
    BOOST_TEST_MESSAGE("nfdump -I:\n" << info);
    BOOST_CHECK(info.find("\nFlows: " + std::to_string(flows) + "\n") != std::string::npos);
    BOOST_CHECK(info.find("\nPackets: " + std::to_string(packets) + "\n") != std::string::npos);
    BOOST_CHECK(info.find("\nBytes: " + std::to_string(bytes) + "\n") != std::string::npos);
    BOOST_CHECK(info.find("\nSequence failures: 0\n") != std::string::npos);
    cleanup(r.dir);
}
