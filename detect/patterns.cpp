// Pattern file parsing and the Hyperscan database (Hyperscan 5.4 API:
// hs_compile_multi in HS_MODE_BLOCK; databases shared, one scratch per pipeline).
#include "detect/patterns.hpp"

#include "detect/pattern_cache.hpp"
#include "flowgen/bounded_file.hpp"

#include <hs/hs.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <utility>

namespace detect {

namespace {

std::string at(const std::string& origin, unsigned line) { return origin + ":" + std::to_string(line); }

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 48) return false;
    for (char c : n) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

struct ScanContext {
    const std::vector<PatternEntry>* entries;
    ContentHits* hits;
};

int on_match(unsigned int index, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
             void* context) {
    auto* ctx = static_cast<ScanContext*>(context);
    if (index >= ctx->entries->size()) return 0;  // never from a database of these entries
    const PatternEntry& e = (*ctx->entries)[index];
    ContentHits& h = *ctx->hits;
    switch (e.klass) {
        case PatternClass::kTunnel:
            if (h.tunnel_id == 0) h.tunnel_id = e.id;
            return 1;  // the strongest evidence there is: stop scanning
        case PatternClass::kSuspicious:
            if (h.suspicious_id == 0) h.suspicious_id = e.id;
            break;
        case PatternClass::kBenign:
            if (h.benign_id == 0) h.benign_id = e.id;
            break;
        case PatternClass::kAllow:
            if (h.allow_id == 0) h.allow_id = e.id;
            break;
        case PatternClass::kPing:
            if (h.ping_id == 0) h.ping_id = e.id;
            break;
    }
    return 0;
}

}  // namespace

flowgen::Status parse_patterns(const std::string& text, const std::string& origin, std::vector<PatternEntry>& out) {
    using flowgen::Status;
    out.clear();
    std::istringstream in(text);
    std::string line;
    unsigned number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        line = line.substr(first);

        // ID:NAME:CLASS:FLAGS:/REGEX/ -- the regex may itself contain ':'.
        size_t pos[4];
        size_t from = 0;
        for (size_t& p : pos) {
            p = line.find(':', from);
            if (p == std::string::npos)
                return Status::error(at(origin, number) + ": expected ID:NAME:CLASS:FLAGS:/REGEX/");
            from = p + 1;
        }
        const std::string id_text = line.substr(0, pos[0]);
        PatternEntry e;
        e.line = number;
        e.name = line.substr(pos[0] + 1, pos[1] - pos[0] - 1);
        const std::string klass = line.substr(pos[1] + 1, pos[2] - pos[1] - 1);
        const std::string flags = line.substr(pos[2] + 1, pos[3] - pos[2] - 1);
        const std::string rest = line.substr(pos[3] + 1);

        char* end = nullptr;
        const long id = std::strtol(id_text.c_str(), &end, 10);
        if (id_text.empty() || end != id_text.c_str() + id_text.size() || id < 1 || id > 65535)
            return Status::error(at(origin, number) + ": id '" + id_text + "' is not a number in 1..65535");
        e.id = static_cast<uint16_t>(id);
        if (!valid_name(e.name))
            return Status::error(at(origin, number) + ": name '" + e.name + "' must be 1..48 of [A-Za-z0-9_.+-]");
        if (klass == "tunnel") e.klass = PatternClass::kTunnel;
        else if (klass == "suspicious") e.klass = PatternClass::kSuspicious;
        else if (klass == "benign") e.klass = PatternClass::kBenign;
        else if (klass == "allow") e.klass = PatternClass::kAllow;
        else if (klass == "ping") e.klass = PatternClass::kPing;
        else
            return Status::error(at(origin, number) + ": class '" + klass +
                                 "' is not one of tunnel, suspicious, benign, allow, ping");
        e.flags = HS_FLAG_SINGLEMATCH;  // one report per pattern per payload is all we use
        if (flags != "-") {
            for (char f : flags) {
                if (f == 'i') e.flags |= HS_FLAG_CASELESS;
                else if (f == 's') e.flags |= HS_FLAG_DOTALL;
                else if (f == 'm') e.flags |= HS_FLAG_MULTILINE;
                else
                    return Status::error(at(origin, number) + ": unknown flag '" + std::string(1, f) +
                                         "' (use i, s, m or -)");
            }
        }
        const size_t last = rest.rfind('/');
        if (rest.empty() || rest.front() != '/' || last == 0)
            return Status::error(at(origin, number) + ": the regex must be written /REGEX/");
        if (rest.find_first_not_of(" \t", last + 1) != std::string::npos)
            return Status::error(at(origin, number) + ": text after the closing '/'");
        e.regex = rest.substr(1, last - 1);
        if (e.regex.empty()) return Status::error(at(origin, number) + ": empty regex");
        // Hyperscan takes each expression as a C string: a NUL would end the
        // regex early and the rest would silently not be matched.
        if (e.regex.find('\0') != std::string::npos)
            return Status::error(at(origin, number) + ": NUL byte in the regex (write a NUL to match as \\x00)");
        for (const auto& other : out)
            if (other.id == e.id)
                return Status::error(at(origin, number) + ": id " + id_text + " already used on line " +
                                     std::to_string(other.line));
        out.push_back(std::move(e));
    }
    return {};
}

namespace {

std::atomic<unsigned> database_builds{0};

unsigned group_index(PatternClass k) {
    switch (k) {
        case PatternClass::kSuspicious: return 1;  // kScanText
        case PatternClass::kPing: return 2;        // kScanPing
        default: return 0;                         // kScanCore
    }
}

// Everything compile() hands to Hyperscan, as text: the cache key
// (PatternCache), so that a cached database is used only for exactly the
// compile it came from.
std::string compile_key(const std::vector<PatternEntry>& entries) {
    std::string key = std::string("hyperscan ") + hs_version() + "\nmode block\n";
    for (unsigned i = 0; i < entries.size(); ++i) {
        const PatternEntry& e = entries[i];
        key += std::to_string(i) + " group " + std::to_string(group_index(e.klass)) + " flags " +
               std::to_string(e.flags) + " regex " + std::to_string(e.regex.size()) + ":" + e.regex + "\n";
    }
    return key;
}

}  // namespace

static_assert(PatternCache::kGroups == PatternDatabases::kGroups, "one cached database per scan group");

PatternDatabases::~PatternDatabases() {
    for (auto& db : databases_)
        if (db != nullptr) hs_free_database(db);
}

unsigned PatternDatabases::builds() noexcept { return database_builds.load(std::memory_order_relaxed); }

flowgen::Status PatternDatabases::load_file(const std::string& path, const std::string& cache_dir,
                                            std::shared_ptr<const PatternDatabases>& out) {
    std::string text;
    if (auto s = flowgen::read_bounded_file("patterns", path, kMaxPatternFileBytes, text); !s) return s;
    std::vector<PatternEntry> entries;
    if (auto s = parse_patterns(text, path, entries); !s) return s.prefix("patterns");
    if (entries.empty()) return flowgen::Status::error("patterns " + path + ": no patterns in the file");

    const PatternCache cache(cache_dir);
    const std::string key = compile_key(entries);
    unsigned groups = 0;
    for (const auto& e : entries) groups |= 1u << group_index(e.klass);
    hs_database* cached[kGroups];
    if (cache.load(key, groups, cached)) {
        std::shared_ptr<PatternDatabases> built(new PatternDatabases);
        built->entries_ = std::move(entries);
        for (unsigned g = 0; g < kGroups; ++g) built->databases_[g] = cached[g];
        database_builds.fetch_add(1, std::memory_order_relaxed);
        out = std::move(built);
        return {};
    }
    std::shared_ptr<const PatternDatabases> compiled;
    if (auto s = compile(std::move(entries), path, compiled); !s) return s;
    if (auto s = cache.store(key, compiled->databases_); !s) {
        // Not fatal: the next start compiles again. Said once per process.
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            std::fprintf(stderr, "echoflow: pattern cache %s: %s (patterns compile at every start)\n",
                         cache_dir.c_str(), s.message().c_str());
    }
    out = std::move(compiled);
    return {};
}

flowgen::Status PatternDatabases::compile(std::vector<PatternEntry> entries, const std::string& origin,
                                          std::shared_ptr<const PatternDatabases>& out) {
    std::shared_ptr<PatternDatabases> built(new PatternDatabases);
    built->entries_ = std::move(entries);
    const std::vector<PatternEntry>& all = built->entries_;
    for (unsigned g = 0; g < kGroups; ++g) {
        std::vector<const char*> expressions;
        std::vector<unsigned> flags, ids;
        for (unsigned i = 0; i < all.size(); ++i) {
            if (group_index(all[i].klass) != g) continue;
            expressions.push_back(all[i].regex.c_str());
            flags.push_back(all[i].flags);
            ids.push_back(i);
        }
        if (expressions.empty()) continue;
        hs_compile_error_t* error = nullptr;
        if (hs_compile_multi(expressions.data(), flags.data(), ids.data(), static_cast<unsigned>(expressions.size()),
                             HS_MODE_BLOCK, nullptr, &built->databases_[g], &error) != HS_SUCCESS) {
            std::string where = origin;
            if (error != nullptr && error->expression >= 0 && static_cast<size_t>(error->expression) < ids.size())
                where = at(origin, all[ids[error->expression]].line);
            std::string message =
                "patterns " + where + ": " + (error != nullptr ? error->message : "compile failed");
            hs_free_compile_error(error);
            built->databases_[g] = nullptr;
            return flowgen::Status::error(message);  // `built` frees the groups compiled so far
        }
    }
    database_builds.fetch_add(1, std::memory_order_relaxed);
    out = std::move(built);
    return {};
}

const char* PatternDatabases::name_of(uint16_t id) const noexcept {
    if (id == 0) return nullptr;
    for (const auto& e : entries_)
        if (e.id == id) return e.name.c_str();
    return nullptr;
}

PatternSet::~PatternSet() { release(); }

PatternSet::PatternSet(PatternSet&& other) noexcept { *this = std::move(other); }

PatternSet& PatternSet::operator=(PatternSet&& other) noexcept {
    if (this != &other) {
        release();
        databases_ = std::move(other.databases_);
        scratch_ = std::exchange(other.scratch_, nullptr);
        error_counter_ = std::exchange(other.error_counter_, nullptr);
        own_errors_ = other.own_errors_;
    }
    return *this;
}

void PatternSet::release() noexcept {
    if (scratch_ != nullptr) hs_free_scratch(scratch_);
    scratch_ = nullptr;
    databases_.reset();
}

flowgen::Status PatternSet::use(std::shared_ptr<const PatternDatabases> databases) {
    release();
    if (!databases) return {};
    // One scratch, grown to fit every database (Hyperscan allows this); it
    // is allocated (and first written) by the calling thread: the worker's
    // lcore, so that it lies on that lcore's NUMA node.
    for (unsigned g = 0; g < PatternDatabases::kGroups; ++g) {
        if (databases->database(g) == nullptr) continue;
        if (hs_alloc_scratch(databases->database(g), &scratch_) != HS_SUCCESS) {
            release();
            return flowgen::Status::error("patterns: hs_alloc_scratch failed");
        }
    }
    databases_ = std::move(databases);
    return {};
}

flowgen::Status PatternSet::load_file(const std::string& path, const std::string& cache_dir) {
    release();
    std::shared_ptr<const PatternDatabases> built;
    if (auto s = PatternDatabases::load_file(path, cache_dir, built); !s) return s;
    return use(std::move(built));
}

flowgen::Status PatternSet::compile(std::vector<PatternEntry> entries, const std::string& origin) {
    release();
    std::shared_ptr<const PatternDatabases> built;
    if (auto s = PatternDatabases::compile(std::move(entries), origin, built); !s) return s;
    return use(std::move(built));
}

bool PatternSet::scan(Bytes data, ContentHits& hits, unsigned groups) const noexcept {
    if (data.empty() || !databases_) return true;
    ScanContext ctx{&databases_->entries(), &hits};
    bool ok = true;
    for (unsigned g = 0; g < PatternDatabases::kGroups; ++g) {
        const hs_database* db = databases_->database(g);
        if (!(groups & (1u << g)) || db == nullptr) continue;
        const hs_error_t rc = hs_scan(db, reinterpret_cast<const char*>(data.data()),
                                      static_cast<unsigned>(data.size()), 0, scratch_, on_match, &ctx);
        if (__builtin_expect(rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED, 0)) {
            // HS_INVALID, HS_NOMEM, HS_SCRATCH_IN_USE...: this group's
            // patterns went unmatched. Counted, never silent.
            (error_counter_ ? *error_counter_ : own_errors_).add();
            ok = false;
        }
        if (hits.tunnel_id != 0) break;  // nothing else can change the verdict
    }
    return ok;
}

}  // namespace detect
