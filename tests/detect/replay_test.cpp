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
#include <pcap/pcap.h>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
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

Result replay(const std::string& path, Pipeline& pipeline) {
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
        if (alert && c.alert_at < 0) {
            c.alert_at = static_cast<int>(c.packets);
            ++r.alerting_conversations;
            if (r.first_alert_packets < 0 || c.alert_at < r.first_alert_packets) r.first_alert_packets = c.alert_at;
            if (r.first_alert_capture_icmp < 0) {
                r.first_alert_capture_icmp = static_cast<int64_t>(r.icmp);
                c.record.detection = pipeline.summarize(c.state);
                format_alert_json(c.record, pipeline, now_ms, r.first_alert_line,
                                  std::span<const uint8_t>(p.payload, p.payload_length));
            }
        }
    }
    pcap_close(pcap);
    r.conversations = conversations.size();
    for (const auto& [key, c] : conversations) {
        const auto d = pipeline.summarize(c.state);
        if (d.score > r.score || (d.score == r.score && d.verdict > r.verdict)) {
            r.score = d.score;
            r.verdict = d.verdict;
            r.reasons = d.reason_flags;
            const char* name = pipeline.signature_name(d.signature_id);
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
    const Result r = replay(path, pipeline);
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

BOOST_AUTO_TEST_SUITE_END()
