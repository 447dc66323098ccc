#include "probe/config.hpp"

#include "detect/reason.hpp"
#include "flowgen/bounded_file.hpp"

#include <charconv>
#include <cstring>
#include <limits>
#include <sstream>
#include <string_view>

namespace probe {

using flowgen::Status;

namespace {

template <class T>
Status parse_number(std::string_view text, T min, T max, T& out) {
    T v{};
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || ptr != end)
        return Status::error("'" + std::string(text) + "' is not a number");
    if (v < min || v > max)
        return Status::error(std::string(text) + " is out of range [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    out = v;
    return {};
}

Status parse_seconds_ms(std::string_view text, uint32_t& ms) {
    uint32_t s = 0;
    if (Status st = parse_number<uint32_t>(text, 1, 7 * 24 * 3600, s); !st.ok()) return st;
    ms = s * 1000;
    return {};
}

Status parse_bool(std::string_view text, bool& out) {
    if (text.empty() || text == "true" || text == "yes" || text == "on" || text == "1") {
        out = true;
        return {};
    }
    if (text == "false" || text == "no" || text == "off" || text == "0") {
        out = false;
        return {};
    }
    return Status::error("'" + std::string(text) + "' is not true/false");
}

using Apply = Status (*)(Config&, std::string_view);

struct Option {
    const char* name;      // long name without "--"; also the config-file key
    const char* arg;       // placeholder in --help; nullptr for flags
    bool repeatable;
    const char* help;
    Apply apply;
};

// The one option table: command line, config file and --help all read it.
const Option kOptions[] = {
    {"pcap", "FILE|-", false, "read a capture (pcap or pcapng; - is standard input, a pipe or FIFO is read as it is written) instead of live ports; flow times come from its timestamps",
     [](Config& c, std::string_view v) { c.pcap_path = v; return Status{}; }},
    {"interface", "IFNAME", false, "read a kernel interface through AF_XDP with echoflow's ICMP-only XDP program",
     [](Config& c, std::string_view v) { c.interface = v; return Status{}; }},
    {"interface-queues", "N", false, "with --interface: NIC RX queues to read, one worker lcore each (default 1; match the NIC's channels, ethtool -l)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 1, 64, c.interface_queues); }},
    {"xdp-drop-other", nullptr, false, "with --interface: drop non-ICMP traffic in XDP instead of passing it (dedicated mirror port)",
     [](Config& c, std::string_view v) { return parse_bool(v, c.xdp_drop_other); }},
    {"xdp-object", "FILE", false, "with --interface: the XDP object to load (default: the installed icmp_steer.bpf.o)",
     [](Config& c, std::string_view v) { c.xdp_object = v; return Status{}; }},
    {"collector", "[udp://|tcp://]HOST:PORT", true, "send IPFIX to this collector (UDP when no scheme)",
     [](Config& c, std::string_view v) {
         flowgen::CollectorAddress a;
         if (Status s = flowgen::parse_collector(v, a); !s.ok()) return s;
         c.exporter.collectors.push_back(std::move(a));
         return Status{};
     }},
    {"odid", "N", false, "IPFIX observation domain id (default 1)",
     [](Config& c, std::string_view v) {
         return parse_number<uint32_t>(v, 0, UINT32_MAX, c.exporter.observation_domain_id);
     }},
    {"observation-point", "N", false, "IPFIX observationPointId sent in every record (default 1)",
     [](Config& c, std::string_view v) {
         return parse_number<uint32_t>(v, 0, UINT32_MAX, c.exporter.observation_point_id);
     }},
    {"template-refresh", "S", false, "resend IPFIX templates over UDP every S seconds (default 60)",
     [](Config& c, std::string_view v) {
         return parse_number<uint32_t>(v, 1, 86400, c.exporter.template_refresh_s);
     }},
    {"biflow", nullptr, false, "export RFC 5103 biflow records (one per conversation) instead of one per direction",
     [](Config& c, std::string_view v) { return parse_bool(v, c.exporter.biflow); }},
    {"no-ipfix-detection", nullptr, false, "do not add the detection enterprise elements to flow records",
     [](Config& c, std::string_view v) {
         bool off = false;
         Status s = parse_bool(v, off);
         c.exporter.detection_elements = !off;
         return s;
     }},
    {"pen", "N", false, "private enterprise number of the detection elements (default 32473, the documentation PEN)",
     [](Config& c, std::string_view v) {
         return parse_number<uint32_t>(v, 1, UINT32_MAX, c.exporter.enterprise_number);
     }},
    {"export-rate", "N", false, "export at most N conversation records per second; 0: as fast as they come (default 10000 with a UDP collector, whose socket buffer would lose an end-of-run burst; none over TCP)",
     [](Config& c, std::string_view v) {
         c.export_rate_chosen = true;
         return parse_number<uint32_t>(v, 0, 100'000'000, c.export_rate);
     }},
    {"mtu", "BYTES", false, "largest IPFIX message (default 1472, a 1500-byte link)",
     [](Config& c, std::string_view v) {
         return parse_number<uint16_t>(v, flowgen::kMinMessageBytes, 65000, c.exporter.max_message_bytes);
     }},
    {"decap", "auto|none", false, "auto (default): count the ICMP inside VLAN/QinQ, MPLS, GRE, ERSPAN I/II/III, VXLAN, Geneve and IP-in-IP; none: only VLAN tags and one IP-in-IP level",
     [](Config& c, std::string_view v) {
         if (v == "auto") c.parse.decap = true;
         else if (v == "none") c.parse.decap = false;
         else return Status::error(std::string("'").append(v).append("' is not auto or none"));
         return Status{};
     }},
    {"vxlan-port", "N", true, "also read UDP port N as VXLAN (4789 and the Linux default 8472 always are)",
     [](Config& c, std::string_view v) {
         uint16_t port = 0;
         if (Status s = parse_number<uint16_t>(v, 1, 65535, port); !s.ok()) return s;
         if (c.parse.is_vxlan_port(port)) return Status{};
         if (c.parse.vxlan_port_count == flowgen::kMaxVxlanPorts)
             return Status::error("at most " + std::to_string(flowgen::kMaxVxlanPorts) + " VXLAN ports");
         c.parse.vxlan_ports[c.parse.vxlan_port_count++] = port;
         return Status{};
     }},
    {"dedup-window", "MS", false, "drop an ICMP packet seen again (same inner IP packet, TTL aside) within MS milliseconds: a mirror's second copy (default 10; 0 keeps duplicates)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 0, 10'000, c.dedup_window_ms); }},
    {"fold-above", "N", false, "export at most N one-packet conversations a second one by one per worker; fold the rest of the second into aggregate records by destination, source /24 (/64), ICMP type/code, segment and port, with exact totals (default 1000; 0: never fold)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 0, 100'000'000, c.fold.singles_per_second); }},
    {"fold-entries", "N", false, "aggregate records per worker and second before keys coarsen to the destination, then to a catch-all (default 1024)",
     [](Config& c, std::string_view v) {
         return parse_number<uint32_t>(v, flowgen::kMinFoldEntries, flowgen::kMaxFoldEntries, c.fold.entries);
     }},
    {"active-timeout", "S", false, "export long conversations every S seconds (default 60)",
     [](Config& c, std::string_view v) { return parse_seconds_ms(v, c.cache.active_timeout_ms); }},
    {"idle-timeout", "S", false, "end a conversation after S seconds without packets (default 15)",
     [](Config& c, std::string_view v) { return parse_seconds_ms(v, c.cache.idle_timeout_ms); }},
    {"cache-size", "N", false, "conversations per worker lcore, rounded up to a power of two (default 1048576; 128 B each, 256 B with detection)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 8, 1u << 30, c.cache.capacity); }},
    {"no-detect", nullptr, false, "turn the tunnel detectors off (flows only)",
     [](Config& c, std::string_view v) {
         bool off = false;
         Status s = parse_bool(v, off);
         c.detect = !off;
         return s;
     }},
    {"patterns", "FILE", false, "Hyperscan pattern file (default: the bundled detect/patterns/echoflow.patterns)",
     [](Config& c, std::string_view v) { c.detection.patterns_path = v; return Status{}; }},
    {"pattern-cache", "DIR|none", false, "keep compiled patterns in DIR between runs (default $CACHE_DIRECTORY, else /var/cache/echoflow for root, ~/.cache/echoflow for others); none: compile at every start",
     [](Config& c, std::string_view v) {
         if (v.empty()) return Status::error("needs a directory or none");
         c.detection.pattern_cache_dir = v == "none" ? std::string() : std::string(v);
         c.pattern_cache_chosen = true;
         return Status{};
     }},
    {"defer-above", "N", false, "new conversations per second per worker above which a conversation's first packet is inspected only through its reply, its sender's history or a 1-in-16 sample (a flood's cost; default 20000; 0: never defer)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 0, 100'000'000, c.detection.defer_above); }},
    {"alert-score", "N", false, "alert when a conversation's score reaches N (1..1000, default 500)",
     [](Config& c, std::string_view v) { return parse_number<uint16_t>(v, 1, 1000, c.detection.alert_score); }},
    {"weight", "REASON=N", true, "points a reason adds to the score (0..1000), e.g. size-varies=100; names as in alerts",
     [](Config& c, std::string_view v) {
         const auto eq = v.find('=');
         if (eq == std::string_view::npos) return Status::error("'" + std::string(v) + "' is not REASON=N");
         const int bit = detect::reason_index(v.substr(0, eq));
         if (bit < 0) return Status::error("unknown reason '" + std::string(v.substr(0, eq)) + "'");
         return parse_number<uint16_t>(v.substr(eq + 1), 0, 1000, c.detection.weights[static_cast<size_t>(bit)]);
     }},
    {"allow", "CIDR", true, "never alert on conversations with an address in this prefix",
     [](Config& c, std::string_view v) { c.detection.allow_list.emplace_back(v); return Status{}; }},
    {"payload-hex", nullptr, false, "include the payload of the alerting packet, hex-encoded, in alerts",
     [](Config& c, std::string_view v) { return parse_bool(v, c.detection.emit_payload_hex); }},
    {"flood-pps", "N", false, "flood verdict: a destination receiving N or more new ICMP conversations a second (spoofed sources, one packet each) is flooded (default 10000; 0: off)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 0, 1'000'000'000, c.detection.flood_pps); }},
    {"flood-min-sources", "N", false, "... from at least N distinct sources in that second (default 1000)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 1, 100'000'000, c.detection.flood_min_sources); }},
    {"flood-end-seconds", "S", false, "a flood is over after S seconds in a row below --flood-pps (default 3)",
     [](Config& c, std::string_view v) { return parse_number<uint16_t>(v, 1, 3600, c.detection.flood_end_intervals); }},
    {"flood-victims", "N", false, "destinations followed for floods at once (default 64; more are counted in flood_victims_dropped)",
     [](Config& c, std::string_view v) { return parse_number<uint16_t>(v, 1, 4096, c.detection.flood_max_victims); }},
    {"flood-alert-rate", "N", false, "flood alerts (start and end) written per second at most (default 10; more are counted in flood_alerts_suppressed)",
     [](Config& c, std::string_view v) { return parse_number<uint16_t>(v, 1, 10'000, c.detection.flood_alerts_per_second); }},
    {"alerts", "PATH|-", false, "write alerts as JSON Lines to PATH, or to stdout with -",
     [](Config& c, std::string_view v) { c.alerts_path = v; return Status{}; }},
    {"alerts-syslog", nullptr, false, "also send each alert to syslog (LOG_DAEMON, warning)",
     [](Config& c, std::string_view v) { return parse_bool(v, c.alerts_syslog); }},
    {"conversations", "PATH|-", false, "write every exported conversation record as a JSON line to PATH (mode 0640), or to stdout with -; SIGHUP reopens it and --alerts (logrotate)",
     [](Config& c, std::string_view v) { c.conversations_path = v; return Status{}; }},
    {"stats-json", "PATH", false, "write the end-of-run counters as one JSON object to PATH",
     [](Config& c, std::string_view v) { c.stats_json_path = v; return Status{}; }},
    {"stats-interval", "S", false, "print a one-line progress report on stderr every S seconds (default 0: off)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 0, 86400, c.stats_interval_s); }},
    {"burst", "N", false, "packets per receive burst (default 32)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 1, 512, c.burst_size); }},
    {"mbufs", "N", false,
     "live ports: mbufs in each packet pool, one per NUMA socket with workers (default: RX rings, bursts "
     "and hand-over rings of its workers; raise it for a driver that holds more, such as net_pcap infinite_rx=1)",
     [](Config& c, std::string_view v) { return parse_number<uint32_t>(v, 1024, 1u << 26, c.mbufs); }},
    {"quiet", nullptr, false, "no end-of-run summary on stderr",
     [](Config& c, std::string_view v) { return parse_bool(v, c.quiet); }},
    {"user", "NAME|UID", false, "once set up (EAL, ports, XDP program, files, telemetry socket), switch to this user and keep only the capabilities the stop needs (docs/deployment.md); needs root",
     [](Config& c, std::string_view v) {
         if (v.empty()) return Status::error("needs a user name or uid");
         c.user = v;
         return Status{};
     }},
    {"group", "NAME|GID", false, "with --user: the group to switch to (default: the user's primary group)",
     [](Config& c, std::string_view v) {
         if (v.empty()) return Status::error("needs a group name or gid");
         c.group = v;
         return Status{};
     }},
    {"config", "FILE", false, "read options from FILE first (key = value lines); the command line overrides it",
     [](Config&, std::string_view) { return Status{}; }},  // handled before the table pass
    {"check", nullptr, false, "check the configuration (options, config file, pattern file) and exit",
     [](Config& c, std::string_view v) { return parse_bool(v, c.check_only); }},
    {"help", nullptr, false, "show this help and exit",
     [](Config& c, std::string_view) { c.show_help = true; return Status{}; }},
    {"version", nullptr, false, "show the version and exit",
     [](Config& c, std::string_view) { c.show_version = true; return Status{}; }},
};

const Option* find_option(std::string_view name) {
    for (const Option& o : kOptions)
        if (name == o.name) return &o;
    return nullptr;
}

// A control character (other than tab) in an option, a value or a config
// line: errors quote what was given, and must stay one line on a terminal.
// Returns its position, or npos.
size_t find_control(std::string_view s) {
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return i;
    }
    return std::string_view::npos;
}

std::string hex_byte(unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    return std::string("0x") + digits[c >> 4] + digits[c & 15];
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

}  // namespace

Status parse_config_text(std::string_view text, const std::string& origin, Config& config) {
    unsigned lineno = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++lineno;
        const std::string where = origin + ":" + std::to_string(lineno);
        // Values become C strings (paths, host names): a NUL would cut them
        // short without a word.
        if (line.find('\0') != std::string_view::npos) return Status::error(where + ": NUL byte in the line");
        std::string_view l = trim(line);  // drops a CRLF file's '\r'
        if (const size_t c = find_control(l); c != std::string_view::npos)
            return Status::error(where + ": control character " + hex_byte(static_cast<unsigned char>(l[c])) +
                                 " in the line");
        if (l.empty() || l.front() == '#') continue;
        const auto eq = l.find('=');
        if (eq == std::string_view::npos) return Status::error(where + ": expected 'key = value'");
        const std::string_view key = trim(l.substr(0, eq));
        std::string_view value = trim(l.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"') {
            // A quoted value is taken as is (it may hold " #").
            const auto close = value.find('"', 1);
            if (close == std::string_view::npos) return Status::error(where + ": unterminated quote");
            if (!trim(value.substr(close + 1)).empty() && trim(value.substr(close + 1)).front() != '#')
                return Status::error(where + ": text after the closing quote");
            value = value.substr(1, close - 1);
        } else if (const auto hash = value.find('#'); hash != std::string_view::npos &&
                                                      (hash == 0 || value[hash - 1] == ' ' || value[hash - 1] == '\t')) {
            // `key = value   # note`: a # after white space starts a comment.
            value = trim(value.substr(0, hash));
        }
        const Option* o = find_option(key);
        if (!o || key == "config" || key == "help" || key == "version" || key == "check")
            return Status::error(where + ": unknown key '" + std::string(key) + "'");
        if (Status s = o->apply(config, value); !s.ok()) return s.prefix(where + ": " + std::string(key));
    }
    return {};
}

Status load_config_file(const std::string& path, Config& config) {
    std::string text;
    if (Status s = flowgen::read_bounded_file("config file", path, kMaxConfigFileBytes, text); !s.ok()) return s;
    return parse_config_text(text, path, config);
}

Status parse_args(int argc, char** argv, ParsedArgs& out) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (const size_t c = find_control(a); c != std::string_view::npos)
            return Status::error("argument " + std::to_string(i) + " contains the control character " +
                                 hex_byte(static_cast<unsigned char>(a[c])));
    }
    int first = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            out.eal_args.assign(argv, argv + i);
            first = i + 1;
            break;
        }
    }
    // --config first, so that the command line overrides the file.
    for (int i = first; i < argc; ++i) {
        std::string_view a = argv[i];
        std::string path;
        if (a == "--config" && i + 1 < argc)
            path = argv[i + 1];
        else if (a.rfind("--config=", 0) == 0)
            path = std::string(a.substr(9));
        else
            continue;
        if (Status s = load_config_file(path, out.config); !s.ok()) return s;
    }
    // The input is one choice: an input given on the command line (EAL
    // options, --pcap, --interface) replaces the file's.
    bool cli_input = !out.eal_args.empty();
    for (int i = first; i < argc; ++i) {
        const std::string_view a = argv[i];
        cli_input |= a == "--pcap" || a.rfind("--pcap=", 0) == 0 || a == "--interface" ||
                     a.rfind("--interface=", 0) == 0;
    }
    if (cli_input) {
        out.config.pcap_path.clear();
        out.config.interface.clear();
    }
    // Repeatable options given on the command line replace the file's list.
    bool cleared_collectors = false, cleared_allow = false;
    for (int i = first; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.size() < 3 || a.substr(0, 2) != "--")
            return Status::error("unexpected argument '" + std::string(a) + "' (see --help)");
        a.remove_prefix(2);
        std::string_view value;
        bool inline_value = false;
        if (auto eq = a.find('='); eq != std::string_view::npos) {
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            inline_value = true;
        }
        const Option* o = find_option(a);
        if (!o) return Status::error("unknown option --" + std::string(a) + " (see --help)");
        if (o->arg && !inline_value) {
            if (i + 1 >= argc) return Status::error("option --" + std::string(a) + " needs a value (" + o->arg + ")");
            value = argv[++i];
        } else if (!o->arg && inline_value) {
            return Status::error("option --" + std::string(a) + " takes no value");
        }
        if (a == "collector" && !cleared_collectors) {
            out.config.exporter.collectors.clear();
            cleared_collectors = true;
        }
        if (a == "allow" && !cleared_allow) {
            out.config.detection.allow_list.clear();
            cleared_allow = true;
        }
        if (Status s = o->apply(out.config, o->arg ? value : std::string_view{}); !s.ok())
            return s.prefix("option --" + std::string(a));
    }
    // The conversation log names each conversation's ping program.
    out.config.detection.fingerprint_conversations = !out.config.conversations_path.empty();
    return {};
}

Status validate(const Config& c, bool have_eal_args) {
    const int inputs = !c.pcap_path.empty() + !c.interface.empty() + have_eal_args;
    if (inputs == 0)
        return Status::error("no input: give --pcap FILE, --interface IFNAME, or EAL options and ports before '--'");
    if (inputs > 1) return Status::error("give only one input: --pcap, --interface, or EAL options before '--'");
    if (!c.group.empty() && c.user.empty()) return Status::error("--group needs --user");
    if (Status s = flowgen::validate(c.cache); !s.ok()) return s;
    if (Status s = flowgen::validate(c.fold); !s.ok()) return s;
    // No collector is allowed: flows are then only counted (and alerts written).
    if (!c.exporter.collectors.empty())
        if (Status s = flowgen::validate(c.exporter); !s.ok()) return s;
    if (c.detect)
        if (Status s = detect::validate(c.detection); !s.ok()) return s;
    return {};
}

uint32_t export_rate_for(const Config& c) {
    if (c.export_rate_chosen) return c.export_rate;
    for (const flowgen::CollectorAddress& a : c.exporter.collectors)
        if (a.transport == flowgen::CollectorAddress::Transport::kUdp) return kDefaultUdpExportRate;
    return 0;
}

std::string usage() {
    std::ostringstream o;
    o << "usage: echoflow [EAL options --] [options]\n"
         "       echoflow --pcap FILE [options]\n"
         "       echoflow --interface IFNAME [options]\n\n"
         "ICMP/ICMPv6 flow probe with inline ICMP tunnel detection and IPFIX export.\n"
         "With EAL options, every ethdev the EAL brings up (a PCI NIC bound to vfio-pci,\n"
         "net_pcap, net_af_packet, net_af_xdp, net_memif, net_ring, ...) is read, with one\n"
         "RX queue per worker lcore (all lcores but the main one; a single lcore does all).\n\n"
         "options:\n";
    for (const Option& opt : kOptions) {
        std::string left = std::string("  --") + opt.name + (opt.arg ? std::string(" ") + opt.arg : "");
        if (left.size() < 34)
            left.resize(34, ' ');
        else
            left += "\n" + std::string(34, ' ');
        o << left << opt.help << (opt.repeatable ? " [repeatable]" : "") << "\n";
    }
    o << "\nexit status: 0 on success, 1 on a start-up failure, 2 on a usage error.\n";
    return o.str();
}

}  // namespace probe
