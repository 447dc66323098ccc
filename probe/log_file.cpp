#include "probe/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace probe {

namespace {
constexpr mode_t kLogMode = 0640;
}

LogFile::~LogFile() { close(); }

flowgen::Status LogFile::open(const std::string& path, const char* what) {
    close();
    path_ = path;
    what_ = what;
    if (path == "-") {
        file_ = stdout;
        owned_ = false;
        return {};
    }
    return open_path();
}

flowgen::Status LogFile::open_path() {
    const auto fail = [this](const char* step) {
        return flowgen::Status::error(std::string(what_) + " " + path_ + ": " + step + std::strerror(errno));
    };
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, kLogMode);
    if (fd < 0) return fail("");
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return fail("fstat: ");
    }
    // A file that existed with wider permissions: narrow it (regular files
    // only: a FIFO or /dev/stdout is the operator's choice).
    if (S_ISREG(st.st_mode) && (st.st_mode & 07777 & ~kLogMode) != 0 && fchmod(fd, st.st_mode & kLogMode) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return fail("chmod: ");
    }
    file_ = fdopen(fd, "a");
    if (file_ == nullptr) {
        const int e = errno;
        ::close(fd);
        errno = e;
        return fail("");
    }
    owned_ = true;
    return {};
}

flowgen::Status LogFile::reopen() {
    if (path_.empty() || path_ == "-") return {};
    if (owned_ && file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    owned_ = false;
    return open_path();
}

void LogFile::write(std::string_view line) noexcept {
    if (file_ == nullptr || std::fwrite(line.data(), 1, line.size(), file_) != line.size()) lines_lost_.add();
}

void LogFile::flush() noexcept {
    if (file_ != nullptr) std::fflush(file_);
}

void LogFile::close() noexcept {
    if (file_ == nullptr) return;
    if (owned_)
        std::fclose(file_);
    else
        std::fflush(file_);
    file_ = nullptr;
    owned_ = false;
}

}  // namespace probe
