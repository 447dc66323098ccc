// Compiled pattern databases kept on disk between runs.
//
// Compiling the bundled pattern file takes ~50 ms (hs_compile_multi; the
// bounded repeats of the shell-text patterns cost most), paid by every
// worker at every start: a seventh of `echoflow --pcap` on a 3M-packet
// capture (docs/performance.md), and all of it for a run over a small one.
// Hyperscan serialises compiled databases for exactly this
// (hs_serialize_database; "Serialization" in its developer reference), and
// hs_deserialize_database checks the Hyperscan version, the CPU platform and
// a CRC of the bytecode: a stale or damaged file is refused and recompiled.
//
// A cache file is named by a hash of the pattern file's bytes and the
// Hyperscan version, so an edited pattern file never meets an old database.
// The directory and its files must belong to the effective user and be
// writable by nobody else (a database is code for the matcher): anything
// else is ignored with a warning, as is a directory that cannot be written.
// Nothing here is required for correctness: a miss compiles.
#pragma once

#include <string>
#include <string_view>

#include "flowgen/status.hpp"

struct hs_database;

namespace detect {

class PatternCache {
public:
    static constexpr unsigned kGroups = 3;

    // `dir` empty: disabled (load() misses, store() does nothing).
    explicit PatternCache(std::string dir) : dir_(std::move(dir)) {}

    // The cache file for a pattern file with this text.
    std::string path_for(std::string_view pattern_text) const;

    // Fills dbs[g] for every group g whose bit is set in `groups` from the
    // cache file of `pattern_text`. False on a miss or any failure (then
    // every dbs[g] is nullptr).
    bool load(std::string_view pattern_text, unsigned groups, hs_database* dbs[kGroups]) const;

    // Writes the databases (nullptr: group absent) for `pattern_text`,
    // atomically (a temporary file renamed into place). An error says why
    // nothing was written; the caller warns and goes on.
    flowgen::Status store(std::string_view pattern_text, hs_database* const dbs[kGroups]) const;

    // The default directory: $CACHE_DIRECTORY (systemd's CacheDirectory=),
    // else $XDG_CACHE_HOME/echoflow, else $HOME/.cache/echoflow, else "".
    static std::string default_dir();

private:
    // Creates dir_ (mode 0700) if missing and checks who owns it.
    flowgen::Status usable_dir() const;

    std::string dir_;
};

}  // namespace detect
