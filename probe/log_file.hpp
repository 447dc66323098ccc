// An append-only JSON Lines file (--alerts, --conversations) that logrotate
// can rotate: reopen() after SIGHUP closes the descriptor and opens the path
// again, so the probe writes to the new file once logrotate has moved the
// old one away (logrotate's "create" mode; no copytruncate needed).
//
// The lines carry payload-derived data (sizes, entropy, fingerprints): files
// are created with mode 0640 (less if the umask says so), and an existing
// file with wider permissions is narrowed to 0640 when opened.
//
// Used by the exporter thread only (lines_lost() may be read by any
// thread); no allocation per write.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "flowgen/relaxed_counter.hpp"
#include "flowgen/status.hpp"

namespace probe {

class LogFile {
public:
    LogFile() = default;
    ~LogFile();
    LogFile(const LogFile&) = delete;
    LogFile& operator=(const LogFile&) = delete;

    // "-" writes to standard output (never closed, never reopened).
    // `what` names the file in errors: "conversations /var/log/x: Permission denied".
    flowgen::Status open(const std::string& path, const char* what);

    // Closes and opens the path again (after a rotation). On failure the
    // file stays closed (writes are counted as lost) and the error names it.
    flowgen::Status reopen();

    // Appends one line (newline included). Buffered: flush() makes it visible.
    void write(std::string_view line) noexcept;
    void flush() noexcept;
    void close() noexcept;

    bool is_open() const noexcept { return file_ != nullptr; }
    // A path was given: lines are wanted, written or counted as lost.
    bool enabled() const noexcept { return !path_.empty(); }
    // Lines that could not be written (closed after a failed reopen, write error).
    uint64_t lines_lost() const noexcept { return lines_lost_.get(); }
    const char* what() const noexcept { return what_; }
    const std::string& path() const noexcept { return path_; }

private:
    flowgen::Status open_path();

    std::string path_;
    const char* what_ = "log";
    std::FILE* file_ = nullptr;
    bool owned_ = false;
    flowgen::RelaxedCounter lines_lost_;  // written by the exporter thread only
};

}  // namespace probe
