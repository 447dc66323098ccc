// probe/config.cpp: the one option table read by the command line, the
// configuration file and --help; the precedence rules between them; and the
// one-line errors that name the option, file, line or key.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "detect/reason.hpp"
#include "probe/config.hpp"

namespace {

// argv for parse_args from a list of words (argv[0] first).
struct Argv {
    std::vector<std::string> words;
    std::vector<char*> ptrs;
    explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
        for (std::string& s : words) ptrs.push_back(s.data());
        ptrs.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(words.size()); }
    char** argv() { return ptrs.data(); }
};

flowgen::Status parse(std::vector<std::string> words, probe::ParsedArgs& out) {
    words.insert(words.begin(), "echoflow");
    Argv a(std::move(words));
    return probe::parse_args(a.argc(), a.argv(), out);
}

// A configuration file in a private temporary directory, removed at the end.
struct ConfigFile {
    std::string dir, path;
    explicit ConfigFile(const std::string& text) {
        char tmpl[] = "/tmp/echoflow-config-test-XXXXXX";
        BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = dir + "/echoflow.conf";
        std::ofstream(path) << text;
    }
    ~ConfigFile() {
        std::remove(path.c_str());
        rmdir(dir.c_str());
    }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(command_line_fills_the_struct_in_both_spellings) {
    probe::ParsedArgs a;
    const auto s = parse({"--pcap", "x.pcap", "--collector=tcp://127.0.0.1:4739", "--collector", "192.0.2.9:2055",
                          "--idle-timeout", "30", "--weight", "size-varies=100", "--biflow", "--burst=64",
                          "--allow", "192.0.2.0/24"},
                         a);
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    BOOST_TEST(a.config.pcap_path == "x.pcap");
    BOOST_TEST_REQUIRE(a.config.exporter.collectors.size() == 2u);
    BOOST_TEST((a.config.exporter.collectors[0].transport == flowgen::CollectorAddress::Transport::kTcp));
    BOOST_TEST(a.config.exporter.collectors[1].port == 2055);
    BOOST_TEST(a.config.cache.idle_timeout_ms == 30'000u);
    BOOST_TEST(a.config.detection.weights[detect::reason_index("size-varies")] == 100);
    BOOST_TEST(a.config.exporter.biflow);
    BOOST_TEST(a.config.burst_size == 64u);
    BOOST_TEST(a.config.detection.allow_list.size() == 1u);
    BOOST_TEST(a.eal_args.empty());
    BOOST_TEST(probe::validate(a.config, false).ok());
}

BOOST_AUTO_TEST_CASE(eal_options_are_everything_before_the_double_dash) {
    probe::ParsedArgs a;
    BOOST_TEST_REQUIRE(parse({"-l", "0-2", "--no-pci", "--", "--quiet"}, a).ok());
    BOOST_TEST(a.eal_args == (std::vector<std::string>{"echoflow", "-l", "0-2", "--no-pci"}));
    BOOST_TEST(a.config.quiet);
    BOOST_TEST(probe::validate(a.config, true).ok());
}

BOOST_AUTO_TEST_CASE(bad_options_get_one_message_naming_the_option_and_the_problem) {
    struct Case {
        std::vector<std::string> words;
        const char* expected;
    } cases[] = {
        {{"--pcap", "x", "--bogus"}, "unknown option --bogus"},
        {{"--pcap", "x", "--burst", "0"}, "option --burst: 0 is out of range [1, 512]"},
        {{"--pcap", "x", "--burst", "many"}, "option --burst: 'many' is not a number"},
        {{"--pcap", "x", "--idle-timeout"}, "option --idle-timeout needs a value (S)"},
        {{"--pcap", "x", "--quiet=yes"}, "option --quiet takes no value"},
        {{"--pcap", "x", "stray"}, "unexpected argument 'stray'"},
        {{"--pcap", "x", "--weight", "nonsense=5"}, "unknown reason 'nonsense'"},
        {{"--pcap", "x", "--weight", "volume"}, "'volume' is not REASON=N"},
        {{"--pcap", "x", "--collector", "nowhere"}, "option --collector"},
        {{"--config", "/nonexistent/echoflow.conf"}, "config file /nonexistent/echoflow.conf"},
    };
    for (const Case& c : cases) {
        probe::ParsedArgs a;
        const auto s = parse(c.words, a);
        BOOST_TEST_INFO(c.expected);
        BOOST_TEST(!s.ok());
        BOOST_TEST(contains(s.message(), c.expected), s.message());
        BOOST_TEST(!contains(s.message(), "\n"));
    }
}

BOOST_AUTO_TEST_CASE(validate_wants_exactly_one_input) {
    probe::ParsedArgs none, two;
    BOOST_TEST_REQUIRE(parse({"--quiet"}, none).ok());
    BOOST_TEST(contains(probe::validate(none.config, false).message(), "no input"));
    BOOST_TEST_REQUIRE(parse({"--pcap", "x", "--interface", "eth1"}, two).ok());
    BOOST_TEST(contains(probe::validate(two.config, false).message(), "only one input"));
    probe::ParsedArgs pcap;
    BOOST_TEST_REQUIRE(parse({"--pcap", "x"}, pcap).ok());
    BOOST_TEST(contains(probe::validate(pcap.config, true).message(), "only one input"));
}

BOOST_AUTO_TEST_CASE(config_file_keys_comments_quotes_and_command_line_precedence) {
    ConfigFile f(
        "# a whole-line comment\n"
        "pcap = file.pcap\n"
        "collector = udp://127.0.0.1:4739   # a note after white space\n"
        "collector = 127.0.0.1:4740\n"
        "alerts = \"/var/log/a #1.jsonl\"\n"
        "idle-timeout = 20\n"
        "biflow = true\n"
        "\n"
        "allow = 10.0.0.0/8\n");
    probe::ParsedArgs a;
    // The command line wins: a scalar replaces the file's, a repeatable
    // option replaces the file's whole list, an input replaces its input.
    const auto s = parse({"--config", f.path, "--idle-timeout", "40", "--collector", "127.0.0.1:9995", "--interface",
                          "eth1"},
                         a);
    BOOST_TEST_REQUIRE(s.ok(), s.message());
    BOOST_TEST(a.config.cache.idle_timeout_ms == 40'000u);
    BOOST_TEST_REQUIRE(a.config.exporter.collectors.size() == 1u);
    BOOST_TEST(a.config.exporter.collectors[0].port == 9995);
    BOOST_TEST(a.config.pcap_path.empty());
    BOOST_TEST(a.config.interface == "eth1");
    BOOST_TEST(a.config.alerts_path == "/var/log/a #1.jsonl");
    BOOST_TEST(a.config.exporter.biflow);
    BOOST_TEST(a.config.detection.allow_list == (std::vector<std::string>{"10.0.0.0/8"}));

    probe::Config only_file;
    BOOST_TEST_REQUIRE(probe::load_config_file(f.path, only_file).ok());
    BOOST_TEST(only_file.pcap_path == "file.pcap");
    BOOST_TEST(only_file.exporter.collectors.size() == 2u);
    BOOST_TEST(only_file.cache.idle_timeout_ms == 20'000u);
}

BOOST_AUTO_TEST_CASE(config_file_errors_name_the_file_the_line_and_the_key) {
    struct Case {
        const char* text;
        const char* expected;
    } cases[] = {
        {"pcap = x\nno equals sign\n", ":2: expected 'key = value'"},
        {"bogus = 1\n", ":1: unknown key 'bogus'"},
        {"config = other.conf\n", ":1: unknown key 'config'"},
        {"burst = 9999\n", ":1: burst: 9999 is out of range"},
        {"alerts = \"unterminated\n", ":1: unterminated quote"},
        {"alerts = \"a\" b\n", ":1: text after the closing quote"},
    };
    for (const Case& c : cases) {
        ConfigFile f(c.text);
        probe::Config config;
        const auto s = probe::load_config_file(f.path, config);
        BOOST_TEST_INFO(c.expected);
        BOOST_TEST(!s.ok());
        BOOST_TEST(contains(s.message(), f.path + c.expected), s.message());
    }
}

BOOST_AUTO_TEST_CASE(help_lists_the_options_of_the_table) {
    const std::string u = probe::usage();
    for (const char* line : {"--pcap FILE|-", "--collector [udp://|tcp://]HOST:PORT", "--weight REASON=N",
                             "--config FILE", "--quiet", "[repeatable]", "exit status"})
        BOOST_TEST(contains(u, line), line);
    probe::ParsedArgs a;
    BOOST_TEST_REQUIRE(parse({"--help"}, a).ok());
    BOOST_TEST(a.config.show_help);
}

BOOST_AUTO_TEST_CASE(decap_options_fill_parse_options_and_the_dedup_window) {
    probe::ParsedArgs d;
    BOOST_REQUIRE(parse({"--pcap", "x"}, d).ok());
    BOOST_TEST(d.config.parse.decap);
    BOOST_TEST(d.config.parse.is_vxlan_port(4789));
    BOOST_TEST(d.config.parse.is_vxlan_port(8472));
    BOOST_TEST(!d.config.parse.is_vxlan_port(4790));
    BOOST_TEST(d.config.dedup_window_ms == 10u);

    probe::ParsedArgs a;
    BOOST_REQUIRE(parse({"--pcap", "x", "--decap", "none", "--vxlan-port", "4790", "--vxlan-port", "4789",
                         "--dedup-window", "0"}, a).ok());
    BOOST_TEST(!a.config.parse.decap);
    BOOST_TEST(a.config.parse.is_vxlan_port(4790));
    BOOST_TEST(a.config.parse.vxlan_port_count == 3);  // 4789 is not added twice
    BOOST_TEST(a.config.dedup_window_ms == 0u);

    for (const std::vector<std::string>& bad : {std::vector<std::string>{"--pcap", "x", "--decap", "maybe"},
                                                std::vector<std::string>{"--pcap", "x", "--vxlan-port", "0"},
                                                std::vector<std::string>{"--pcap", "x", "--dedup-window", "soon"}}) {
        probe::ParsedArgs b;
        const auto s = parse(bad, b);
        BOOST_TEST(!s.ok());
        BOOST_TEST(contains(s.message(), bad[2]), s.message());
    }
}

BOOST_AUTO_TEST_CASE(fold_options_fill_the_fold_configuration_and_refuse_bad_values) {
    probe::ParsedArgs d;
    BOOST_REQUIRE(parse({"--pcap", "x"}, d).ok());
    BOOST_TEST(d.config.fold.singles_per_second == 1000u);
    BOOST_TEST(d.config.fold.entries == 1024u);
    BOOST_TEST(probe::validate(d.config, false).ok());

    probe::ParsedArgs a;
    BOOST_REQUIRE(parse({"--pcap", "x", "--fold-above", "0", "--fold-entries", "16"}, a).ok());
    BOOST_TEST(a.config.fold.singles_per_second == 0u);  // never fold
    BOOST_TEST(a.config.fold.entries == 16u);

    struct Case {
        std::vector<std::string> words;
        const char* expected;
    } cases[] = {
        {{"--pcap", "x", "--fold-above", "-1"}, "option --fold-above: '-1' is not a number"},
        {{"--pcap", "x", "--fold-above", "many"}, "option --fold-above: 'many' is not a number"},
        {{"--pcap", "x", "--fold-above", "100000001"}, "option --fold-above: 100000001 is out of range [0, 100000000]"},
        {{"--pcap", "x", "--fold-entries", "8"}, "option --fold-entries: 8 is out of range [16, 1048576]"},
        {{"--pcap", "x", "--fold-entries", "1048577"}, "option --fold-entries: 1048577 is out of range"},
    };
    for (const Case& c : cases) {
        probe::ParsedArgs b;
        const auto s = parse(c.words, b);
        BOOST_TEST_INFO(c.expected);
        BOOST_TEST(!s.ok());
        BOOST_TEST(contains(s.message(), c.expected), s.message());
    }
}

BOOST_AUTO_TEST_SUITE_END()
