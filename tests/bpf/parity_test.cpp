// icmp_steer and flowgen::parse_frame must agree, frame by frame, on "ICMP
// for the probe or not": a frame the XDP program passes to the kernel never
// reaches the parser, and one it steers but the parser rejects is a copy the
// host's stack lost for nothing. Every frame of every capture below is run
// through both (BPF_PROG_TEST_RUN and parse_frame with the same options), with
// decapsulation on and off; a disagreement names the file and the frame
// number (1-based, as Wireshark and tcpdump count).
//
// Captures: the repository's own (tests/data, every .pcap/.pcapng below it,
// the encapsulated mirror captures included) and the third-party ones in the
// external corpus (ECHOFLOW_EXTERNAL_CORPUS; skipped with a message when the
// folder is absent). The XDP program only ever sees Ethernet: frames of
// other link types (raw IP, Linux cooked) get an Ethernet header with the
// EtherType their framing gives; both sides then read the same bytes.
#include <linux/bpf.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "flowgen/packet.hpp"
#include "tests/bpf/capture_file.hpp"
#include "tests/bpf/steer_object.hpp"

namespace tests::bpf {
namespace {

namespace fs = std::filesystem;

// pcap LINKTYPE_* values not in flowgen::LinkType (the IPv4/IPv6-only raw
// types; flowgen reads them as kRaw).
constexpr int kLinkIpv4 = 228;
constexpr int kLinkIpv6 = 229;

// A frame as the XDP program would get it on an Ethernet port, or nothing
// when the link type has no Ethernet equivalent.
std::optional<std::vector<uint8_t>> as_ethernet(int link, const uint8_t* p, size_t n) {
    uint16_t type = 0;
    size_t skip = 0;
    switch (link) {
    case static_cast<int>(flowgen::LinkType::kEthernet):
        return std::vector<uint8_t>(p, p + n);
    case static_cast<int>(flowgen::LinkType::kRaw):
    case kLinkIpv4:
    case kLinkIpv6:
        if (n == 0) return std::nullopt;
        type = (p[0] >> 4) == 6 ? 0x86DD : 0x0800;
        break;
    case static_cast<int>(flowgen::LinkType::kLinuxSll):  // protocol at 14, 16-byte header
        if (n < 16) return std::nullopt;
        type = static_cast<uint16_t>(p[14] << 8 | p[15]);
        skip = 16;
        break;
    case static_cast<int>(flowgen::LinkType::kLinuxSll2):  // protocol at 0, 20-byte header
        if (n < 20) return std::nullopt;
        type = static_cast<uint16_t>(p[0] << 8 | p[1]);
        skip = 20;
        break;
    default:
        return std::nullopt;
    }
    std::vector<uint8_t> frame = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1,
                                  static_cast<uint8_t>(type >> 8), static_cast<uint8_t>(type)};
    frame.insert(frame.end(), p + skip, p + n);
    return frame;
}

struct Tally {
    size_t files = 0;
    size_t frames = 0;
    size_t icmp = 0;          // frames both call ICMP
    size_t encapsulated = 0;  // of those, behind at least one tunnel layer
    size_t too_large = 0;     // longer than BPF_PROG_TEST_RUN takes without frags
    size_t disagreements = 0;
};

// The largest frame a native XDP driver hands a single-buffer program is a
// page minus headroom and skb_shared_info; BPF_PROG_TEST_RUN refuses more
// with EINVAL. Such a frame never reaches icmp_steer on a real port either.
constexpr size_t kLargestSingleBufferFrame = 3000;

void compare_file(const SteerObject& steer, const flowgen::ParseOptions& options, const fs::path& path, Tally& t) {
    CaptureFile capture;
    std::string error;
    BOOST_TEST_REQUIRE(read_capture(path.string(), capture, error), path << ": " << error);
    const int link = capture.link;
    size_t index = 0, reported = 0;
    ++t.files;
    for (const std::vector<uint8_t>& bytes : capture.frames) {
        ++index;
        std::optional<std::vector<uint8_t>> frame = as_ethernet(link, bytes.data(), bytes.size());
        if (!frame) {
            BOOST_TEST_MESSAGE(path.filename().string() << ": link type " << link << " has no Ethernet form, skipped");
            break;
        }
        // The kernel refuses frames shorter than an Ethernet header; so
        // would a NIC.
        if (frame->size() < 14) continue;
        if (frame->size() > kLargestSingleBufferFrame) {
            ++t.too_large;
            continue;
        }
        ++t.frames;
        flowgen::PacketInfo info;
        // Live ports deliver whole frames: the wire length is the frame's.
        const flowgen::ParseStatus status =
            flowgen::parse_frame(flowgen::LinkType::kEthernet, *frame, 0, options, info);
        const probe::XdpCounters before = steer.counters();
        (void)steer.run(*frame);
        const probe::XdpCounters d = steer.counters() - before;
        const bool xdp_icmp = d.no_socket == 1;  // no socket in xsks_map: steered ICMP lands here
        const bool parser_icmp = status == flowgen::ParseStatus::kIcmp;
        if (xdp_icmp == parser_icmp) {
            if (parser_icmp) {
                ++t.icmp;
                if (info.tunnel_depth > 0) ++t.encapsulated;
            }
            continue;
        }
        ++t.disagreements;
        if (++reported <= 5) {
            BOOST_ERROR(path.filename().string()
                        << " frame " << index << " (" << frame->size() << " bytes, decap "
                        << (options.decap ? "auto" : "none") << "): parse_frame says "
                        << (parser_icmp ? "ICMP" : "not ICMP") << " (status " << static_cast<int>(status)
                        << ", malformed layer " << static_cast<int>(info.malformed_layer) << "), icmp_steer says "
                        << (xdp_icmp ? "ICMP" : d.malformed ? "malformed" : "not ICMP"));
        }
    }
}

std::vector<fs::path> captures_below(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".pcap" || ext == ".pcapng")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

Tally compare_all(const SteerObject& steer, const fs::path& dir, const flowgen::ParseOptions& options) {
    steer.set_config(probe::steer_config_for(options, false));
    Tally t;
    for (const fs::path& f : captures_below(dir)) compare_file(steer, options, f, t);
    BOOST_TEST_MESSAGE(dir.string() << " (decap " << (options.decap ? "auto" : "none") << "): " << t.files
                                    << " files, " << t.frames << " frames, " << t.icmp << " ICMP ("
                                    << t.encapsulated << " in tunnels), " << t.too_large << " too large for XDP, "
                                    << t.disagreements << " disagreements");
    BOOST_TEST(t.disagreements == 0u);
    return t;
}

flowgen::ParseOptions no_decap() {
    flowgen::ParseOptions o;
    o.decap = false;
    return o;
}

struct ParityFixture {
    ParityFixture() { enter_private_namespaces(); }
    SteerObject steer;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(steer_parser_parity, ParityFixture)

BOOST_AUTO_TEST_CASE(every_frame_of_the_repository_captures_is_icmp_to_both_or_to_neither) {
    const fs::path dir = fs::path(ECHOFLOW_SOURCE_DIR) / "tests" / "data";
    const Tally t = compare_all(steer, dir, flowgen::ParseOptions{});
    // The walk did run: the bundled captures hold thousands of ICMP frames.
    BOOST_TEST(t.files >= 30u);
    BOOST_TEST(t.icmp > 1000u);
    compare_all(steer, dir, no_decap());
}

BOOST_AUTO_TEST_CASE(every_frame_of_the_external_corpus_is_icmp_to_both_or_to_neither) {
    const fs::path dir = ECHOFLOW_EXTERNAL_CORPUS;
    if (!fs::is_directory(dir)) {
        BOOST_TEST_MESSAGE("skipped: no external corpus at " << dir.string());
        return;
    }
    const Tally t = compare_all(steer, dir, flowgen::ParseOptions{});
    BOOST_TEST(t.icmp > 0u);
    compare_all(steer, dir, no_decap());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace tests::bpf
