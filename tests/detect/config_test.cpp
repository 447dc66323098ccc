// Config validation messages name the key; allow-list prefixes.
#include <boost/test/unit_test.hpp>

#include <string>

#include "detect/config.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults_validate) {
    const auto s = validate(Config{});
    BOOST_TEST(s.ok(), s.message());
}

BOOST_AUTO_TEST_CASE(bad_values_are_errors_naming_the_key) {
    struct Case {
        const char* what;
        void (*change)(Config&);
        const char* key;
    };
    const Case cases[] = {
        {"alert 0", [](Config& c) { c.alert_score = 0; }, "detect.alert_score"},
        {"alert 1001", [](Config& c) { c.alert_score = 1001; }, "detect.alert_score"},
        {"suspicious above alert", [](Config& c) { c.suspicious_score = 900; }, "detect.suspicious_score"},
        {"weight", [](Config& c) { c.weights[4] = 2000; }, "detect.weight.random-payload"},
        {"unused weight bit", [](Config& c) { c.weights[22] = 5; }, "detect.weight[22]"},
        {"budget bytes", [](Config& c) { c.pair_hour.bytes = 0; }, "detect.pair_hour.bytes"},
        {"budget saturation", [](Config& c) { c.sender_day.payloads = 1u << 24; }, "detect.sender_day.payloads"},
        {"short window text", [](Config& c) { c.source_volume_bytes = 70000; }, "detect.source_volume_bytes"},
        {"text changes", [](Config& c) { c.min_text_changes = 0; }, "detect.min_text_changes"},
        {"margin", [](Config& c) { c.entropy_margin_bits = -1; }, "detect.entropy_margin_bits"},
        {"text", [](Config& c) { c.text_fraction = 0; }, "detect.text_fraction"},
        {"volume order", [](Config& c) { c.high_volume_bytes = c.volume_bytes; }, "detect.high_volume_bytes"},
        {"inspect_every", [](Config& c) { c.inspect_every = 0; }, "detect.inspect_every"},
        {"allow list", [](Config& c) { c.allow_list = {"10.0.0.0/8", "10.1.2.300/32"}; }, "detect.allow_list: '10.1.2.300/32'"},
        {"flood sources", [](Config& c) { c.flood_min_sources = 0; }, "detect.flood_min_sources"},
        {"flood end", [](Config& c) { c.flood_end_intervals = 0; }, "detect.flood_end_intervals"},
        {"flood victims", [](Config& c) { c.flood_max_victims = 5000; }, "detect.flood_max_victims"},
        {"flood alerts", [](Config& c) { c.flood_alerts_per_second = 0; }, "detect.flood_alerts_per_second"},
        {"allow list len", [](Config& c) { c.allow_list = {"10.0.0.0/33"}; }, "detect.allow_list: '10.0.0.0/33'"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.what) {
            Config config;
            c.change(config);
            const auto s = validate(config);
            BOOST_TEST(!s.ok());
            BOOST_TEST(s.message().find(c.key) != std::string::npos, s.message());
        }
    }
}

BOOST_AUTO_TEST_CASE(reason_names_round_trip_and_are_stable) {
    BOOST_TEST(std::string(reason_name(0)) == "tunnel-signature");
    BOOST_TEST(std::string(reason_name(9)) == "reply-mismatch");
    BOOST_TEST(std::string(reason_name(31)) == "allow-listed");
    BOOST_TEST(std::string(reason_name(20)) == "host-budget");
    BOOST_TEST(std::string(reason_name(21)) == "changing-text");
    BOOST_TEST(reason_name(22) == nullptr);
    BOOST_TEST(reason_index("random-payload") == 4);
    BOOST_TEST(reason_index("nonsense") == -1);
    for (unsigned i = 0; i < kReasonBits; ++i)
        if (reason_name(i) != nullptr) BOOST_TEST(reason_index(reason_name(i)) == static_cast<int>(i));
}

BOOST_AUTO_TEST_CASE(reason_table_gives_weights_and_json_safe_descriptions) {
    const std::array<uint16_t, kReasonBits> w = default_weights();
    BOOST_TEST(w[reason_index("tunnel-signature")] == 700);
    BOOST_TEST(w[reason_index("allow-listed")] == 0);
    BOOST_TEST(w[22] == 0);  // unused bit
    for (const ReasonInfo& r : kReasons) {
        BOOST_TEST_INFO(r.name);
        BOOST_TEST(reason_info(r.bit_index) == &r);
        BOOST_TEST(w[r.bit_index] == r.default_weight);
        const std::string d = r.description;
        // Written into alert JSON without escaping.
        BOOST_TEST(!d.empty());
        BOOST_TEST(d.find_first_of("\"\\") == std::string::npos);
        for (char ch : d) BOOST_TEST((ch >= 0x20 && ch < 0x7f));
    }
    BOOST_TEST(reason_info(22) == nullptr);
    BOOST_TEST(reason_info(32) == nullptr);
}

BOOST_AUTO_TEST_CASE(prefixes_contain_what_they_should) {
    Prefix p;
    BOOST_REQUIRE(parse_prefix("10.1.0.0/16", p).ok());
    BOOST_TEST(prefix_contains(p, flowgen::Family::kIpv4, tests::detect::addr4(10, 1, 200, 3)));
    BOOST_TEST(!prefix_contains(p, flowgen::Family::kIpv4, tests::detect::addr4(10, 2, 0, 1)));
    BOOST_TEST(!prefix_contains(p, flowgen::Family::kIpv6, tests::detect::addr4(10, 1, 0, 1)));
    BOOST_REQUIRE(parse_prefix("192.0.2.77/27", p).ok());  // host bits are cleared
    BOOST_TEST(prefix_contains(p, flowgen::Family::kIpv4, tests::detect::addr4(192, 0, 2, 95)));
    BOOST_TEST(!prefix_contains(p, flowgen::Family::kIpv4, tests::detect::addr4(192, 0, 2, 96)));
    BOOST_REQUIRE(parse_prefix("2001:db8::/33", p).ok());
    flowgen::IpAddress a{};
    a.bytes[0] = 0x20, a.bytes[1] = 0x01, a.bytes[2] = 0x0d, a.bytes[3] = 0xb8, a.bytes[4] = 0x7f;
    BOOST_TEST(prefix_contains(p, flowgen::Family::kIpv6, a));
    a.bytes[4] = 0x80;
    BOOST_TEST(!prefix_contains(p, flowgen::Family::kIpv6, a));
    BOOST_REQUIRE(parse_prefix("203.0.113.5", p).ok());
    BOOST_TEST(p.length == 32);
    BOOST_REQUIRE(parse_prefix("0.0.0.0/0", p).ok());
    BOOST_TEST(prefix_contains(p, flowgen::Family::kIpv4, tests::detect::addr4(8, 8, 8, 8)));
}

BOOST_AUTO_TEST_SUITE_END()
