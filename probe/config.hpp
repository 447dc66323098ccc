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
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "detect/pipeline.hpp"
#include "flowgen/flow_cache.hpp"
#include "flowgen/ipfix_exporter.hpp"
#include "flowgen/singleton_fold.hpp"
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
    // --fold-above (one-packet conversation records per second and worker
    // exported one by one, 0 = never fold), --fold-entries (aggregates per
    // worker and second): flowgen/singleton_fold.hpp.
    flowgen::SingletonFoldConfig fold{1000, 1024};
    bool pattern_cache_chosen = false;   // --pattern-cache given (else the default directory)

    std::string alerts_path;        // --alerts PATH|-: JSON Lines
    bool alerts_syslog = false;     // --alerts-syslog
    std::string conversations_path; // --conversations PATH|-: one JSON line per exported conversation record
    std::string stats_json_path;    // --stats-json PATH
    uint32_t stats_interval_s = 0;  // --stats-interval: periodic one-line report on stderr, 0 = off
    uint32_t burst_size = 32;       // --burst
    uint32_t mbufs = 0;             // --mbufs: live mbuf pool size, 0 = what the ports and queues need
    uint32_t export_rate = 0;       // --export-rate: conversation records per second, 0 = as fast as possible
    bool export_rate_chosen = false;  // --export-rate given; else export_rate_for() picks the default
    bool quiet = false;             // --quiet: no end-of-run summary on stderr
    std::string user;               // --user: switch to this user once set up (probe/privileges.hpp)
    std::string group;              // --group: and this group (default: the user's primary group)

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

// A configuration file is a few kilobytes of `key = value` lines; anything
// larger is a mistake (a device, a log file), refused before it fills memory.
inline constexpr size_t kMaxConfigFileBytes = 1u << 20;

// Parses a configuration file into `config` (used by parse_args; exposed
// for tests). Errors name the file, the line and the key; a file that cannot
// be read, a directory, or one larger than kMaxConfigFileBytes is an error.
flowgen::Status load_config_file(const std::string& path, Config& config);

// The same for configuration text already in memory; `origin` names it in
// errors ("FILE:LINE: ..."). A NUL byte anywhere in a line is an error.
flowgen::Status parse_config_text(std::string_view text, const std::string& origin, Config& config);

// Cross-field checks (inputs, ranges); also runs the libraries' validate().
flowgen::Status validate(const Config& config, bool have_eal_args);

// The export pace when --export-rate is not given: a UDP collector gets at
// most this many conversation records per second (about twice as many IPFIX
// records without --biflow). UDP has no flow control: an end-of-run burst
// or a flood of short conversations overflows a collector's default socket
// buffer (Linux net.core.rmem_default, 208 KiB: ~90 full datagrams) within
// milliseconds and the loss is invisible to the exporter. At this pace the
// buffer holds ~75 ms of export, enough for a busy collector to be
// scheduled (measured: docs/performance.md, "Export pace").
inline constexpr uint32_t kDefaultUdpExportRate = 10'000;

// Conversation records per second the exporter may send, 0 = no limit:
// --export-rate if given, else kDefaultUdpExportRate with any UDP
// collector, else none (TCP is paced by its own flow control).
uint32_t export_rate_for(const Config& config);

// The --help text, generated from the option table so it cannot drift.
std::string usage();

}  // namespace probe
