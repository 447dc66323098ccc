// Pattern databases built once and shared by every worker's pipeline, each
// scanning with a scratch of its own; a failed hs_scan is counted.
#include <boost/test/unit_test.hpp>

#include <hs/hs.h>

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "detect/pipeline.hpp"
#include "tests/detect/payloads.hpp"

namespace detect {

// The scratch a set scans with (PatternSet's friend for these tests).
struct PatternSetTestAccess {
    static hs_scratch* scratch(const PatternSet& s) { return s.scratch_; }
    static void swap_scratch(PatternSet& a, PatternSet& b) { std::swap(a.scratch_, b.scratch_); }
};

}  // namespace detect

using namespace detect;
using namespace tests::detect;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

std::shared_ptr<const PatternDatabases> shipped() {
    std::shared_ptr<const PatternDatabases> dbs;
    const auto status = PatternDatabases::load_file(kShippedFile, "", dbs);
    BOOST_REQUIRE_MESSAGE(status.ok(), status.message());
    BOOST_REQUIRE(dbs);
    return dbs;
}

Bytes span(const Payload& p) { return Bytes(p.data(), p.size()); }

// Payloads that hit every class the shipped file has, and some that hit none.
std::vector<Payload> sample_payloads() {
    std::vector<Payload> out;
    for (uint32_t i = 0; i < 16; ++i) {
        out.push_back(ptunnel_packet(0xD5200880u, random_bytes(64 + i, i), static_cast<uint16_t>(i)));
        out.push_back(text("uid=0(root) gid=0(root) groups=0(root)\n/bin/sh -c id; ls -la /etc " + std::to_string(i)));
        out.push_back(random_bytes(56 + 8 * i, 100 + i));
    }
    return out;
}

bool same(const ContentHits& a, const ContentHits& b) {
    return a.tunnel_id == b.tunnel_id && a.suspicious_id == b.suspicious_id && a.benign_id == b.benign_id &&
           a.allow_id == b.allow_id && a.ping_id == b.ping_id;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(shared_patterns)

BOOST_AUTO_TEST_CASE(pipelines_given_one_build_share_its_databases_and_build_none) {
    const auto dbs = shipped();
    const unsigned builds = PatternDatabases::builds();
    Config config;
    config.patterns_path = kShippedFile;  // would be compiled again if the shared build were ignored
    Pipeline a, b;
    BOOST_REQUIRE(a.init(config, nullptr, dbs).ok());
    BOOST_REQUIRE(b.init(config, nullptr, dbs).ok());
    BOOST_TEST(PatternDatabases::builds() == builds);
    BOOST_TEST(a.pattern_databases() == dbs.get());
    BOOST_TEST(b.pattern_databases() == dbs.get());

    // Without a shared build each pipeline builds its own.
    Pipeline own;
    BOOST_REQUIRE(own.init(config).ok());
    BOOST_TEST(PatternDatabases::builds() == builds + 1);
    BOOST_TEST(own.pattern_databases() != dbs.get());

    // Both see the same signature on the same conversation.
    const Payload tunnel = ptunnel_packet(0xD5200880u, random_bytes(200, 1), 1);
    const auto packet = icmp(flowgen::Family::kIpv4, 8, 0x4d2, 1, tunnel, addr4(192, 0, 2, 10), addr4(198, 51, 100, 20));
    for (Pipeline* p : {&a, &b}) {
        ConversationState s{};
        BOOST_TEST(p->on_packet(s, packet, 0, 1'764'128'000'000));
        const auto d = p->summarize(s);
        BOOST_REQUIRE(p->signature_name(d.signature_id) != nullptr);
        BOOST_TEST(std::string(p->signature_name(d.signature_id)) == "ptunnel");
        BOOST_TEST(p->pattern_scan_errors() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(two_sets_scan_one_database_at_once_each_with_its_own_scratch) {
    const auto dbs = shipped();
    PatternSet a, b;
    BOOST_REQUIRE(a.use(dbs).ok());
    BOOST_REQUIRE(b.use(dbs).ok());
    BOOST_TEST(a.databases().get() == b.databases().get());
    BOOST_TEST(PatternSetTestAccess::scratch(a) != nullptr);
    BOOST_TEST(PatternSetTestAccess::scratch(a) != PatternSetTestAccess::scratch(b));

    const std::vector<Payload> payloads = sample_payloads();
    std::vector<ContentHits> expected(payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i) BOOST_REQUIRE(a.scan(span(payloads[i]), expected[i]));
    BOOST_TEST(expected[0].tunnel_id != 0);
    BOOST_TEST(expected[1].suspicious_id != 0);

    // Concurrently, as two worker lcores do: a scratch in use by two scans
    // at once would fail (HS_SCRATCH_IN_USE) and be counted.
    unsigned mismatches[2] = {0, 0};
    auto run = [&](PatternSet& set, unsigned& bad) {
        for (int round = 0; round < 200; ++round)
            for (size_t i = 0; i < payloads.size(); ++i) {
                ContentHits h;
                if (!set.scan(span(payloads[i]), h) || !same(h, expected[i])) ++bad;
            }
    };
    std::thread ta(run, std::ref(a), std::ref(mismatches[0]));
    std::thread tb(run, std::ref(b), std::ref(mismatches[1]));
    ta.join();
    tb.join();
    BOOST_TEST(mismatches[0] == 0u);
    BOOST_TEST(mismatches[1] == 0u);
    BOOST_TEST(a.scan_errors() == 0u);
    BOOST_TEST(b.scan_errors() == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_scan_is_counted_not_silent) {
    // A scratch sized for a one-literal database does not fit the shipped
    // databases: Hyperscan refuses the scan (HS_INVALID).
    PatternSet tiny;
    std::vector<PatternEntry> entries;
    BOOST_REQUIRE(parse_patterns("1:tiny:tunnel:-:/abc/\n", "tiny", entries).ok());
    BOOST_REQUIRE(tiny.compile(std::move(entries), "tiny").ok());
    PatternSet set;
    BOOST_REQUIRE(set.use(shipped()).ok());
    flowgen::RelaxedCounter worker_counter;
    set.count_errors_in(&worker_counter);

    const Payload tunnel = ptunnel_packet(0xD5200880u, random_bytes(64, 1), 1);
    ContentHits fits;
    BOOST_TEST(set.scan(span(tunnel), fits, kScanCore));
    BOOST_TEST(fits.tunnel_id != 0);
    BOOST_TEST(worker_counter.get() == 0u);

    PatternSetTestAccess::swap_scratch(set, tiny);
    ContentHits hits;
    BOOST_TEST(!set.scan(span(tunnel), hits, kScanCore));
    BOOST_TEST(hits.tunnel_id == 0);  // what the failure cost: the signature went unseen
    BOOST_TEST(worker_counter.get() == 1u);
    BOOST_TEST(set.scan_errors() == 1u);
    BOOST_TEST(!set.scan(span(tunnel), hits, kScanCore | kScanText));
    BOOST_TEST(worker_counter.get() == 3u);  // one per database refused
    PatternSetTestAccess::swap_scratch(set, tiny);  // each frees the scratch it was given
}

BOOST_AUTO_TEST_SUITE_END()
