// probe::Config from files and text: what a configuration file may hold,
// and that a file that is not one (a device, a directory, text with NULs)
// is refused with one message naming it, without reading it whole.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "probe/config.hpp"
#include "probe/stats.hpp"

namespace {

std::string temp_path(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/echoflow-config-test-" + std::to_string(::getpid()) + "-" + name;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_limits)

BOOST_AUTO_TEST_CASE(key_value_text_sets_options_and_errors_name_the_line) {
    probe::Config c;
    BOOST_REQUIRE(probe::parse_config_text("# probe\nidle-timeout = 5   # s\n\ncollector = \"127.0.0.1:4739\"\n",
                                           "f", c)
                      .ok());
    BOOST_TEST(c.cache.idle_timeout_ms == 5000u);
    BOOST_REQUIRE(c.exporter.collectors.size() == 1u);
    const flowgen::Status s = probe::parse_config_text("quiet = true\nidle-timeout = soon\n", "f", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message().find("f:2: idle-timeout") == 0u, s.message());
}

BOOST_AUTO_TEST_CASE(a_nul_byte_is_refused_not_cut_short) {
    using namespace std::literals;
    probe::Config c;
    // A value read as a C string would silently become "/tmp/a".
    const flowgen::Status s = probe::parse_config_text("quiet = true\nalerts = /tmp/a\0b\n"sv, "f", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "f:2: NUL byte in the line", s.message());
    BOOST_TEST(c.alerts_path.empty());
}

BOOST_AUTO_TEST_CASE(control_characters_are_refused_so_that_errors_stay_one_line) {
    // An argument holding a newline would come back inside "unknown option
    // --..." as two lines (tests/fuzz/config_fuzz checks one line).
    std::string option = "--a\nb", pcap = "--pcap";
    char* argv[] = {pcap.data(), pcap.data(), option.data(), nullptr};
    probe::ParsedArgs args;
    const flowgen::Status s = probe::parse_args(3, argv, args);
    BOOST_TEST(s.message() == "argument 2 contains the control character 0x0a", s.message());
    probe::Config c;
    const flowgen::Status t = probe::parse_config_text("quiet = true\nalerts = /tmp/\x1b[2Ja\n", "f", c);
    BOOST_TEST(t.message() == "f:2: control character 0x1b in the line", t.message());
    BOOST_TEST(probe::parse_config_text("quiet\t= true\r\n", "f", c).ok(), "tabs and CRLF line ends are fine");
}

BOOST_AUTO_TEST_CASE(an_endless_file_is_refused_naming_the_cap) {
    probe::Config c;
    const flowgen::Status s = probe::load_config_file("/dev/zero", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "config file /dev/zero: larger than the 1 MiB limit", s.message());
}

BOOST_AUTO_TEST_CASE(a_file_just_over_the_cap_is_refused_and_one_at_it_is_read) {
    const std::string path = temp_path("cap.conf");
    {
        std::ofstream f(path);
        const std::string comment = "#" + std::string(99, 'x') + "\n";  // 101 bytes
        std::string text = "quiet = true\n";
        while (text.size() + comment.size() <= probe::kMaxConfigFileBytes) text += comment;
        text.resize(probe::kMaxConfigFileBytes - 1, '#');
        text += "\n";
        f << text;
    }
    probe::Config c;
    BOOST_TEST(probe::load_config_file(path, c).ok());
    BOOST_TEST(c.quiet);
    {
        std::ofstream f(path, std::ios::app);
        f << "#";
    }
    const flowgen::Status s = probe::load_config_file(path, c);
    std::remove(path.c_str());
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message().find("larger than the 1 MiB limit") != std::string::npos, s.message());
}

BOOST_AUTO_TEST_CASE(a_directory_is_an_error_not_an_empty_configuration) {
    probe::Config c;
    const flowgen::Status s = probe::load_config_file("/", c);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "config file /: is a directory", s.message());
}

BOOST_AUTO_TEST_CASE(a_missing_file_names_it_and_the_cause) {
    probe::Config c;
    const flowgen::Status s = probe::load_config_file("/nonexistent/echoflow.conf", c);
    BOOST_TEST(s.message() == "config file /nonexistent/echoflow.conf: No such file or directory", s.message());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(export_rate)

BOOST_AUTO_TEST_CASE(a_udp_collector_is_paced_by_default_and_tcp_is_not) {
    probe::Config c;
    BOOST_TEST(probe::export_rate_for(c) == 0u);  // nothing to send to
    BOOST_REQUIRE(probe::parse_config_text("collector = tcp://127.0.0.1:4739\n", "f", c).ok());
    BOOST_TEST(probe::export_rate_for(c) == 0u);  // TCP's flow control paces it
    BOOST_REQUIRE(probe::parse_config_text("collector = 127.0.0.1:4739\n", "f", c).ok());
    BOOST_TEST(probe::export_rate_for(c) == probe::kDefaultUdpExportRate);
    BOOST_TEST(probe::usage().find("default " + std::to_string(probe::kDefaultUdpExportRate)) != std::string::npos,
               "--help states the default");
}

BOOST_AUTO_TEST_CASE(an_explicit_rate_wins_and_0_means_unpaced) {
    probe::Config c;
    BOOST_REQUIRE(probe::parse_config_text("collector = 127.0.0.1:4739\nexport-rate = 0\n", "f", c).ok());
    BOOST_TEST(probe::export_rate_for(c) == 0u);
    BOOST_REQUIRE(probe::parse_config_text("export-rate = 250000\n", "f", c).ok());
    BOOST_TEST(probe::export_rate_for(c) == 250000u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stats_json_path)

BOOST_AUTO_TEST_CASE(a_missing_directory_is_found_before_the_run) {
    const flowgen::Status s = probe::check_stats_json_path("/nonexistent/dir/stats.json");
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message() == "stats json /nonexistent/dir/stats.json: directory /nonexistent/dir: No such file or directory",
               s.message());
    BOOST_TEST(!probe::check_stats_json_path("/").ok());  // a directory, not a file
}

BOOST_AUTO_TEST_CASE(a_new_file_in_a_writable_directory_is_fine_and_not_created) {
    const std::string path = temp_path("stats.json");
    BOOST_TEST(probe::check_stats_json_path(path).ok());
    BOOST_TEST(std::fopen(path.c_str(), "r") == nullptr, "the check creates nothing");
    BOOST_TEST(probe::check_stats_json_path("relative-stats.json").ok());
}

BOOST_AUTO_TEST_SUITE_END()
