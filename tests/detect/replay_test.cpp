// Detector regression on real captures: every tunnel capture alerts, no
// benign capture does. Captures: the labelled corpus recorded by
// scripts/make-corpus (tests/data/captures/labels.tsv) and the captures of
// the nDPI test corpus (outside the repository: skipped when absent;
// expected verdicts from its README). The
// environment variables ECHOFLOW_CAPTURES_DIR and ECHOFLOW_NDPI_DIR point the
// test at other directories of the same layout. Frames are
// read with libpcap and parsed by flowgen::parse_frame; conversations are
// keyed simply, as the flow cache would: (family, address pair, echo id,
// request type). The table of results is printed at --log_level=message.
#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "detect/alert_json.hpp"
#include "detect/pipeline.hpp"
#include "flowgen/packet.hpp"
#include "tests/support/corpus.hpp"

using namespace detect;

namespace {

const std::string kSourceDir = ECHOFLOW_SOURCE_DIR;
const std::string kShippedFile = kSourceDir + "/detect/patterns/echoflow.patterns";

std::string captures_dir() {
    if (const char* env = std::getenv("ECHOFLOW_CAPTURES_DIR"); env != nullptr && *env != '\0') return env;
    return kSourceDir + "/tests/data/captures";
}

// Third-party captures (labels.tsv: FILE, LABEL, NOTE); absent on a
// machine without the shared corpus: the test then skips with a message.
std::string external_dir() {
    if (const char* env = std::getenv("ECHOFLOW_EXTERNAL_DIR"); env != nullptr && *env != '\0') return env;
    return kSourceDir + "/../shared/corpus/external";
}

std::string ndpi_dir() {
    if (const char* env = std::getenv("ECHOFLOW_NDPI_DIR"); env != nullptr && *env != '\0') return env;
    return kSourceDir + "/../shared/corpus/ndpi";
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

struct Key {
    flowgen::Family family;
    std::string low, high;  // the address pair, ordered
    uint16_t id;
    uint8_t type;
    bool operator<(const Key& o) const { return std::tie(family, low, high, id, type) < std::tie(o.family, o.low, o.high, o.id, o.type); }
};

struct Conversation {
    ConversationState state{};
    flowgen::ConversationRecord record{};
    uint32_t packets = 0;
    int alert_at = -1;  // packets of this conversation up to and including the alerting one
};

struct Result {
    // Every alert, in order: "capture ICMP #, initiator > responder, id, reasons" (for comparing runs).
    std::vector<std::string> alerts;
    // Per address pair ("a<->b", lower first): packets of its conversation at its first alert.
    std::map<std::string, int> alert_pairs;
    uint32_t first_alert_reasons = 0;
    uint64_t frames = 0;
    uint64_t icmp = 0;
    size_t conversations = 0;
    int alerting_conversations = 0;
    int first_alert_packets = -1;        // smallest "packets until alert" over conversations
    int64_t first_alert_capture_icmp = -1;  // ICMP packets in the capture up to the first alert
    uint8_t verdict = 0;
    uint16_t score = 0;
    uint32_t reasons = 0;
    std::string signature;
    std::string first_alert_line;
    std::string error;
    uint64_t stale_scores = 0;  // packets after which the cached score differed from evaluate()
};

std::string address_key(const flowgen::IpAddress& a) { return std::string(reinterpret_cast<const char*>(a.bytes), 16); }

void account(flowgen::DirectionCounters& d, const flowgen::PacketInfo& p, uint64_t now_ms) {
    if (d.packets == 0) {
        d.first_ms = now_ms;
        d.min_payload = p.payload_wire_length;
        d.icmp_type = p.icmp_type;
        d.icmp_code = p.icmp_code;
    }
    ++d.packets;
    d.octets += p.ip_length;
    d.last_ms = now_ms;
    d.min_payload = std::min(d.min_payload, p.payload_wire_length);
    d.max_payload = std::max(d.max_payload, p.payload_wire_length);
    d.payload_octets += p.payload_wire_length;
}

std::string pair_text(flowgen::Family family, const flowgen::IpAddress& a, const flowgen::IpAddress& b) {
    char x[INET6_ADDRSTRLEN] = "", y[INET6_ADDRSTRLEN] = "";
    const int af = family == flowgen::Family::kIpv6 ? AF_INET6 : AF_INET;
    inet_ntop(af, a.bytes, x, sizeof x);
    inet_ntop(af, b.bytes, y, sizeof y);
    return std::string(x) < std::string(y) ? std::string(x) + "<->" + y : std::string(y) + "<->" + x;
}

// The probe's hand-over rule: a symmetric hash of the address pair picks the
// worker, so one sender's conversations with several peers spread over workers.
unsigned owner_of(const flowgen::PacketInfo& p, size_t workers) {
    uint64_t a[2], b[2];
    std::memcpy(a, p.src.bytes, 16);
    std::memcpy(b, p.dst.bytes, 16);
    uint64_t h = ((a[0] ^ b[0]) * 0x9E3779B97F4A7C15ULL) ^ (a[1] ^ b[1]);
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    return static_cast<unsigned>((h >> 32) % workers);
}

// Replays a capture through `pipelines` (one per simulated worker; a
// conversation belongs to owner_of()'s pipeline).
Result replay_capture(const std::string& path, const std::vector<Pipeline*>& pipelines) {
    Result r;
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* pcap = pcap_open_offline(path.c_str(), errbuf);
    if (pcap == nullptr) {
        r.error = errbuf;
        return r;
    }
    flowgen::LinkType link;
    switch (pcap_datalink(pcap)) {
        case DLT_EN10MB: link = flowgen::LinkType::kEthernet; break;
        case DLT_RAW: link = flowgen::LinkType::kRaw; break;
        case DLT_IPV4:
        case DLT_IPV6:
            link = flowgen::LinkType::kRaw;
            break;
        case DLT_LINUX_SLL: link = flowgen::LinkType::kLinuxSll; break;
#ifdef DLT_LINUX_SLL2
        case DLT_LINUX_SLL2: link = flowgen::LinkType::kLinuxSll2; break;
#endif
        default:
            r.error = "unsupported link type " + std::to_string(pcap_datalink(pcap));
            pcap_close(pcap);
            return r;
    }
    std::map<Key, Conversation> conversations;
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(pcap, &header, &data) == 1) {
        ++r.frames;
        flowgen::PacketInfo p;
        if (flowgen::parse_frame(link, {data, header->caplen}, p) != flowgen::ParseStatus::kIcmp) continue;
        ++r.icmp;
        if (!p.has_icmp_header) continue;  // non-first fragment: nothing for the detectors
        const uint64_t now_ms = static_cast<uint64_t>(header->ts.tv_sec) * 1000 + header->ts.tv_usec / 1000;
        uint8_t type = p.icmp_type;
        bool is_reply = false;
        uint8_t request_type = 0;
        if (flowgen::icmp_request_reply_type(p.family, p.icmp_type, &request_type, &is_reply)) type = request_type;
        const std::string s = address_key(p.src), d = address_key(p.dst);
        const Key key{p.family, std::min(s, d), std::max(s, d), p.icmp_id, type};
        Pipeline& pipeline = *pipelines[owner_of(p, pipelines.size())];
        auto [it, created] = conversations.try_emplace(key);
        Conversation& c = it->second;
        if (created) {
            c.record.initiator = p.src;
            c.record.responder = p.dst;
            c.record.family = p.family;
            c.record.key_type = type;
            c.record.icmp_id = p.icmp_id;
            c.record.flow_id = conversations.size();
        }
        const unsigned dir = p.src == c.record.initiator ? 0 : 1;
        account(c.record.dir[dir], p, now_ms);
        ++c.packets;
        const bool alert = pipeline.on_packet(c.state, p, dir, now_ms);
        // The score on_packet cached must be evaluate() of the state it left.
        if ((c.state.flags & ConversationState::kFlagScored) && c.state.score != pipeline.evaluate(c.state).score)
            ++r.stale_scores;
        if (alert) {
            r.alerts.push_back(std::to_string(r.icmp) + " " + pair_text(p.family, c.record.initiator, c.record.responder) +
                               " id " + std::to_string(c.record.icmp_id) + " " +
                               std::to_string(pipeline.evaluate(c.state).reasons));
            r.alert_pairs.try_emplace(pair_text(p.family, p.src, p.dst), static_cast<int>(c.packets));
        }
        if (alert && c.alert_at < 0) {
            c.alert_at = static_cast<int>(c.packets);
            ++r.alerting_conversations;
            if (r.first_alert_packets < 0 || c.alert_at < r.first_alert_packets) r.first_alert_packets = c.alert_at;
            if (r.first_alert_capture_icmp < 0) {
                r.first_alert_capture_icmp = static_cast<int64_t>(r.icmp);
                c.record.detection = pipeline.summarize(c.state);
                r.first_alert_reasons = c.record.detection.reason_flags;
                format_alert_json(c.record, pipeline, now_ms, r.first_alert_line,
                                  std::span<const uint8_t>(p.payload, p.payload_length), 0, &c.state);
            }
        }
    }
    pcap_close(pcap);
    r.conversations = conversations.size();
    for (const auto& [key, c] : conversations) {
        const auto d = pipelines[0]->summarize(c.state);
        if (d.score > r.score || (d.score == r.score && d.verdict > r.verdict)) {
            r.score = d.score;
            r.verdict = d.verdict;
            r.reasons = d.reason_flags;
            const char* name = pipelines[0]->signature_name(d.signature_id);
            r.signature = name ? name : "";
        }
    }
    return r;
}

std::string reasons_text(uint32_t reasons) {
    std::string out;
    for (unsigned i = 0; i < kReasonBits; ++i)
        if ((reasons & (1u << i)) && reason_name(i) != nullptr) out += (out.empty() ? "" : ",") + std::string(reason_name(i));
    return out.empty() ? "-" : out;
}

struct Labelled {
    std::string file;
    std::string label;
};

void check_capture(const std::string& path, const Labelled& l) {
    Pipeline pipeline;
    Config config;
    config.patterns_path = kShippedFile;
    BOOST_REQUIRE(pipeline.init(config).ok());
    const Result r = replay_capture(path, {&pipeline});
    BOOST_TEST(r.error.empty(), l.file << ": " << r.error);
    BOOST_TEST(r.stale_scores == 0u, l.file << ": packets left a stale cached score");
    BOOST_TEST_MESSAGE("| " << l.file << " | " << l.label << " | " << verdict_name(r.verdict) << " | " << r.score << " | "
                            << reasons_text(r.reasons) << " | " << (r.signature.empty() ? "-" : r.signature) << " | "
                            << r.icmp << "/" << r.conversations << " | "
                            << (r.first_alert_packets < 0 ? std::string("-")
                                                          : std::to_string(r.first_alert_packets) + " (capture ICMP #" +
                                                                std::to_string(r.first_alert_capture_icmp) + ")")
                            << " |");
    if (l.label == "tunnel") {
        BOOST_TEST(r.alerting_conversations > 0, l.file << ": tunnel capture raised no alert");
        BOOST_TEST(r.first_alert_line.find("\"verdict\":\"tunnel\"") != std::string::npos, l.file);
        BOOST_WARN_MESSAGE(r.first_alert_packets > 0 && r.first_alert_packets <= 20,
                           l.file << ": first alert after " << r.first_alert_packets << " packets (aim: 20)");
        if (!r.first_alert_line.empty()) BOOST_TEST_MESSAGE("    " << r.first_alert_line.substr(0, r.first_alert_line.size() - 1));
    } else {
        BOOST_TEST(r.alerting_conversations == 0, l.file << ": benign capture alerted: " << r.first_alert_line);
    }
}

void print_header() {
    BOOST_TEST_MESSAGE("| capture | label | verdict | score | reasons | signature | icmp pkts/convs | packets until first alert |");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay)

BOOST_AUTO_TEST_CASE(ndpi_captures_tunnel_alerts_benign_never,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                         return tests::support::corpus_present(ndpi_dir());
                     })) {
    const std::string dir = ndpi_dir();
    // Expected verdicts from the corpus README.
    const Labelled captures[] = {
        {"icmp-tunnel.pcap", "tunnel"},       {"malformed_icmp.pcap", "benign"}, {"badpackets.pcap", "benign"},
        {"6in4tunnel.pcap", "benign"},        {"teredo.pcap", "benign"},         {"anyconnect-vpn.pcap", "benign"},
        {"gnutella.pcap", "benign"},          {"nintendo.pcap", "benign"},       {"quic_interop_V.pcapng", "benign"},
        {"viber.pcap", "benign"},             {"googledns_android10.pcap", "benign"}, {"sflow.pcap", "benign"},
    };
    print_header();
    for (const auto& c : captures) check_capture(dir + "/" + c.file, c);
}

BOOST_AUTO_TEST_CASE(labelled_corpus_tunnel_alerts_benign_never,
                     *boost::unit_test::precondition([](boost::unit_test::test_unit_id) {
                         return boost::test_tools::assertion_result(file_exists(captures_dir() + "/labels.tsv"));
                     })) {
    std::ifstream in(captures_dir() + "/labels.tsv");
    std::string line;
    std::getline(in, line);  // header
    std::vector<Labelled> captures;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        std::istringstream fields(line);
        Labelled l;
        std::getline(fields, l.file, '\t');
        std::getline(fields, l.label, '\t');
        captures.push_back(l);
    }
    BOOST_REQUIRE(!captures.empty());
    print_header();
    for (const auto& c : captures) {
        BOOST_TEST_CONTEXT(c.file) {
            BOOST_TEST((c.label == "tunnel" || c.label == "benign"), "label '" << c.label << "'");
            check_capture(captures_dir() + "/" + c.file, c);
        }
    }
}

// The tunnel's host pair in each external tunnel capture (labels.tsv NOTE):
// an alert must name it; the other traffic in the file is benign.
const std::map<std::string, std::string> kExternalTunnelPairs = {
    {"hackeire__2011-c3_ptunnel-ssh.pcap", "192.168.5.208<->192.168.5.217"},
    {"inshallhack__ndh2018-icmp-exfil.pcap", "192.168.1.16<->192.168.1.24"},
    {"sithari__egress-assess_text-448B.pcap", "192.168.86.36<->54.144.215.114"},
    {"sithari__hping3-exfil_text-448B.pcap", "10.0.2.15<->54.144.215.114"},
    {"sithari__icmp-file-transfer_text-2MB.pcap", "10.0.2.15<->54.144.215.114"},
    {"sithari__icmp-file-transfer_text-448B.pcap", "10.0.2.15<->54.144.215.114"},
    {"sithari__pyexfil_text-448B.pcap", "10.0.2.15<->54.144.215.114"},
};

BOOST_AUTO_TEST_CASE(external_captures_alert_on_the_tunnel_pair_benign_never_malformed_survive) {
    const std::string dir = external_dir();
    if (!file_exists(dir + "/labels.tsv")) {
        BOOST_TEST_MESSAGE("external corpus not found at " << dir << " (set ECHOFLOW_EXTERNAL_DIR): skipped");
        return;
    }
    std::ifstream in(dir + "/labels.tsv");
    std::string line;
    int tunnels = 0, benign = 0, malformed = 0, worst = 0;
    BOOST_TEST_MESSAGE("| capture | label | alerted | packets at first alert | reasons |");
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string file, label;
        std::getline(fields, file, '\t');
        std::getline(fields, label, '\t');
        if (file.empty() || file == "file") continue;
        BOOST_TEST_CONTEXT(file) {
            Pipeline pipeline;
            Config config;
            config.patterns_path = kShippedFile;
            BOOST_REQUIRE(pipeline.init(config).ok());
            const Result r = replay_capture(dir + "/" + file, {&pipeline});
            BOOST_TEST(r.error.empty(), r.error);
            BOOST_TEST(r.stale_scores == 0u);
            BOOST_TEST_MESSAGE("| " << file << " | " << label << " | " << (r.alerts.empty() ? "no" : "yes") << " | "
                                    << (r.first_alert_packets < 0 ? std::string("-") : std::to_string(r.first_alert_packets))
                                    << " | " << (r.alerts.empty() ? "-" : reasons_text(r.first_alert_reasons)) << " |");
            if (label == "tunnel") {
                ++tunnels;
                const auto pair = kExternalTunnelPairs.find(file);
                BOOST_REQUIRE_MESSAGE(pair != kExternalTunnelPairs.end(), "no tunnel pair listed for " << file);
                const auto hit = r.alert_pairs.find(pair->second);
                BOOST_TEST((hit != r.alert_pairs.end()), "no alert on the tunnel pair " << pair->second);
                BOOST_TEST(r.alert_pairs.size() == 1u, "alerts on pairs other than the tunnel's");
                if (hit != r.alert_pairs.end()) {
                    BOOST_TEST(hit->second <= 20, "first alert after " << hit->second << " packets (limit 20)");
                    worst = std::max(worst, hit->second);
                }
                if (!r.first_alert_line.empty()) {
                    BOOST_TEST(r.first_alert_line.find("\"explanation\":\"") != std::string::npos);
                    BOOST_TEST_MESSAGE("    " << r.first_alert_line.substr(0, r.first_alert_line.size() - 1));
                }
            } else if (label == "benign") {
                ++benign;
                BOOST_TEST(r.alerts.empty(), "benign capture alerted: " << r.first_alert_line);
            } else {
                BOOST_TEST(label == "malformed");
                ++malformed;  // survival and a clean replay are the checks
            }
        }
    }
    BOOST_TEST(tunnels > 0);
    BOOST_TEST(benign > 0);
    BOOST_TEST_MESSAGE("external: " << tunnels << " tunnel, " << benign << " benign, " << malformed
                                    << " malformed captures; worst packets to first alert on a tunnel pair: " << worst);
}

// The same captures give the same alerts whatever the number of workers:
// per-sender evidence lives in one table shared by every pipeline.
BOOST_AUTO_TEST_CASE(alerts_do_not_depend_on_the_number_of_workers) {
    std::vector<std::string> paths;
    for (const char* f : {"ping-linux-p-exfil.pcap", "slow-exfil-56.pcap", "text-exfil-b64-1min.pcap",
                          "text-exfil-b64-many-peers.pcap", "icmpsh-style.pcap"})
        if (file_exists(captures_dir() + "/" + f)) paths.push_back(captures_dir() + "/" + f);
    for (const char* f : {"sithari__icmp-file-transfer_text-448B.pcap", "sithari__egress-assess_text-448B.pcap",
                          "hackeire__2011-c2_nmap-scans.pcap"})
        if (file_exists(external_dir() + "/" + f)) paths.push_back(external_dir() + "/" + f);
    BOOST_REQUIRE(!paths.empty());
    Config config;
    config.patterns_path = kShippedFile;
    for (const auto& path : paths) {
        BOOST_TEST_CONTEXT(path) {
            std::vector<std::string> baseline;
            for (size_t workers : {1u, 2u, 4u}) {
                SourceTable shared;
                BOOST_REQUIRE(shared.init(config.source_table_entries).ok());
                std::vector<Pipeline> pipelines(workers);
                std::vector<Pipeline*> ptrs;
                for (auto& p : pipelines) {
                    BOOST_REQUIRE(p.init(config, &shared).ok());
                    ptrs.push_back(&p);
                }
                const Result r = replay_capture(path, ptrs);
                BOOST_TEST(r.error.empty(), r.error);
                if (workers == 1) {
                    baseline = r.alerts;
                } else {
                    BOOST_TEST(r.alerts == baseline, workers << " workers: " << r.alerts.size() << " alerts, 1 worker: "
                                                             << baseline.size());
                }
            }
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
