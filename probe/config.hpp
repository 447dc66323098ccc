// echoflow's configuration: one plain struct with defaults, filled from one
// option table by the command line and by the configuration file, and
// checked by one validate().
//
// Command line:  echoflow [EAL options --] [echoflow options]
// Config file:   `key = value` lines, keys are the long option names without
//                "--" (`collector = udp://127.0.0.1:4739`), `#` comments (whole
//                lines, or after white space at the end of a line), a
//                repeatable option may appear several times; flags take
//                true/false. The command line overrides the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detect/pipeline.hpp"
#include "flowgen/flow_cache.hpp"
#include "flowgen/ipfix_exporter.hpp"
#include "flowgen/status.hpp"

namespace probe {

struct Config {
    // Input: exactly one of pcap_path, interface, or EAL ports.
    std::string pcap_path;          // --pcap: read a capture offline
    std::string interface;          // --interface: AF_XDP on a kernel interface
    uint32_t interface_queues = 0;  // --interface-queues: 0 = one per worker
    bool xdp_drop_other = false;    // --xdp-drop-other: drop non-ICMP in XDP (dedicated mirror port)
    std::string xdp_object;         // --xdp-object: path of icmp_steer.bpf.o

    flowgen::FlowCacheConfig cache;      // --cache-size, --idle-timeout, --active-timeout
    flowgen::ExporterConfig exporter;    // --collector, --odid, --observation-point, ...
    detect::Config detection;            // --patterns, --alert-score, --allow, ...
    bool detect = true;                  // --no-detect turns the detectors off
    flowgen::ParseOptions parse;         // --decap, --vxlan-port
    uint32_t dedup_window_ms = 10;       // --dedup-window: 0 keeps mirror duplicates
    bool pattern_cache_chosen = false;   // --pattern-cache given (else the default directory)

    std::string alerts_path;        // --alerts PATH|-: JSON Lines
    bool alerts_syslog = false;     // --alerts-syslog
    std::string conversations_path; // --conversations PATH|-: one JSON line per exported conversation record
    std::string stats_json_path;    // --stats-json PATH
    uint32_t stats_interval_s = 0;  // --stats-interval: periodic one-line report on stderr, 0 = off
    uint32_t burst_size = 32;       // --burst
    uint32_t export_rate = 0;       // --export-rate: conversation records per second, 0 = as fast as possible
    bool quiet = false;             // --quiet: no end-of-run summary on stderr

    bool check_only = false;        // --check: validate the configuration and exit
    bool show_help = false;
    bool show_version = false;
};

// What the process should do after parsing.
struct ParsedArgs {
    Config config;
    std::vector<std::string> eal_args;  // argv[0] + everything before "--" (empty: no EAL options given)
};

// Parses argv. Returns an error naming the option and the problem (main
// prints it as one line and exits 2). Reads --config FILE first, wherever it
// appears, then applies the command line over it.
flowgen::Status parse_args(int argc, char** argv, ParsedArgs& out);

// Parses a configuration file into `config` (used by parse_args; exposed
// for tests). Errors name the file, the line and the key.
flowgen::Status load_config_file(const std::string& path, Config& config);

// Cross-field checks (inputs, ranges); also runs the libraries' validate().
flowgen::Status validate(const Config& config, bool have_eal_args);

// The --help text, generated from the option table so it cannot drift.
std::string usage();

}  // namespace probe
