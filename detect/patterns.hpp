// Content patterns: a text file of regular expressions compiled into one
// Hyperscan block-mode database, scanned against ICMP payloads.
//
// File format (one pattern per line; '#' starts a comment line; blank lines
// are ignored):
//
//     ID:NAME:CLASS:FLAGS:/REGEX/
//
//   ID     1..65535, unique in the file; exported as the signature id
//   NAME   1..48 characters of [A-Za-z0-9_.+-]
//   CLASS  tunnel      a known tunnel tool's framing   -> Reason::kTunnelSignature
//          suspicious  shell text, plain protocols     -> Reason::kSuspiciousContent
//          benign      a ping implementation's payload: the packet counts as
//                      explained (anchor both ends, ^...$, or a tunnel could
//                      prefix it)
//          allow       an allow-listed payload class: the conversation is
//                      never scored (anchor it just as carefully)
//          ping        fingerprint of a ping implementation: named in the
//                      alert ("fingerprint"), changes no score
//   FLAGS  letters: i caseless, s dot matches newline, m multi-line ^ $;
//          "-" for none
//   REGEX  Hyperscan's PCRE subset, between the first '/' after FLAGS and
//          the last '/' of the line; matched against the ICMP data (after
//          the 8-byte ICMP header); ^ is the first data byte, $ the last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "detect/payload_analysis.hpp"
#include "flowgen/relaxed_counter.hpp"
#include "flowgen/status.hpp"

struct hs_database;
struct hs_scratch;

namespace detect {

enum class PatternClass : uint8_t { kTunnel, kSuspicious, kBenign, kAllow, kPing };

struct PatternEntry {
    uint16_t id = 0;
    PatternClass klass = PatternClass::kTunnel;
    unsigned flags = 0;  // Hyperscan HS_FLAG_* bits
    unsigned line = 0;   // 1-based line in the file
    std::string name;
    std::string regex;
};

// The bundled file is a few kilobytes; a pattern file larger than this is a
// mistake (a device, a capture) and is refused before it is read whole.
inline constexpr size_t kMaxPatternFileBytes = 4u << 20;

// Parses pattern text; errors name "<origin>:<line>: <problem>".
flowgen::Status parse_patterns(const std::string& text, const std::string& origin, std::vector<PatternEntry>& out);

// What one scan found: the first id per class, 0 when none matched.
struct ContentHits {
    uint16_t tunnel_id = 0;
    uint16_t suspicious_id = 0;
    uint16_t benign_id = 0;
    uint16_t allow_id = 0;
    uint16_t ping_id = 0;
};

// Patterns are compiled into one block-mode database per group, so that a
// payload is scanned only against the patterns that can matter for it
// (Pipeline::inspect): every inspected payload against kCore, unstructured
// payloads against kText; kPing only for an alert's fingerprint
// (Pipeline::fingerprint). One scratch serves all groups.
enum ScanGroup : unsigned {
    kScanCore = 1,  // tunnel, benign, allow
    kScanText = 2,  // suspicious
    kScanPing = 4,  // ping
};

// The compiled databases of one pattern file: built once (compiled, or
// loaded from the PatternCache) and then immutable, so that every worker's
// pipeline scans the same databases (a std::shared_ptr<const ...>); only
// the scratch space is per pipeline. Hyperscan allows any number of threads
// to scan one database at once, each with its own scratch ("Scratch Space"
// in the Hyperscan developer reference).
class PatternDatabases {
public:
    static constexpr unsigned kGroups = 3;

    ~PatternDatabases();
    PatternDatabases(const PatternDatabases&) = delete;
    PatternDatabases& operator=(const PatternDatabases&) = delete;

    // Reads and compiles `path`; a syntax or regex error names path:line. A
    // file that cannot be read, or is larger than kMaxPatternFileBytes, fails.
    // With a `cache_dir` (PatternCache), databases compiled from the same
    // bytes by an earlier run are loaded instead, and a compile is stored.
    static flowgen::Status load_file(const std::string& path, const std::string& cache_dir,
                                     std::shared_ptr<const PatternDatabases>& out);
    // Compiles already parsed entries (`origin` names them in errors).
    static flowgen::Status compile(std::vector<PatternEntry> entries, const std::string& origin,
                                   std::shared_ptr<const PatternDatabases>& out);

    // Databases built (compiled or loaded) by this process so far: what
    // shows that workers share one build rather than making their own.
    static unsigned builds() noexcept;

    const std::vector<PatternEntry>& entries() const noexcept { return entries_; }
    // The database of a group (ScanGroup bit index), nullptr when empty.
    const hs_database* database(unsigned group) const noexcept { return databases_[group]; }
    // Name of the pattern with this id, or nullptr.
    const char* name_of(uint16_t id) const noexcept;

private:
    PatternDatabases() = default;
    std::vector<PatternEntry> entries_;  // index = Hyperscan expression id
    hs_database* databases_[kGroups] = {};  // by ScanGroup bit index; nullptr when the group is empty
};

// What one pipeline (one lcore) scans with: the shared databases and its
// own scratch. scan() must not be called concurrently on the same object.
class PatternSet {
public:
    PatternSet() = default;
    ~PatternSet();
    PatternSet(const PatternSet&) = delete;
    PatternSet& operator=(const PatternSet&) = delete;
    PatternSet(PatternSet&& other) noexcept;
    PatternSet& operator=(PatternSet&& other) noexcept;

    // Scans `databases` (built elsewhere, shared) with a scratch of its own,
    // allocated here: call on the lcore that will scan.
    flowgen::Status use(std::shared_ptr<const PatternDatabases> databases);
    // Builds databases of its own (PatternDatabases::load_file), then use().
    flowgen::Status load_file(const std::string& path, const std::string& cache_dir = {});
    // Compiles entries of its own (PatternDatabases::compile), then use().
    flowgen::Status compile(std::vector<PatternEntry> entries, const std::string& origin);

    bool empty() const noexcept { return !databases_ || databases_->entries().empty(); }
    size_t size() const noexcept { return databases_ ? databases_->entries().size() : 0; }
    // The databases scanned (shared between the sets that use() them).
    const std::shared_ptr<const PatternDatabases>& databases() const noexcept { return databases_; }

    // Scans one payload against the groups in `groups` (ScanGroup bits).
    // No allocation: hs_scan uses the preallocated scratch. Returns false
    // if Hyperscan reported an error for any group; each such hs_scan is
    // counted (scan_errors(), or the counter given to count_errors_in()).
    bool scan(Bytes data, ContentHits& hits, unsigned groups = kScanCore | kScanText | kScanPing) const noexcept;

    // Where failed scans are counted (a worker's pattern_scan_errors, which
    // must outlive this set); nullptr: this set's own counter.
    void count_errors_in(flowgen::RelaxedCounter* counter) noexcept { error_counter_ = counter; }
    uint64_t scan_errors() const noexcept { return (error_counter_ ? *error_counter_ : own_errors_).get(); }

    // Name of the pattern with this id, or nullptr.
    const char* name_of(uint16_t id) const noexcept { return databases_ ? databases_->name_of(id) : nullptr; }

private:
    friend struct PatternSetTestAccess;  // tests/detect: hand a set a scratch that does not fit
    void release() noexcept;

    std::shared_ptr<const PatternDatabases> databases_;
    hs_scratch* scratch_ = nullptr;
    flowgen::RelaxedCounter* error_counter_ = nullptr;
    mutable flowgen::RelaxedCounter own_errors_;
};

}  // namespace detect
