// Payload measures. References: Shannon entropy and its small-sample bias
// (Miller 1955); RFC 791 §3.1 and RFC 1071 (IPv4 header and checksum);
// RFC 8200 §3 (IPv6 header); ptunnel 0.72 ping_tunnel_pkt_t (28-byte header).
#include "detect/payload_analysis.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "flowgen/bytes.hpp"

namespace detect {

namespace {

constexpr uint32_t kEntropyTableMax = 4096;
// Up to this length the histogram is read back through the payload.
constexpr size_t kShortEntropy = 128;

struct EntropyTables {
    std::array<float, kEntropyTableMax + 1> expected{};  // E[H] of n random bytes
    std::array<float, kEntropyTableMax + 1> c_log2_c{};  // c * log2(c)
    // The same terms times 2^22, as integers: every term is 0 (c <= 1) or a
    // float >= 2, hence a multiple of 2^-22, so this is exact, and integer
    // sums have no 4-cycle add latency chain.
    std::array<uint64_t, kShortEntropy + 1> c_log2_c_fixed{};

    EntropyTables() {
        for (uint32_t c = 1; c <= kEntropyTableMax; ++c)
            c_log2_c[c] = static_cast<float>(c * std::log2(static_cast<double>(c)));
        for (uint32_t c = 0; c <= kShortEntropy; ++c)
            c_log2_c_fixed[c] = static_cast<uint64_t>(std::ldexp(static_cast<double>(c_log2_c[c]), 22));
        // E[H] = 256 * sum_c P(Binomial(n, 1/256) = c) * -(c/n) log2(c/n).
        for (uint32_t n = 1; n <= kEntropyTableMax; ++n) {
            const double nn = n;
            double log_p = nn * std::log(255.0 / 256.0);  // log P(c = 0)
            double sum = 0.0;
            for (uint32_t c = 1; c <= n; ++c) {
                log_p += std::log((nn - c + 1) / c) - std::log(255.0);
                const double p = std::exp(log_p);
                const double q = c / nn;
                sum += p * -q * std::log2(q);
                if (p < 1e-12 && c > nn / 256.0 + 8) break;
            }
            expected[n] = static_cast<float>(256.0 * sum);
        }
    }
};

const EntropyTables& tables() {
    static const EntropyTables t;  // built once, thread-safe (C++11 magic static)
    return t;
}

inline uint32_t mix32(uint64_t h) noexcept {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return static_cast<uint32_t>(h ^ (h >> 32));
}

inline uint64_t load64(const uint8_t* p) noexcept {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// Adds 1 to each byte of w, modulo 256, without carries between bytes (SWAR).
inline uint64_t add_one_per_byte(uint64_t w) noexcept {
    constexpr uint64_t kHigh = 0x8080808080808080ULL, kOnes = 0x0101010101010101ULL;
    return ((w & ~kHigh) + kOnes) ^ (w & kHigh);
}

inline uint16_t checksum_fold(const uint8_t* p, unsigned len) noexcept {
    uint32_t sum = 0;
    for (unsigned i = 0; i + 1 < len; i += 2) sum += flowgen::load_be16(p + i);
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

bool ipv4_at(const uint8_t* p, uint32_t captured, uint32_t remaining) noexcept {
    if (captured < 20 || (p[0] >> 4) != 4) return false;
    const unsigned header = (p[0] & 0x0Fu) * 4u;
    if (header < 20 || header > captured) return false;
    if (flowgen::load_be16(p + 2) != remaining) return false;
    return checksum_fold(p, header) == 0xFFFF;  // RFC 1071: a correct header sums to all ones
}

bool ipv6_at(const uint8_t* p, uint32_t captured, uint32_t remaining) noexcept {
    if (captured < 40 || (p[0] >> 4) != 6) return false;
    if (flowgen::load_be16(p + 4) + 40u != remaining || p[7] == 0) return false;
    switch (p[6]) {  // next header: TCP, UDP, ICMPv6, ESP, AH, no-next, hop-by-hop, routing, fragment, dest-opts
        case 6: case 17: case 58: case 50: case 51: case 59: case 0: case 43: case 44: case 60:
            return true;
        default:
            return false;
    }
}

}  // namespace

double expected_random_entropy(uint32_t n) noexcept {
    if (n == 0) return 0.0;
    if (n <= kEntropyTableMax) return tables().expected[n];
    return 8.0 - 255.0 / (2.0 * n * std::log(2.0));
}

double shannon_entropy(Bytes data) noexcept {
    const size_t n = data.size();
    if (n == 0) return 0.0;
    if (n > 4u * 65535u) return shannon_entropy(data.first(4u * 65535u));
    const uint8_t* d = data.data();
    const auto& t = tables();
    double acc = 0.0;
    auto add = [&acc, &t](uint32_t c) {
        if (c != 0) acc += c <= kEntropyTableMax ? static_cast<double>(t.c_log2_c[c]) : c * std::log2(static_cast<double>(c));
    };
    // Up to kEntropyTableMax bytes every count is in the table. Its terms
    // are floats that are 0 (c <= 1) or >= 2, so multiples of 2^-22, and
    // every partial sum stays below 2^16 (n log2 n): double addition of
    // them is exact in any order. Four accumulators then give the same sum
    // as one, without a 256-long chain of dependent adds.
    auto sum_table_terms = [&t](auto count_of) {
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        for (unsigned v = 0; v < 256; v += 4) {
            a0 += static_cast<double>(t.c_log2_c[count_of(v)]);
            a1 += static_cast<double>(t.c_log2_c[count_of(v + 1)]);
            a2 += static_cast<double>(t.c_log2_c[count_of(v + 2)]);
            a3 += static_cast<double>(t.c_log2_c[count_of(v + 3)]);
        }
        return (a0 + a1) + (a2 + a3);
    };
    if (n <= kShortEntropy) {
        // Short payloads (pings: 56 bytes): a byte histogram, then the terms
        // read back through the payload itself, each value's once (its count
        // is cleared as it is taken): O(n) instead of 256 bins. The same
        // terms as below, summed exactly in fixed point: the same result.
        uint8_t counts[256];
        std::memset(counts, 0, sizeof counts);
        for (size_t i = 0; i < n; ++i) ++counts[d[i]];
        uint64_t fixed = 0;
        for (size_t i = 0; i < n; ++i) {
            fixed += t.c_log2_c_fixed[counts[d[i]]];
            counts[d[i]] = 0;
        }
        acc = std::ldexp(static_cast<double>(fixed), -22);
    } else if (n < 512) {  // one histogram, least zeroing
        uint16_t counts[256] = {};
        for (size_t i = 0; i < n; ++i) ++counts[d[i]];
        acc = sum_table_terms([&counts](unsigned v) { return counts[v]; });
    } else {
        // Four histograms, so that runs of one byte value do not serialise
        // on one counter (store-to-load forwarding); 16-bit counters keep
        // the zeroing to 2 KB (each counts at most n/4 + 1).
        uint16_t part[4][256] = {};
        size_t i = 0;
        for (; i + 4 <= n; i += 4) {
            ++part[0][d[i]];
            ++part[1][d[i + 1]];
            ++part[2][d[i + 2]];
            ++part[3][d[i + 3]];
        }
        for (; i < n; ++i) ++part[0][d[i]];
        auto count_of = [&part](unsigned v) { return uint32_t{part[0][v]} + part[1][v] + part[2][v] + part[3][v]; };
        if (n <= kEntropyTableMax) {
            acc = sum_table_terms(count_of);
        } else {
            for (unsigned v = 0; v < 256; ++v) add(count_of(v));
        }
    }
    return std::log2(static_cast<double>(n)) - acc / static_cast<double>(n);
}

Structure analyze_structure(Bytes data, unsigned max_prefix) noexcept {
    Structure s;
    const size_t n = data.size();
    if (n < 9) return s;
    const uint8_t* d = data.data();
    constexpr size_t kMinRepeat = 8;

    // Counter: extend backwards from the end while byte[i] == byte[i-1] + 1.
    // Eight bytes per step while it holds (byte order does not matter: each
    // byte is compared with its own predecessor), then byte by byte.
    size_t counter_start = n - 1;
    while (counter_start >= 8 && load64(d + counter_start - 7) == add_one_per_byte(load64(d + counter_start - 8)))
        counter_start -= 8;
    while (counter_start > 0 && d[counter_start] == static_cast<uint8_t>(d[counter_start - 1] + 1)) --counter_start;
    const bool counter = counter_start <= max_prefix && n - counter_start >= kMinRepeat + 1;

    // Periodic: smallest period p whose repetition reaches back to
    // max_prefix. Random data fails each p at the first compare. Inside the
    // counter run byte[n-1] - byte[n-1-p] = p (mod 256), never 0 for p <= 64,
    // so every p up to n-1-counter_start fails that compare: start past them.
    const unsigned first_p = static_cast<unsigned>(std::max<size_t>(1, n - counter_start));
    for (unsigned p = first_p; p <= 64 && p < n; ++p) {
        if (d[n - 1] != d[n - 1 - p]) continue;  // random data ends here for every p
        size_t j = n - 1;  // extend backwards while byte[j] == byte[j-p]
        while (j >= p + 7 && load64(d + j - 7) == load64(d + j - 7 - p)) j -= 8;
        while (j >= p && d[j] == d[j - p]) --j;
        // Every byte after j equals the one p before it: the fill is
        // [j+1-p, n), or the whole payload when the scan reached index p-1.
        const size_t start = j < p ? 0 : j + 1 - p;
        if (start > max_prefix || n - start < p + kMinRepeat) continue;
        // 'a'..'w' repeated is also a short counter near the end: keep the
        // reading that explains more of the payload.
        if (counter && counter_start < start) break;
        s.fill = Fill::kPeriodic;
        s.period = static_cast<uint8_t>(p);
        s.start = static_cast<uint16_t>(start);
        // Hash the pattern at its absolute phase (byte at offset q with
        // q mod p == k), so one sender's fill hashes the same in every packet.
        uint64_t h = 0x9E3779B97F4A7C15ULL ^ p;
        for (unsigned k = 0; k < p; ++k) {
            const size_t q = start + ((k + p - start % p) % p);
            h = (h ^ d[q]) * 0x100000001B3ULL;
        }
        s.fill_hash = mix32(h);
        return s;
    }
    if (counter) {
        s.fill = Fill::kCounter;
        s.start = static_cast<uint16_t>(counter_start);
        const uint8_t base = static_cast<uint8_t>(d[counter_start] - counter_start);  // byte[k] = k + base
        s.fill_hash = mix32(0x100000000ULL | base);
    }
    return s;
}

double printable_fraction(Bytes data) noexcept {
    if (data.empty()) return 0.0;
    size_t printable = 0;
    for (uint8_t b : data) printable += (b >= 0x20 && b <= 0x7E) || b == '\t' || b == '\r' || b == '\n';
    return static_cast<double>(printable) / static_cast<double>(data.size());
}

TextShape text_shape(Bytes data) noexcept {
    // Per byte value: 1 printable, 2 base64 (RFC 4648 §4/§5), 4 hex digit.
    static constexpr auto kClass = [] {
        std::array<uint8_t, 256> t{};
        for (unsigned b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x20 && b <= 0x7E) || b == '\t' || b == '\r' || b == '\n';
            const bool digit = b >= '0' && b <= '9';
            const bool upper = b >= 'A' && b <= 'Z', lower = b >= 'a' && b <= 'z';
            const bool base64 = digit || upper || lower || b == '+' || b == '/' || b == '-' || b == '_' || b == '=';
            const bool hex = digit || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
            t[b] = static_cast<uint8_t>((printable ? 1 : 0) | (base64 ? 2 : 0) | (hex ? 4 : 0));
        }
        return t;
    }();
    TextShape shape;
    uint8_t all = 0xFF;
    for (uint8_t b : data) {
        const uint8_t c = kClass[b];
        shape.printable += c & 1u;
        all &= c;
    }
    shape.base64 = !data.empty() && (all & 2u);
    shape.hex = !data.empty() && (all & 4u);
    return shape;
}

int find_embedded_ip(Bytes data, uint32_t wire_length) noexcept {
    // 0: icmptunnel and friends; 4: a tun packet-information header;
    // 5: hans ('hanc'/'hans' + type byte); 8: an 8-byte framing header.
    static constexpr uint32_t kOffsets[] = {0, 4, 5, 8};
    for (uint32_t off : kOffsets) {
        if (data.size() <= off || wire_length <= off) break;
        const uint8_t* p = data.data() + off;
        const uint32_t captured = static_cast<uint32_t>(data.size()) - off;
        const uint32_t remaining = wire_length - off;
        if (ipv4_at(p, captured, remaining) || ipv6_at(p, captured, remaining)) return static_cast<int>(off);
    }
    return -1;
}

bool has_tunnel_framing(Bytes data, uint32_t wire_length) noexcept {
    if (data.size() < 28 || wire_length < 28) return false;
    const uint8_t* d = data.data();
    // A zero magic or destination is no tunnel: 28 zero bytes (a zero fill
    // of that size, as flood tools send) would otherwise pass every check.
    if (flowgen::load_be32(d) == 0 || flowgen::load_be32(d + 4) == 0) return false;  // magic, dst ip
    if (flowgen::load_be32(d + 20) != wire_length - 28) return false;  // data_len
    if ((flowgen::load_be32(d + 12) & 0x3FFFFFFFu) >= 16) return false; // state, minus user/proxy flags
    return flowgen::load_be32(d + 8) <= 0xFFFF;                          // dst_port
}

// Four independent multiply-xorshift lanes (word i feeds lane i % 4) so
// that the multiplies of a 56-byte ping payload overlap instead of forming
// one 7-deep dependency chain (detect_bench hash-128, linux-56); the lanes
// start from different seeds, so equal words in different lanes differ.
uint32_t payload_hash(Bytes data, uint32_t wire_length, unsigned max_bytes) noexcept {
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
    auto round = [](uint64_t h, uint64_t w) noexcept {
        h = (h ^ w) * kMul;
        return h ^ (h >> 29);
    };
    const size_t n = data.size() < max_bytes ? data.size() : max_bytes;
    const uint8_t* d = data.data();
    const uint64_t seed = 0x84222325CBF29CE4ULL ^ (static_cast<uint64_t>(wire_length) << 32);
    uint64_t h0 = seed, h1 = seed + 0x632BE59BD9B4E019ULL, h2 = seed + 0xC2B2AE3D27D4EB4FULL,
             h3 = seed + 0x165667B19E3779F9ULL;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        h0 = round(h0, load64(d + i));
        h1 = round(h1, load64(d + i + 8));
        h2 = round(h2, load64(d + i + 16));
        h3 = round(h3, load64(d + i + 24));
    }
    if (i + 8 <= n) { h0 = round(h0, load64(d + i)); i += 8; }
    if (i + 8 <= n) { h1 = round(h1, load64(d + i)); i += 8; }
    if (i + 8 <= n) { h2 = round(h2, load64(d + i)); i += 8; }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; ++k) tail |= static_cast<uint64_t>(d[i + k]) << (8 * k);
    h3 = round(h3 ^ (static_cast<uint64_t>(n) * 0xC2B2AE3D27D4EB4FULL), tail);
    const uint64_t h = ((h0 ^ ((h1 << 21) | (h1 >> 43))) * kMul) ^ ((h2 ^ ((h3 << 43) | (h3 >> 21))) * 0xff51afd7ed558ccdULL);
    return mix32(h);
}

}  // namespace detect
