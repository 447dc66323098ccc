#include "probe/eal_init.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string_view>

namespace probe {

namespace {

// The EAL's output during init is a few kilobytes; more is not read back.
constexpr size_t kMaxEalOutput = 256 * 1024;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// fd 1 and 2 redirected into an anonymous file for the lifetime of the
// object. A file, not a pipe: nothing reads while the EAL writes, and a pipe
// would block it once full.
class OutputCapture {
public:
    OutputCapture() {
        std::fflush(stdout);
        std::fflush(stderr);
        fd_ = ::memfd_create("echoflow-eal-init", MFD_CLOEXEC);
        if (fd_ < 0) return;  // then the EAL writes where it always did
        saved_out_ = ::dup(STDOUT_FILENO);
        saved_err_ = ::dup(STDERR_FILENO);
        if (saved_out_ < 0 || saved_err_ < 0 || ::dup2(fd_, STDOUT_FILENO) < 0 || ::dup2(fd_, STDERR_FILENO) < 0)
            restore();
    }
    ~OutputCapture() {
        restore();
        if (fd_ >= 0) ::close(fd_);
    }
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;

    // Puts stdout and stderr back; returns what was written meanwhile.
    std::string finish() {
        restore();
        std::string text;
        if (fd_ < 0) return text;
        char buffer[4096];
        for (off_t at = 0; text.size() < kMaxEalOutput;) {
            const ssize_t n = ::pread(fd_, buffer, sizeof buffer, at);
            if (n <= 0) break;
            text.append(buffer, static_cast<size_t>(n));
            at += n;
        }
        return text;
    }

private:
    void restore() {
        std::fflush(stdout);  // the EAL's usage text is printf'd: still in stdio's buffer
        std::fflush(stderr);
        if (saved_out_ >= 0) ::dup2(saved_out_, STDOUT_FILENO), ::close(saved_out_);
        if (saved_err_ >= 0) ::dup2(saved_err_, STDERR_FILENO), ::close(saved_err_);
        saved_out_ = saved_err_ = -1;
    }
    int fd_ = -1;
    int saved_out_ = -1;
    int saved_err_ = -1;
};

// From the EAL's output of a failed init, the line that says what is wrong:
// the first line that is not start-up chatter ("EAL: Detected ...") or the
// closing "Invalid 'command line' arguments", without the "PROGRAM: "
// prefix getopt puts in front.
std::string eal_failure_line(const std::string& output, const std::string& argv0) {
    std::string_view rest = output;
    std::string_view fallback;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
        if (line.empty()) continue;
        // Where the usage text starts, nothing more names the problem.
        if (starts_with(line, "Usage:")) break;
        if (starts_with(line, "EAL: Detected ") || starts_with(line, "EAL: Invalid 'command line'") ||
            starts_with(line, "EAL: FATAL: Invalid 'command line'"))
            continue;
        if (!argv0.empty() && starts_with(line, argv0 + ": ")) line.remove_prefix(argv0.size() + 2);
        if (starts_with(line, "EAL: FATAL: ")) {
            if (fallback.empty()) fallback = line.substr(5);
            continue;
        }
        if (starts_with(line, "EAL: ")) line.remove_prefix(5);
        return std::string(line);
    }
    return std::string(fallback);
}

}  // namespace

EalInitResult init_eal(std::vector<char*>& argv) {
    EalInitResult result;
    OutputCapture capture;
    const int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
    const int error = rte_errno;
    const std::string output = capture.finish();
    if (rc >= 0) {
        // Success: the EAL's notes go where they would have gone.
        if (!output.empty()) std::fwrite(output.data(), 1, output.size(), stderr);
        return result;
    }
    // DPDK 22.11 rte_eal_init: a rejected command line is this alert, with
    // rte_errno EINVAL; any other failure is the
    // machine's (hugepages, devices, permissions).
    result.usage_error = output.find("Invalid 'command line' arguments") != std::string::npos;
    const std::string detail = eal_failure_line(output, argv.empty() || !argv[0] ? "" : argv[0]);
    const std::string cause = std::string("rte_eal_init: ") + rte_strerror(error);
    if (result.usage_error)
        result.status = flowgen::Status::error("EAL options: " + (detail.empty() ? cause : detail));
    else
        result.status = flowgen::Status::error("EAL: " + cause + (detail.empty() ? "" : ": " + detail));
    return result;
}

}  // namespace probe
