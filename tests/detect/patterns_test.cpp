// The pattern file: format errors name the line, the shipped file compiles
// and matches what it claims to match.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include "detect/patterns.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

Bytes span(const Payload& p) { return Bytes(p.data(), p.size()); }

std::string write_temp(const std::string& content) {
    char name[] = "/tmp/echoflow-patterns-XXXXXX";
    const int fd = mkstemp(name);
    BOOST_REQUIRE(fd >= 0);
    std::FILE* f = fdopen(fd, "w");
    std::fputs(content.c_str(), f);
    std::fclose(f);
    return name;
}

struct Shipped {
    PatternSet set;
    Shipped() {
        const auto status = set.load_file(kShippedFile);
        BOOST_REQUIRE_MESSAGE(status.ok(), status.message());
    }
    ContentHits scan(const Payload& p) {
        ContentHits h;
        BOOST_REQUIRE(set.scan(span(p), h));
        return h;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(patterns)

BOOST_FIXTURE_TEST_CASE(shipped_file_compiles_and_matches_tunnel_magics, Shipped) {
    BOOST_TEST(set.size() > 10u);
    const Payload data = random_bytes(64, 1);
    const ContentHits ptunnel = scan(ptunnel_packet(0xD5200880u, data, 1));
    BOOST_TEST(ptunnel.tunnel_id == 1);
    BOOST_TEST(std::string(set.name_of(ptunnel.tunnel_id)) == "ptunnel");
    BOOST_TEST(scan(ptunnel_packet(0xDEADC0DEu, data, 1)).tunnel_id == 2);
    Payload hans = text("hans");
    hans.push_back(3);
    hans.insert(hans.end(), data.begin(), data.end());
    BOOST_TEST(std::string(set.name_of(scan(hans).tunnel_id)) == "hans");
    // pingtunnel MyMsg: id string, then ... field 6 magic 0xdead as sint32.
    Payload pt = {0x0a, 0x04, 'a', 'b', 'c', 'd', 0x10, 0x01, 0x22, 0x02, 0x01, 0x02, 0x30, 0xda, 0xfa, 0x06};
    BOOST_TEST(std::string(set.name_of(scan(pt).tunnel_id)) == "pingtunnel");
    pt[13] = 0xad, pt[14] = 0xbd, pt[15] = 0x03;  // magic as a plain int32 varint
    BOOST_TEST(std::string(set.name_of(scan(pt).tunnel_id)) == "pingtunnel");
}

BOOST_FIXTURE_TEST_CASE(shell_text_is_suspicious_and_pings_are_fingerprinted_not_flagged, Shipped) {
    BOOST_TEST(scan(text("uid=0(root) gid=0(root) groups=0(root)\n")).suspicious_id != 0);
    BOOST_TEST(scan(text("whoami\n")).suspicious_id != 0);
    BOOST_TEST(scan(text("C:\\Users\\bob>")).suspicious_id != 0);
    BOOST_TEST(scan(text("Microsoft Windows [Version 10.0.19045.3803]\r\n")).tunnel_id != 0);

    struct Case {
        const char* sender;
        Payload payload;
        const char* fingerprint;
    };
    const Case pings[] = {
        {"iputils", linux_ping(56, 1), "iputils-ping"},
        {"iputils 1472", linux_ping(1472, 1), "iputils-ping"},
        {"bsd", bsd_ping(56, 1), "bsd-macos-ping"},
        {"windows", windows_ping(32), "windows-ping"},
        {"cisco", cisco_ping(72), "cisco-ios"},
        {"busybox", busybox_ping(56, 2), "zero-fill-busybox-fping-check_icmp"},
    };
    for (const auto& c : pings) {
        BOOST_TEST_CONTEXT(c.sender) {
            const ContentHits h = scan(c.payload);
            BOOST_TEST(h.tunnel_id == 0);
            BOOST_TEST(h.suspicious_id == 0);
            BOOST_REQUIRE(h.ping_id != 0);
            BOOST_TEST(std::string(set.name_of(h.ping_id)) == c.fingerprint);
        }
    }
    BOOST_TEST(scan(random_bytes(1000, 4)).tunnel_id == 0);
}

BOOST_AUTO_TEST_CASE(a_bad_regex_is_an_error_naming_file_and_line) {
    const std::string path = write_temp(
        "# comment\n"
        "1:good:tunnel:-:/^abc/\n"
        "\n"
        "2:broken:tunnel:-:/(unclosed/\n");
    PatternSet set;
    const auto status = set.load_file(path);
    std::remove(path.c_str());
    BOOST_TEST(!status.ok());
    BOOST_TEST_MESSAGE(status.message());
    BOOST_TEST(status.message().find(path + ":4:") != std::string::npos);
    BOOST_TEST(set.empty());
}

BOOST_AUTO_TEST_CASE(format_errors_name_the_line_and_the_problem) {
    using namespace std::literals;
    struct Case {
        std::string_view text;  // a view with its length: some cases hold NULs
        const char* expected;
    };
    const Case cases[] = {
        {"1:a:tunnel:-:/x/\n1:b:tunnel:-:/y/\n", "f:2: id 1 already used on line 1"},
        {"\n\n0:a:tunnel:-:/x/\n", "f:3: id '0'"},
        {"7:a:evil:-:/x/\n", "f:1: class 'evil'"},
        {"7:a:tunnel:q:/x/\n", "f:1: unknown flag 'q'"},
        {"7:a b:tunnel:-:/x/\n", "f:1: name 'a b'"},
        {"7:a:tunnel:-:x\n", "f:1: the regex must be written /REGEX/"},
        {"7:a:tunnel\n", "f:1: expected ID:NAME:CLASS:FLAGS:/REGEX/"},
        {"7:a:tunnel:-://\n", "f:1: empty regex"},
        // Hyperscan reads C strings: the part after a NUL would be lost.
        {"7:a:tunnel:-:/ab\0cd/\n"sv, "f:1: NUL byte in the regex"},
        {"7\0" "9:a:tunnel:-:/x/\n"sv, "f:1: id '7"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.text) {
            std::vector<PatternEntry> out;
            const auto status = parse_patterns(std::string(c.text), "f", out);
            BOOST_TEST(!status.ok());
            BOOST_TEST(status.message().find(c.expected) != std::string::npos, status.message());
        }
    }
}

BOOST_AUTO_TEST_CASE(regex_may_contain_colons_and_slashes) {
    std::vector<PatternEntry> out;
    const auto status = parse_patterns("9:colon:suspicious:i:/a:b\\/c/\n", "f", out);
    BOOST_REQUIRE(status.ok());
    BOOST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].regex == "a:b\\/c");
    BOOST_TEST(out[0].line == 1u);
    PatternSet set;
    BOOST_REQUIRE(set.compile(out, "f").ok());
    ContentHits h;
    BOOST_TEST(set.scan(span(text("xxA:B/Cxx")), h));
    BOOST_TEST(h.suspicious_id == 9);
}

BOOST_AUTO_TEST_CASE(an_endless_file_or_a_directory_is_refused_naming_the_cap) {
    PatternSet set;
    // /dev/zero never ends: only the cap stops the read.
    auto status = set.load_file("/dev/zero");
    BOOST_TEST(!status.ok());
    BOOST_TEST(status.message() == "patterns /dev/zero: larger than the 4 MiB limit", status.message());
    status = set.load_file("/");
    BOOST_TEST(!status.ok());
    BOOST_TEST(status.message() == "patterns /: is a directory", status.message());
    BOOST_TEST(set.empty());
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error_naming_it) {
    PatternSet set;
    const auto status = set.load_file("/nonexistent/echoflow.patterns");
    BOOST_TEST(!status.ok());
    BOOST_TEST(status.message().find("/nonexistent/echoflow.patterns") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
