// Compiled pattern databases kept on disk between runs.
//
// Compiling the bundled pattern file takes ~50 ms (hs_compile_multi; the
// bounded repeats of the shell-text patterns cost most), paid once at
// every start (PatternDatabases): a seventh of `echoflow --pcap` on a 3M-packet
// capture (docs/performance.md), and all of it for a run over a small one.
// Hyperscan serialises compiled databases for exactly this
// (hs_serialize_database; "Serialization" in its developer reference), and
// hs_deserialize_database checks the Hyperscan version, the CPU platform and
// a CRC of the bytecode.
//
// The caller describes everything it hands to the compiler (`key`: every
// expression with its flags, id and group, the mode, hs_version()). A cache
// file is named by a hash of the key and carries the key itself, compared
// byte for byte on load: a database is only ever used for exactly the
// compile it came from, whatever changes in the pattern file or in echoflow.
//
// The directory and its files must belong to the effective user and be
// writable by nobody else (a database is code for the matcher); files are
// opened relative to the directory, without following links. A missing
// directory is created (0700) only under a parent the user owns. Anything
// else leaves the cache unused, with one warning: it is never needed for
// correctness, a miss compiles. Files of other keys not used (loaded or
// written) for 30 days and
// temporary files left by a killed run are removed when a database is stored.
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

    // The file name (in the directory) of the databases compiled for `key`.
    static std::string file_name(std::string_view key);

    // Fills dbs[g] for every group g whose bit is set in `groups` from the
    // cache file of `key`. False on a miss or any failure (then every dbs[g]
    // is nullptr).
    bool load(std::string_view key, unsigned groups, hs_database* dbs[kGroups]) const;

    // Writes the databases (nullptr: group absent) for `key`, atomically (a
    // temporary file renamed into place). An error says why nothing was
    // written; the caller warns and goes on.
    flowgen::Status store(std::string_view key, hs_database* const dbs[kGroups]) const;

    // The default directory: $CACHE_DIRECTORY (systemd's CacheDirectory=);
    // else /var/cache/echoflow for root (whose $HOME may be another user's,
    // under sudo); else $XDG_CACHE_HOME/echoflow or $HOME/.cache/echoflow;
    // else "" (no cache).
    static std::string default_dir();

private:
    // The directory, opened (O_DIRECTORY | O_NOFOLLOW) and checked; created
    // first when `create` and it is missing. Returns the fd, or -1 with `why`.
    int open_dir(bool create, std::string& why) const;

    std::string dir_;
};

}  // namespace detect
