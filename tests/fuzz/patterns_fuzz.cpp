// The pattern file parser on arbitrary text, and Hyperscan compile and scan
// of what it accepts (small sets only: a compile can take long, and that is
// Hyperscan's, not ours). An accepted entry has what patterns.hpp promises:
// an id in 1..65535 unique in the file, a valid name, a non-empty regex
// without NUL bytes.
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "detect/patterns.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<detect::PatternEntry> entries;
    const flowgen::Status s = detect::parse_patterns(text, "fuzz.patterns", entries);
    if (!s.ok()) {
        FUZZ_CHECK(s.message().rfind("fuzz.patterns:", 0) == 0);
        return 0;
    }
    std::set<uint16_t> ids;
    size_t regex_bytes = 0;
    for (const detect::PatternEntry& e : entries) {
        FUZZ_CHECK(e.id >= 1);
        FUZZ_CHECK(ids.insert(e.id).second);
        FUZZ_CHECK(!e.name.empty() && e.name.size() <= 48);
        FUZZ_CHECK(!e.regex.empty());
        FUZZ_CHECK(e.regex.find('\0') == std::string::npos);
        FUZZ_CHECK(e.line >= 1);
        regex_bytes += e.regex.size();
    }
    if (entries.empty() || entries.size() > 4 || regex_bytes > 64) return 0;
    detect::PatternSet set;
    if (!set.compile(entries, "fuzz.patterns").ok()) return 0;
    detect::ContentHits hits;
    // The pattern text itself as a payload: something to match against.
    FUZZ_CHECK(set.scan({data, size}, hits, detect::kScanCore | detect::kScanText | detect::kScanPing));
    for (uint16_t id : {hits.tunnel_id, hits.suspicious_id, hits.benign_id, hits.allow_id, hits.ping_id})
        if (id != 0) FUZZ_CHECK(ids.count(id) == 1 && set.name_of(id) != nullptr);
    return 0;
}
