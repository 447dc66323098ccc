// Payload measures: entropy against its random expectation, fills, embedded
// IP packets, ptunnel framing.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "detect/payload_analysis.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;

namespace {
Bytes span(const Payload& p) { return Bytes(p.data(), p.size()); }
}  // namespace

BOOST_AUTO_TEST_SUITE(payload_analysis)

BOOST_AUTO_TEST_CASE(expected_random_entropy_matches_published_values_by_length) {
    // icmp-facts.md: ~4.9 at 32, 5.6 at 56, 6.5 at 128, 7.2 at 256, 7.8 at 1000, 7.87 at 1472.
    BOOST_TEST(expected_random_entropy(32) == 4.88, boost::test_tools::tolerance(0.01));
    BOOST_TEST(expected_random_entropy(56) == 5.60, boost::test_tools::tolerance(0.01));
    BOOST_TEST(expected_random_entropy(128) == 6.55, boost::test_tools::tolerance(0.01));
    BOOST_TEST(expected_random_entropy(256) == 7.17, boost::test_tools::tolerance(0.01));
    BOOST_TEST(expected_random_entropy(1000) == 7.80, boost::test_tools::tolerance(0.01));
    BOOST_TEST(expected_random_entropy(1472) == 7.87, boost::test_tools::tolerance(0.01));
    // Table and large-n approximation agree where they meet.
    BOOST_TEST(expected_random_entropy(4096) == expected_random_entropy(4097), boost::test_tools::tolerance(0.001));
}

BOOST_AUTO_TEST_CASE(random_payloads_score_near_their_expectation_and_have_no_fill) {
    for (size_t n : {64u, 1000u}) {
        const Payload p = random_bytes(n, static_cast<uint32_t>(n));
        const double h = shannon_entropy(span(p));
        BOOST_TEST(h > expected_random_entropy(static_cast<uint32_t>(n)) - 0.4);
        BOOST_TEST(h < 8.0);
        BOOST_TEST(static_cast<int>(analyze_structure(span(p), 24).fill) == static_cast<int>(Fill::kNone));
    }
}

BOOST_AUTO_TEST_CASE(entropy_equals_the_textbook_formula_at_every_length) {
    // shannon_entropy takes three paths by length (<= 128, < 512, larger)
    // and sums table terms; each must give -sum p log2 p over 256 bins.
    auto reference = [](const Payload& p) {
        double counts[256] = {};
        for (uint8_t b : p) counts[b] += 1.0;
        double h = 0.0;
        for (double c : counts)
            if (c > 0) h -= c / p.size() * std::log2(c / p.size());
        return h;
    };
    for (size_t n = 1; n <= 700; n += (n < 140 ? 1 : 37)) {
        std::vector<Payload> inputs = {random_bytes(n, static_cast<uint32_t>(n)), linux_ping(n, 1), Payload(n, 0x41)};
        Payload two(n);
        for (size_t i = 0; i < n; ++i) two[i] = static_cast<uint8_t>(i % 3 == 0 ? 7 : 200);
        inputs.push_back(two);
        for (const Payload& p : inputs)
            BOOST_TEST(shannon_entropy(span(p)) == reference(p), boost::test_tools::tolerance(1e-6));
    }
}

BOOST_AUTO_TEST_CASE(linux_ping_at_56_and_1472_is_a_counter_behind_the_timestamp) {
    for (size_t n : {56u, 1472u}) {
        const Payload p = linux_ping(n, 3);
        const Structure s = analyze_structure(span(p), 24);
        BOOST_TEST(static_cast<int>(s.fill) == static_cast<int>(Fill::kCounter));
        BOOST_TEST(s.start <= 16);
    }
    // The 1472-byte ping out-scores random data on plain entropy: that is why
    // structure is checked before entropy.
    BOOST_TEST(shannon_entropy(span(linux_ping(1472, 1))) > expected_random_entropy(1472));
}

BOOST_AUTO_TEST_CASE(real_ping_fills_are_recognised_at_any_size) {
    struct Case {
        const char* sender;
        Payload payload;
        Fill fill;
        unsigned period;
    };
    const Case cases[] = {
        {"bsd 56", bsd_ping(56, 9), Fill::kCounter, 0},
        {"windows 32", windows_ping(32), Fill::kPeriodic, 23},
        {"windows 1000", windows_ping(1000), Fill::kPeriodic, 23},
        {"busybox 56", busybox_ping(56, 1), Fill::kPeriodic, 1},
        {"fping zeros 56", Payload(56, 0), Fill::kPeriodic, 1},
        {"cisco 72", cisco_ping(72), Fill::kPeriodic, 2},
        {"ping -p ff00 56", pattern_ping(56, 4, {0xff, 0x00}), Fill::kPeriodic, 2},
        {"ping -p 16 bytes 100", pattern_ping(100, 4, random_bytes(16, 5)), Fill::kPeriodic, 16},
        {"linux 24", linux_ping(26, 2), Fill::kCounter, 0},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.sender) {
            const Structure s = analyze_structure(span(c.payload), 24);
            BOOST_TEST(static_cast<int>(s.fill) == static_cast<int>(c.fill));
            BOOST_TEST(s.period == c.period);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_counter_far_behind_the_start_is_not_a_ping_fill) {
    // icmp-tunnel.pcap: an inner IPv4 ping (whose tail counts) inside the payload.
    Payload inner = linux_ping(64, 1);
    Payload icmp_header = {8, 0, 0x12, 0x34, 0x3d, 0x08, 0, 1};
    inner.insert(inner.begin(), icmp_header.begin(), icmp_header.end());
    const Payload p = ipv4_packet(inner, 1);
    BOOST_TEST(static_cast<int>(analyze_structure(span(p), 24).fill) == static_cast<int>(Fill::kNone));
}

BOOST_AUTO_TEST_CASE(zero_padding_after_file_data_is_not_a_fill) {
    Payload p = binary_bytes(40, 1);
    p.resize(56, 0);  // hping3 -E file -d 56 at the end of the file
    BOOST_TEST(static_cast<int>(analyze_structure(span(p), 24).fill) == static_cast<int>(Fill::kNone));
}

BOOST_AUTO_TEST_CASE(fill_hash_is_stable_per_sender_and_differs_between_patterns) {
    const auto h1 = analyze_structure(span(pattern_ping(56, 1, {0xde, 0xad})), 24).fill_hash;
    const auto h2 = analyze_structure(span(pattern_ping(56, 2, {0xde, 0xad})), 24).fill_hash;
    const auto h3 = analyze_structure(span(pattern_ping(56, 3, {0xbe, 0xef})), 24).fill_hash;
    BOOST_TEST(h1 == h2);
    BOOST_TEST(h1 != h3);
    BOOST_TEST(analyze_structure(span(linux_ping(56, 1)), 24).fill_hash ==
               analyze_structure(span(linux_ping(56, 77)), 24).fill_hash);
}

BOOST_AUTO_TEST_CASE(printable_fraction_separates_text_from_fills_and_random) {
    BOOST_TEST(printable_fraction(span(text("uid=0(root) gid=0(root) groups=0(root)\n"))) == 1.0);
    BOOST_TEST(printable_fraction(span(random_bytes(256, 3))) < 0.5);
    BOOST_TEST(printable_fraction(Bytes{}) == 0.0);
}

BOOST_AUTO_TEST_CASE(embedded_ipv4_is_found_at_tunnel_offsets_only_with_valid_checksum_and_length) {
    const Payload ip = ipv4_packet(random_bytes(64, 1));
    BOOST_TEST(find_embedded_ip(span(ip), static_cast<uint32_t>(ip.size())) == 0);

    Payload hans = text("hanc");
    hans.push_back(5);
    hans.insert(hans.end(), ip.begin(), ip.end());
    BOOST_TEST(find_embedded_ip(span(hans), static_cast<uint32_t>(hans.size())) == 5);

    Payload bad_checksum = ip;
    bad_checksum[10] ^= 0x01;
    BOOST_TEST(find_embedded_ip(span(bad_checksum), static_cast<uint32_t>(ip.size())) == -1);
    // Length field must match the rest of the payload exactly.
    BOOST_TEST(find_embedded_ip(span(ip), static_cast<uint32_t>(ip.size() + 4)) == -1);
    // Pings never qualify.
    BOOST_TEST(find_embedded_ip(span(linux_ping(84, 1)), 84) == -1);
}

BOOST_AUTO_TEST_CASE(embedded_ipv6_needs_exact_payload_length_and_known_next_header) {
    Payload p(40 + 32, 0);
    p[0] = 0x60;
    flowgen::store_be16(&p[4], 32);
    p[6] = 17;
    p[7] = 64;
    BOOST_TEST(find_embedded_ip(span(p), static_cast<uint32_t>(p.size())) == 0);
    p[6] = 99;
    BOOST_TEST(find_embedded_ip(span(p), static_cast<uint32_t>(p.size())) == -1);
}

BOOST_AUTO_TEST_CASE(ptunnel_framing_is_found_whatever_the_magic) {
    const Payload data = random_bytes(100, 2);
    for (uint32_t magic : {0xD5200880u, 0xDEADC0DEu, 0x12345678u}) {
        const Payload p = ptunnel_packet(magic, data, 7);
        BOOST_TEST(has_tunnel_framing(span(p), static_cast<uint32_t>(p.size())));
    }
    const Payload ack = ptunnel_packet(0x12345678u, {}, 8);
    BOOST_TEST(has_tunnel_framing(span(ack), 28));
    BOOST_TEST(!has_tunnel_framing(span(linux_ping(56, 1)), 56));
    BOOST_TEST(!has_tunnel_framing(span(random_bytes(128, 9)), 128));
    // 28 zero bytes (hping3 -d 28, a zero-filled flood) hold no header.
    BOOST_TEST(!has_tunnel_framing(span(Payload(28, 0)), 28));
}

BOOST_AUTO_TEST_CASE(payload_hash_depends_on_content_and_length) {
    const Payload a = random_bytes(64, 1);
    Payload b = a;
    b[5] ^= 1;
    BOOST_TEST(payload_hash(span(a), 64, 128) == payload_hash(span(a), 64, 128));
    BOOST_TEST(payload_hash(span(a), 64, 128) != payload_hash(span(b), 64, 128));
    BOOST_TEST(payload_hash(span(a), 64, 128) != payload_hash(span(a), 65, 128));
}

BOOST_AUTO_TEST_SUITE_END()
