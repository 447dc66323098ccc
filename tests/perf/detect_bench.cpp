// detect_bench: nanoseconds per packet of each detector on prebuilt payloads.
// A plain executable, not a test (machines are noisy: no timed asserts).
//
//   build-*/tests/perf/detect_bench [--patterns FILE] [--runs N]
//
// For every (detector, payload) pair: `runs` timed runs of a fixed number of
// calls each, reporting the median ns/call. "pipeline head" is
// Pipeline::on_packet on a conversation still inside its inspection budget
// (every packet deeply inspected); "pipeline steady" is the same
// conversation long after, with the default budget (1 in 16 inspected).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "detect/payload_analysis.hpp"
#include "detect/patterns.hpp"
#include "detect/pipeline.hpp"
#include "flowgen/bytes.hpp"

namespace {

using Payload = std::vector<uint8_t>;

template <typename T>
inline void keep(const T& value) {
    asm volatile("" : : "r,m"(value) : "memory");
}

Payload linux_ping(size_t n) {
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i);
    const uint64_t sec = 1764128000;
    std::memcpy(p.data(), &sec, std::min<size_t>(n, 8));
    return p;
}

Payload random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    Payload p(n);
    for (auto& b : p) b = static_cast<uint8_t>(rng());
    return p;
}

Payload text_payload(size_t n) {
    const std::string s = "uid=1000(bob) gid=1000(bob) groups=1000(bob),27(sudo)\n total 48\n-rw-r--r-- 1 bob bob ";
    Payload p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(s[i % s.size()]);
    return p;
}

Payload ptunnel(size_t n) {
    Payload p = random_bytes(n, 7);
    flowgen::store_be32(&p[0], 0xD5200880u);
    flowgen::store_be32(&p[8], 22);
    flowgen::store_be32(&p[12], 1);
    flowgen::store_be32(&p[20], static_cast<uint32_t>(n - 28));
    return p;
}

double median_ns(int runs, int calls, const std::function<void(int)>& body) {
    std::vector<double> samples;
    body(0);  // warm caches and tables
    for (int r = 0; r < runs; ++r) {
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) body(i);
        const auto end = std::chrono::steady_clock::now();
        samples.push_back(std::chrono::duration<double, std::nano>(end - start).count() / calls);
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

flowgen::PacketInfo request(const Payload& p, uint16_t seq) {
    flowgen::PacketInfo info;
    info.family = flowgen::Family::kIpv4;
    info.l4_protocol = 1;
    info.icmp_type = 8;
    info.icmp_id = 0x1234;
    info.icmp_seq = seq;
    info.has_icmp_header = true;
    info.payload = p.data();
    info.payload_length = static_cast<uint16_t>(p.size());
    info.payload_wire_length = static_cast<uint16_t>(p.size());
    info.ip_length = static_cast<uint32_t>(28 + p.size());
    info.src.bytes[0] = 192, info.dst.bytes[0] = 198;
    return info;
}

}  // namespace

int main(int argc, char** argv) {
    std::string patterns = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";
    int runs = 15;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--patterns") == 0 && i + 1 < argc) patterns = argv[++i];
        else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: %s [--patterns FILE] [--runs N]\n", argv[0]);
            return 2;
        }
    }
    detect::PatternSet set;
    if (auto s = set.load_file(patterns); !s) {
        std::fprintf(stderr, "detect_bench: %s\n", s.message().c_str());
        return 1;
    }
    detect::Config head_config;
    head_config.patterns_path = patterns;
    head_config.inspect_first_packets = 65535;
    detect::Config steady_config;
    steady_config.patterns_path = patterns;
    detect::Pipeline head, steady;
    if (auto s = head.init(head_config); !s) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
    if (auto s = steady.init(steady_config); !s) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;

    struct Named {
        const char* name;
        Payload payload;
    };
    const std::vector<Named> payloads = {
        {"linux-56", linux_ping(56)},       {"linux-1472", linux_ping(1472)},   {"random-64", random_bytes(64, 1)},
        {"random-1000", random_bytes(1000, 2)}, {"random-1472", random_bytes(1472, 3)}, {"text-200", text_payload(200)},
        {"ptunnel-1052", ptunnel(1052)},
    };
    const int calls = 20000;
    std::printf("detect_bench: median of %d runs x %d calls, ns per packet\n", runs, calls);
    std::printf("%-16s", "detector");
    for (const auto& p : payloads) std::printf(" %12s", p.name);
    std::printf("\n");

    using Row = std::function<void(const Payload&, int)>;
    const std::vector<std::pair<const char*, Row>> rows = {
        {"structure", [](const Payload& p, int) { keep(detect::analyze_structure({p.data(), p.size()}, 24)); }},
        {"entropy", [](const Payload& p, int) { keep(detect::shannon_entropy({p.data(), p.size()})); }},
        {"printable", [](const Payload& p, int) { keep(detect::printable_fraction({p.data(), p.size()})); }},
        {"embedded-ip", [](const Payload& p, int) { keep(detect::find_embedded_ip({p.data(), p.size()}, static_cast<uint32_t>(p.size()))); }},
        {"framing", [](const Payload& p, int) { keep(detect::has_tunnel_framing({p.data(), p.size()}, static_cast<uint32_t>(p.size()))); }},
        {"hash-128", [](const Payload& p, int) { keep(detect::payload_hash({p.data(), p.size()}, static_cast<uint32_t>(p.size()), 128)); }},
        {"hyperscan", [&set](const Payload& p, int) {
             detect::ContentHits h;
             set.scan({p.data(), p.size()}, h);
             keep(h);
         }},
    };
    for (const auto& [name, row] : rows) {
        // A named reference: clang 14 cannot capture a structured binding.
        const Row& fn = row;
        std::printf("%-16s", name);
        for (const auto& p : payloads) std::printf(" %12.1f", median_ns(runs, calls, [&](int i) { fn(p.payload, i); }));
        std::printf("\n");
    }

    // Whole pipeline, requests only (worst case: every request is novel).
    std::printf("%-16s", "pipeline head");
    for (const auto& p : payloads) {
        detect::ConversationState warm{};
        for (uint16_t s = 0; s < 4; ++s) head.on_packet(warm, request(p.payload, s), 0, 1000 + s);
        warm.alerted_score = 0;  // keep inspecting even once a tunnel alerted
        const flowgen::PacketInfo info = request(p.payload, 9);
        std::printf(" %12.1f", median_ns(runs, calls, [&](int) {
                        detect::ConversationState s = warm;
                        keep(head.on_packet(s, info, 0, 5000));
                        keep(s);
                    }));
    }
    std::printf("\n%-16s", "pipeline steady");
    for (const auto& p : payloads) {
        detect::ConversationState s{};
        uint16_t seq = 0;
        for (int i = 0; i < 200; ++i) steady.on_packet(s, request(p.payload, seq++), 0, 1000);
        std::printf(" %12.1f", median_ns(runs, calls, [&](int) {
                        keep(steady.on_packet(s, request(p.payload, seq++), 0, 5000));
                    }));
    }
    // Whole pipeline, requests whose payload differs every time (64
    // variants: byte 30 changes): the path that updates the shared sender
    // table (source-activity, host budgets) for text and binary data.
    std::printf("\n%-16s", "pipeline novel");
    for (const auto& p : payloads) {
        std::vector<flowgen::PacketInfo> infos;
        std::vector<Payload> variants(64, p.payload);
        for (size_t v = 0; v < variants.size(); ++v) {
            if (variants[v].size() > 30) variants[v][30] = static_cast<uint8_t>('A' + v % 26);
            if (variants[v].size() > 31) variants[v][31] = static_cast<uint8_t>('a' + v / 26);
            infos.push_back(request(variants[v], static_cast<uint16_t>(v)));
        }
        detect::ConversationState warm{};
        for (uint16_t s = 0; s < 4; ++s) head.on_packet(warm, infos[s], 0, 1000 + s);
        warm.alerted_score = 0;
        std::printf(" %12.1f", median_ns(runs, calls, [&](int i) {
                        detect::ConversationState s = warm;
                        keep(head.on_packet(s, infos[static_cast<size_t>(i) & 63], 0, 5000));
                        keep(s);
                    }));
    }
    std::printf("\n");
    return 0;
}
